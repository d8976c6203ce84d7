import { describe, expect, it } from 'vitest';
import { simpleParser } from 'mailparser';
import type { MessageDetail } from './account.js';
import { AddressListError, buildMessage, forwardDraft, parseAddressList, quote, recipients, replyDraft, threadHeaders } from './compose.js';
import { htmlToText } from '@postern/mime';

function detail(over: Partial<MessageDetail> = {}): MessageDetail {
  return {
    uid: 7,
    seq: 7,
    flags: [],
    from: [{ name: 'Ann', address: 'ann@x.test' }],
    to: [
      { name: '', address: 'me@y.test' },
      { name: 'Bob', address: 'bob@z.test' },
    ],
    cc: [
      { name: '', address: 'carol@z.test' },
      { name: '', address: 'ME@y.test' },
    ],
    bcc: [],
    replyTo: [],
    subject: 'Lunch',
    date: new Date('2025-01-02T03:04:05Z'),
    size: 100,
    hasAttachment: false,
    messageId: '<m2@x.test>',
    inReplyTo: '<m1@x.test>',
    references: '<m0@x.test> <m1@x.test>',
    parts: { text: null, html: null, attachments: [], related: new Map() },
    ...over,
  };
}

describe('threading', () => {
  it('References = parent References + parent Message-ID; In-Reply-To = parent', () => {
    expect(threadHeaders(detail())).toEqual({ inReplyTo: '<m2@x.test>', references: '<m0@x.test> <m1@x.test> <m2@x.test>' });
    expect(threadHeaders(detail({ references: '' }))).toEqual({ inReplyTo: '<m2@x.test>', references: '<m1@x.test> <m2@x.test>' });
    expect(threadHeaders(detail({ references: '', inReplyTo: '' }))).toEqual({ inReplyTo: '<m2@x.test>', references: '<m2@x.test>' });
  });

  it('reply goes to Reply-To or From, reply-all adds To and Cc without me', () => {
    const r = replyDraft(detail(), 'hello\n> earlier', false, 'me@y.test');
    expect(r.to).toBe('Ann <ann@x.test>');
    expect(r.cc).toBe('');
    expect(r.subject).toBe('Re: Lunch');
    expect(r.body).toContain('Ann wrote:\n> hello\n>> earlier');
    const all = replyDraft(detail(), 'hi', true, 'me@y.test');
    expect(all.to).toBe('Ann <ann@x.test>, Bob <bob@z.test>');
    expect(all.cc).toBe('carol@z.test');
    expect(replyDraft(detail({ replyTo: [{ name: '', address: 'list@x.test' }], subject: 'Re: Lunch' }), '', false, 'me@y.test')).toMatchObject({
      to: 'list@x.test',
      subject: 'Re: Lunch',
    });
  });

  it('forward keeps the original in the body and a Fwd: subject', () => {
    const f = forwardDraft(detail(), 'the text');
    expect(f.subject).toBe('Fwd: Lunch');
    expect(f.to).toBe('');
    expect(f.body).toContain('From: Ann <ann@x.test>');
    expect(f.body).toContain('the text');
  });
});

describe('buildMessage', () => {
  it('builds a message with attachment and threading headers, Bcc only on the stored copy', async () => {
    const d = {
      to: 'Ann <ann@x.test>',
      cc: '',
      bcc: 'hidden@z.test',
      subject: 'Héllo',
      body: 'line 1\nline 2',
      inReplyTo: '<m2@x.test>',
      references: '<m1@x.test> <m2@x.test>',
    };
    const bytes = Buffer.from([0, 1, 2, 3, 250, 251, 252, 253, 254, 255]);
    const opts = {
      from: 'me@y.test',
      messageId: '<id1@y.test>',
      date: new Date('2025-01-01T00:00:00Z'),
      attachments: [{ filename: 'data.bin', contentType: 'application/octet-stream', content: bytes }],
    };
    const wire = await simpleParser(await buildMessage(d, { ...opts, keepBcc: false }));
    expect(wire.subject).toBe('Héllo');
    expect(wire.inReplyTo).toBe('<m2@x.test>');
    expect(wire.references).toEqual(['<m1@x.test>', '<m2@x.test>']);
    expect(wire.messageId).toBe('<id1@y.test>');
    expect(wire.bcc).toBeUndefined();
    expect(wire.text?.trim()).toBe('line 1\nline 2');
    expect(wire.attachments[0]?.content.equals(bytes)).toBe(true);
    const stored = await simpleParser(await buildMessage(d, { ...opts, keepBcc: true }));
    expect(JSON.stringify(stored.bcc)).toContain('hidden@z.test');
    expect(recipients(d)).toEqual(['ann@x.test', 'hidden@z.test']);
  });

  it('refuses a recipient that is not an address, naming it', () => {
    expect(() => parseAddressList('ann@x.test, not an address', 'To')).toThrow(AddressListError);
    expect(() => parseAddressList('ann@x.test, not an address', 'To')).toThrow(/not an address/);
    expect(parseAddressList('"Doe, John" <jd@x.test>, b@y.test', 'To')).toEqual([
      { name: 'Doe, John', address: 'jd@x.test' },
      { name: '', address: 'b@y.test' },
    ]);
    expect(parseAddressList('  ', 'Cc')).toEqual([]);
  });
});

describe('text', () => {
  it('quotes line by line', () => {
    expect(quote('a\r\n\r\nb\n')).toBe('> a\n> \n> b');
  });
  it('turns HTML into readable text', () => {
    expect(
      htmlToText('<html><head><style>p{}</style></head><body><p>Hi &amp; bye</p><div>two<br>three</div><script>x</script></body></html>', undefined, 'reading'),
    ).toBe('Hi & bye\n\ntwo\nthree');
  });
});
