/**
 * Fuzzing MIME through the whole delivery path: fast-check builds MIME-shaped messages (nested
 * multiparts, message/rfc822, encodings, broken boundaries, odd headers), delivers each over
 * LMTP, and reads it back over IMAP: BODYSTRUCTURE, ENVELOPE, every section the structure
 * names, and the whole message, which must be byte for byte what was delivered. The parser
 * itself is property-tested in packages/mime; this checks the store and the IMAP server that
 * serve its results. Failures go to the corpus (see lib/session-fuzz.ts).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFullInstance, type FullInstance } from '../attacks/lib/full-instance.js';
import { Talk } from '@postern/testkit';
import { corpus, saveToCorpus, SCALE, SEED } from './lib/session-fuzz.js';

let a: FullInstance;

beforeAll(async () => {
  a = await createFullInstance({ domain: 'a.test', users: { alice: 'alice-password' } });
  await a.start();
});

afterAll(async () => {
  await a?.stop();
});

const headerLine = fc.oneof(
  fc.constantFrom(
    'Content-Type: multipart/mixed; boundary="b1"',
    'Content-Type: multipart/alternative; boundary=b2',
    'Content-Type: multipart/related; boundary="b1"; type="text/html"',
    'Content-Type: message/rfc822',
    'Content-Type: message/global',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Type: text/html; charset="iso-8859-1"',
    'Content-Type: application/octet-stream; name="a.bin"',
    'Content-Type: multipart/digest; boundary=b2',
    'Content-Type: ',
    'Content-Type: multipart/mixed',
    'Content-Transfer-Encoding: base64',
    'Content-Transfer-Encoding: quoted-printable',
    'Content-Transfer-Encoding: x-uuencode',
    'Content-Transfer-Encoding: 8bit',
    "Content-Disposition: attachment; filename*=utf-8''%E2%82%AC.txt",
    'Content-Disposition: inline',
    'Content-ID: <c1@x>',
    'Content-Language: en, fr',
    'Subject: =?utf-8?B?w6lzdMOp?= plain',
    'Subject: =?iso-2022-jp?B?GyRCJDMbKEI=?=',
    'From: "A, B" <a@b.example>, group: c@d.example;',
    'To: undisclosed-recipients:;',
    'Date: Tue, 31 Feb 2024 25:61:61 +9999',
    'Message-ID: <<>>',
    'In-Reply-To: <a@b> <c@d>',
    'Sender: <>',
    'X-Long: ' + 'x'.repeat(900),
  ),
  fc.string({ maxLength: 40 }).map((s) => `X-Noise: ${s.replace(/[\r\n]/g, ' ')}`),
);
const bodyLine = fc.oneof(
  fc.constantFrom(
    '--b1',
    '--b1--',
    '--b2',
    '--b2--',
    '--b1 ',
    '--',
    '',
    '.',
    '..',
    'QUJDRA==',
    '=C3=A9=',
    '=',
    '=XY',
    'begin 644 x',
    '\u00e9t\u00e9',
    '<p>x</p>',
  ),
  fc.string({ maxLength: 60 }).map((s) => s.replace(/[\r\n]/g, ' ')),
);
/** A message: header lines, an empty line, then lines that may open more headers (parts). */
const mimeMessage = fc
  .tuple(fc.array(headerLine, { maxLength: 8 }), fc.array(fc.oneof(bodyLine, headerLine, fc.constant('')), { maxLength: 60 }), fc.constantFrom('\r\n', '\n'))
  // (lines may end in bare LF, but the message ends in CRLF: the CRLF before the final "." is the
  // last line's own, RFC 5321 §4.1.1.4, so a message ending otherwise cannot be sent as it is)
  .map(([head, body, nl]) => Buffer.from(`${[...head, '', ...body].join(nl)}\r\n`, 'utf8'));

async function lmtpDeliver(message: Buffer): Promise<string> {
  const t = await Talk.open(a.ports.lmtp);
  try {
    await t.smtpReply();
    await t.smtp('LHLO fuzz.example');
    await t.smtp('MAIL FROM:<fuzz@outside.example>');
    await t.smtp('RCPT TO:<alice@a.test>');
    await t.smtp('DATA');
    // dot-stuffing (RFC 5321 §4.5.2) over CRLF and bare-LF lines alike
    const stuffed = message.toString('latin1').replace(/(^|\n)\./g, '$1..');
    await t.write(Buffer.from(`${stuffed}.\r\n`, 'latin1'));
    return await t.smtpReply(30_000);
  } finally {
    t.close();
  }
}

/** Section numbers named in a BODYSTRUCTURE response, roughly: 1, 1.1, 2 ... up to a bound. */
function sections(depth: number, count: number): string[] {
  const out: string[] = [];
  for (let i = 1; i <= count; i++) {
    out.push(String(i));
    for (let j = 1; j <= depth; j++) out.push(`${i}.${j}`);
  }
  return out;
}

async function check(message: Buffer): Promise<string | null> {
  const reply = await lmtpDeliver(message);
  if (!reply.startsWith('250')) return `LMTP: ${reply}`;
  if (a.pid('delivery') === null) return `delivery died: ${a.logs('delivery').slice(-2000)}`;
  const stored = await a.messages('alice@a.test');
  const last = stored[stored.length - 1]!;
  const t = await Talk.open(a.retrieval.imap, { keep: 16 * 1024 * 1024 });
  try {
    await t.until(/^\* OK.*\r\n/m);
    let n = 0;
    const cmd = async (line: string): Promise<string> => {
      const tag = `f${++n}`;
      await t.write(`${tag} ${line}\r\n`);
      return t.until(new RegExp(`^${tag} (?:OK|NO|BAD)[^\\r\\n]*\\r\\n`, 'm'), 20_000);
    };
    await cmd('LOGIN alice@a.test alice-password');
    await cmd('SELECT INBOX');
    const s = await cmd(`UID FETCH ${last.uid} (BODYSTRUCTURE ENVELOPE BODY RFC822.SIZE)`);
    if (!/ OK /.test(s.split('\r\n').at(-2) ?? '')) return `FETCH BODYSTRUCTURE: ${s.slice(-300)}`;
    for (const sec of sections(2, 3)) {
      const r = await cmd(`UID FETCH ${last.uid} (BODY.PEEK[${sec}] BODY.PEEK[${sec}.MIME] BINARY.PEEK[${sec}] BINARY.SIZE[${sec}])`);
      if (!/ (OK|NO) /.test(r.split('\r\n').at(-2) ?? '')) return `FETCH [${sec}]: ${r.slice(-300)}`;
    }
    const whole = await cmd(`UID FETCH ${last.uid} (BODY.PEEK[])`);
    // the literal holds the stored message: our two prepended fields, then exactly what was sent
    const m = /BODY\[\] \{(\d+)\}\r\n/.exec(whole);
    if (!m) return `FETCH BODY[]: ${whole.slice(0, 300)}`;
    const start = m.index + m[0].length;
    const literal = Buffer.from(whole.slice(start, start + Number(m[1])), 'latin1');
    if (!literal.subarray(literal.length - message.length).equals(message)) return 'BODY[] differs from what was delivered';
    await cmd('LOGOUT');
  } finally {
    t.close();
  }
  return a.pid('delivery') === null ? 'delivery died' : null;
}

describe('fuzzing MIME through LMTP delivery and IMAP', () => {
  it(
    'stores every message whole and serves every section',
    async () => {
      for (const bytes of corpus('mime-delivery')) {
        const why = await check(bytes);
        if (why) throw new Error(`corpus input: ${why}`);
      }
      let lastWhy = '';
      const result = await fc.check(
        fc.asyncProperty(mimeMessage, async (msg) => {
          // the known smtp-server bug below, apart so that the rest keeps being checked
          fc.pre(!msg.toString('latin1').startsWith('\n.'));
          const why = await check(msg);
          if (why) lastWhy = why;
          return why === null;
        }),
        { numRuns: 30 * SCALE, seed: SEED },
      );
      if (result.failed) {
        const file = saveToCorpus('mime-delivery', result.counterexample?.[0] ?? Buffer.alloc(0));
        throw new Error(`${lastWhy}\ninput saved to ${file}\n${fc.defaultReportMessage(result) ?? ''}`.slice(0, 5000));
      }
      expect(a.memory('delivery').rss).toBeLessThan(400 * 1024 * 1024);
    },
    120_000 * SCALE,
  );

  // Found by this fuzzer (seed 99): smtp-server 3.21.6 removes an escape dot only when it finds
  // it at index >= 2 of the data it scans (lib/smtp-stream.js _feedDataStream starts at i = 2),
  // so data that begins with a bare LF and then a dot-stuffed line ("\n..\r\n") is stored with
  // the escape dot still in it: one byte more than was sent. CRLF mail cannot hit this (the
  // dot is then at index 2). Upstream library; kept here as the failing case until it is fixed.
  it.fails('keeps a message that starts with a bare LF and a "." line byte for byte (smtp-server bug)', async () => {
    expect(await check(Buffer.from('\n.\r\n', 'latin1'))).toBeNull();
  });
});
