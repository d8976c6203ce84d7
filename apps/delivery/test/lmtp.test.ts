/**
 * LMTP conversations (RFC 2033) with the real server: nodemailer in LMTP mode as the client, a
 * raw socket for exact replies and bad input.
 */
import { createConnection } from 'node:net';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lmtpHarness, type LmtpHarness } from './harness.js';
import { TRACE_HEADROOM } from '@postern/core';

let h: LmtpHarness;
beforeAll(async () => {
  h = await lmtpHarness({ message_size: 30 * 1024 * 1024 }); // 20 MB in base64 is 27 MB
});
afterAll(async () => h.close());

function transport() {
  return nodemailer.createTransport({ host: '127.0.0.1', port: h.lmtp.port, lmtp: true, pool: false });
}

async function inbox(user: string) {
  const u = h.mail.accounts.findUser(user)!;
  const mb = (await h.mail.store.mailbox(u.id, 'INBOX'))!;
  const messages = await h.mail.store.messages(mb.id);
  return { mb, messages, read: (i: number) => h.mail.store.read(messages[i]!) };
}

/** Sends raw LMTP lines and collects every reply line until `until` matches the whole text. */
function converse(lines: string[], until: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(h.lmtp.port, '127.0.0.1');
    let text = '';
    let sent = false;
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no reply matching ${until}; got:\n${text}`));
    }, 10_000);
    sock.on('data', (d) => {
      text += d.toString('latin1');
      if (!sent && text.includes('220 ')) {
        sent = true;
        sock.write(lines.join('\r\n') + '\r\n');
      }
      if (until.test(text)) {
        clearTimeout(timer);
        sock.end();
        resolve(text);
      }
    });
    sock.on('error', reject);
  });
}

describe('LMTP delivery', () => {
  it('answers each recipient on its own: good, unknown, alias', async () => {
    const before = (await inbox('alice@example.org')).messages.length;
    const info = await transport().sendMail({
      envelope: { from: 'sender@remote.test', to: ['alice@example.org', 'nobody@example.org', 'bob@example.org', 'team@example.org'] },
      raw: 'From: sender@remote.test\r\nTo: alice@example.org\r\nSubject: mixed\r\n\r\nhello\r\n',
    });
    expect(info.accepted).toEqual(['alice@example.org', 'bob@example.org', 'team@example.org']);
    expect(info.rejected).toEqual(['nobody@example.org']);
    expect(String(info.rejectedErrors?.[0]?.response)).toMatch(/^550 5\.1\.1 /);
    // alice is reached directly and through the alias: stored once
    const a = await inbox('alice@example.org');
    expect(a.messages.length).toBe(before + 1);
    const text = a.read(a.messages.length - 1).toString();
    expect(text).toMatch(/^Return-Path: <sender@remote\.test>\r\nDelivered-To: alice@example\.org\r\nFrom: sender@remote\.test\r\n/);
    expect(text.endsWith('\r\n\r\nhello\r\n')).toBe(true);
  });

  it('gives exact replies, one per recipient after DATA (raw socket)', async () => {
    const text = await converse(
      [
        'LHLO client.test',
        'MAIL FROM:<s@remote.test>',
        'RCPT TO:<alice@example.org>',
        'RCPT TO:<ghost@example.org>',
        'RCPT TO:<bob@example.org>',
        'DATA',
        'Subject: raw',
        '',
        '..leading dot',
        '.',
        'QUIT',
      ],
      /221 /,
    );
    expect(text).toMatch(/250-.*\r\n(250-.*\r\n)*250 .*\r\n/); // LHLO
    expect(text).toContain('550 5.1.1 <ghost@example.org>: no such user here');
    const after = text.slice(text.indexOf('354'));
    expect(after.match(/^250 2\.0\.0 <(alice|bob)@example\.org> delivered as \w+/gm)?.length).toBe(2);
    const b = await inbox('bob@example.org');
    expect(b.read(b.messages.length - 1).toString()).toMatch(/\r\n\r\n\.leading dot\r\n$/);
  });

  it('refuses bad input with protocol errors', async () => {
    const text = await converse(
      ['HELO old.test', 'LHLO x', 'RCPT TO:<alice@example.org>', 'MAIL FROM:<s@r.test>', 'RCPT TO:<not an address>', 'RCPT TO:<x@other.test>', 'DATA', 'QUIT'],
      /221 /,
    );
    expect(text).toMatch(/^5\d\d .*\r\n/m); // HELO is not LMTP
    expect(text).toMatch(/503 5\.5\.1 /); // RCPT before MAIL
    expect(text).toMatch(/550 5\.1\.1 <x@other\.test>/); // LMTP only delivers locally
    expect(text).toMatch(/503 5\.5\.1 .*\r\n221/); // DATA without recipients
  });

  it('stores a message handed over twice with the same ENVID only once', async () => {
    const before = (await inbox('bob@example.org')).messages.length;
    const lines = ['LHLO transfer.test', 'MAIL FROM:<s@r.test> ENVID=q-once-123', 'RCPT TO:<bob@example.org>', 'DATA', 'Subject: once', '', 'x', '.', 'QUIT'];
    const first = await converse(lines, /221 /);
    const second = await converse(lines, /221 /);
    for (const t of [first, second]) expect(t).toMatch(/^250 2\.0\.0 <bob@example\.org> delivered/m);
    expect((await inbox('bob@example.org')).messages.length).toBe(before + 1);
  });

  it('refuses a message over the size limit for every recipient', async () => {
    const small = await lmtpHarness({ message_size: 1000 });
    try {
      const t = nodemailer.createTransport({ host: '127.0.0.1', port: small.lmtp.port, lmtp: true });
      const info = await t
        // over message_size plus the headroom kept for the fields the MX and submission prepend
        .sendMail({
          envelope: { from: 's@r.test', to: ['alice@example.org', 'bob@example.org'] },
          raw: `Subject: big\r\n\r\n${'x'.repeat(1000 + TRACE_HEADROOM)}\r\n`,
        })
        .catch((e: { response?: string; rejectedErrors?: Array<{ response: string }> }) => e);
      const responses =
        'rejectedErrors' in info && info.rejectedErrors ? info.rejectedErrors.map((e) => e.response) : [String((info as { response?: string }).response)];
      for (const r of responses) expect(r).toMatch(/^552 5\.3\.4 /);
      const u = small.mail.accounts.findUser('alice@example.org')!;
      expect((await small.mail.store.mailbox(u.id, 'INBOX'))!.messages).toBe(0);
    } finally {
      await small.close();
    }
  });

  it('stores malformed MIME, 8-bit and UTF-8 headers byte for byte', async () => {
    const bodies = [
      Buffer.from('Content-Type: multipart/mixed; boundary="never"\r\nSubject: broken\r\n\r\n--wrong\r\nno end\r\n'),
      Buffer.concat([
        Buffer.from('Subject: '),
        Buffer.from([0xe9, 0xe8, 0xff]),
        Buffer.from(' latin1\r\nFrom: =?utf-8?q?J=C3=BCrgen?= <j@r.test>\r\n\r\n'),
        Buffer.from([0x80, 0x81, 0x0d, 0x0a]),
      ]),
      Buffer.from(
        'Subject: Grüße aus Köln ✉\r\nFrom: Jürgen <jürgen@bücher.test>\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nÄÖÜ ß\r\n',
      ),
      Buffer.from('no header separator at all'),
    ];
    for (const raw of bodies) {
      const info = await transport().sendMail({ envelope: { from: 's@r.test', to: ['alice@example.org'] }, raw });
      expect(info.accepted).toEqual(['alice@example.org']);
      const a = await inbox('alice@example.org');
      const stored = a.read(a.messages.length - 1);
      const expected = raw.toString('latin1').endsWith('\r\n') ? raw : Buffer.concat([raw, Buffer.from('\r\n')]);
      expect(stored.subarray(stored.length - expected.length).equals(expected)).toBe(true);
    }
    const a = await inbox('alice@example.org');
    const c = (await h.mail.store.content(a.messages[a.messages.length - 2]!.contentId))!;
    expect(c.subject).toBe('Grüße aus Köln ✉');
  });

  it('stores a 20 MB attachment intact', async () => {
    const payload = Buffer.alloc(20 * 1024 * 1024);
    for (let i = 0; i < payload.length; i += 4) payload.writeUInt32LE((i * 2654435761) >>> 0, i);
    const info = await transport().sendMail({
      envelope: { from: 's@r.test', to: ['bob@example.org'] },
      from: 's@r.test',
      to: 'bob@example.org',
      subject: 'big one',
      text: 'see attachment',
      attachments: [{ filename: 'data.bin', content: payload }],
    });
    expect(info.accepted).toEqual(['bob@example.org']);
    const b = await inbox('bob@example.org');
    const last = b.messages[b.messages.length - 1]!;
    const c = (await h.mail.store.content(last.contentId))!;
    expect(c.hasAttachments).toBe(true);
    const raw = h.mail.store.read(last);
    const b64 = raw
      .toString('latin1')
      .split('\r\n\r\n')
      .find((_part, i, all) => i > 0 && all[i - 1]!.includes('data.bin'));
    expect(Buffer.from(b64!.replace(/\r\n--.*$/s, ''), 'base64').equals(payload)).toBe(true);
  });

  it('keeps UIDs strictly increasing under 100 parallel deliveries', async () => {
    const before = (await inbox('alice@example.org')).mb.uidNext;
    const t = nodemailer.createTransport({ host: '127.0.0.1', port: h.lmtp.port, lmtp: true, pool: true, maxConnections: 20, maxMessages: Infinity });
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        t.sendMail({ envelope: { from: 's@r.test', to: ['alice@example.org'] }, raw: `Subject: parallel ${i}\r\nX-N: ${i}\r\n\r\nbody ${i}\r\n` }),
      ),
    );
    t.close();
    expect(results.every((r) => r.accepted.length === 1)).toBe(true);
    const a = await inbox('alice@example.org');
    const uids = a.messages.map((m) => m.uid).filter((u) => u >= before);
    expect(uids.length).toBe(100);
    for (let i = 1; i < uids.length; i++) expect(uids[i]!).toBeGreaterThan(uids[i - 1]!);
    const seen = new Set(a.messages.filter((m) => m.uid >= before).map((m) => /X-N: (\d+)/.exec(h.mail.store.read(m).toString())?.[1]));
    expect(seen.size).toBe(100);
    expect(a.mb.messages).toBe(a.messages.length);
  });
});
