import type { MessageStructureObject } from 'imapflow';
import { describe, expect, it } from 'vitest';
import { hasAttachment, messageParts } from './structure.js';

const leaf = (part: string, type: string, extra: Partial<MessageStructureObject> = {}): MessageStructureObject => ({ part, type, size: 100, ...extra });
const multi = (type: string, childNodes: MessageStructureObject[], part?: string): MessageStructureObject => ({ type, childNodes, ...(part ? { part } : {}) });

describe('messageParts', () => {
  it('a single text part is the body (the root is part 1)', () => {
    const p = messageParts({ type: 'text/plain', size: 10 });
    expect(p.text?.part).toBe('1');
    expect(p.html).toBeNull();
    expect(p.attachments).toEqual([]);
  });

  it('alternative + related + mixed: text, HTML, inline image, attachment', () => {
    const root = multi('multipart/mixed', [
      multi(
        'multipart/alternative',
        [leaf('1.1', 'text/plain'), multi('multipart/related', [leaf('1.2.1', 'text/html'), leaf('1.2.2', 'image/png', { id: '<logo@x>' })], '1.2')],
        '1',
      ),
      leaf('2', 'application/pdf', { disposition: 'attachment', dispositionParameters: { filename: 'report.pdf' } }),
    ]);
    const p = messageParts(root);
    expect(p.text?.part).toBe('1.1');
    expect(p.html?.part).toBe('1.2.1');
    expect(p.related.get('logo@x')?.part).toBe('1.2.2');
    expect(p.attachments.map((a) => [a.part, a.filename])).toEqual([['2', 'report.pdf']]);
    expect(hasAttachment(root)).toBe(true);
  });

  it('a named text part, a second text part and an attached message are attachments', () => {
    const p = messageParts(
      multi('multipart/mixed', [
        leaf('1', 'text/plain'),
        leaf('2', 'text/plain', { parameters: { name: 'notes.txt' } }),
        leaf('3', 'text/plain'),
        leaf('4', 'message/rfc822', { envelope: { subject: 'Fwd me' } }),
      ]),
    );
    expect(p.text?.part).toBe('1');
    expect(p.attachments.map((a) => a.filename)).toEqual(['notes.txt', 'part-3.txt', 'Fwd me.eml']);
  });

  it('Content-ID images are listed when there is no HTML to show them', () => {
    const p = messageParts(multi('multipart/related', [leaf('1', 'text/plain'), leaf('2', 'image/jpeg', { id: '<a@b>' })]));
    expect(p.attachments.map((a) => a.part)).toEqual(['2']);
  });

  it('file names cannot carry paths or control characters', () => {
    const p = messageParts(
      multi('multipart/mixed', [
        leaf('1', 'text/plain'),
        leaf('2', 'application/octet-stream', { disposition: 'attachment', dispositionParameters: { filename: '../../etc/pass\nwd' } }),
      ]),
    );
    expect(p.attachments[0]?.filename).toBe('.._.._etc_pass_wd');
  });
});
