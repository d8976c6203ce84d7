/**
 * Attack: hostile MIME structure delivered to the delivery agent over LMTP (where no SMTP line
 * limit stands in front of the parser): multiparts nested thousands deep, tens of thousands of
 * parts, message/rfc822 inside message/rfc822, a flood of header fields, a boundary that never
 * closes, a header line of half a megabyte. Delivery must answer (stored whole, or refused),
 * stay up with bounded memory, and IMAP must serve what was stored: BODYSTRUCTURE, deep
 * sections, and the whole message byte for byte.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFullInstance, type FullInstance } from './lib/full-instance.js';
import { Talk } from '@postern/testkit';

let a: FullInstance;
const MB = 1024 * 1024;

beforeAll(async () => {
  a = await createFullInstance({ domain: 'a.test', users: { alice: 'alice-password' } });
  await a.start({ limits: { message_size: 8 * MB } });
});

afterAll(async () => {
  await a?.stop();
});

function nestedMultipart(depth: number): string {
  let open = '';
  let close = '';
  for (let i = 0; i < depth; i++) {
    open += `Content-Type: multipart/mixed; boundary="b${i}"\r\n\r\n--b${i}\r\n`;
    close = `\r\n--b${i}--\r\n${close}`;
  }
  return `${open}Content-Type: text/plain\r\n\r\ninnermost${close}`;
}

function nestedRfc822(depth: number): string {
  let s = 'Subject: innermost\r\n\r\nbottom\r\n';
  for (let i = 0; i < depth; i++) s = `Content-Type: message/rfc822\r\nSubject: level ${i}\r\n\r\n${s}`;
  return s;
}

function manyParts(n: number): string {
  let s = 'Content-Type: multipart/mixed; boundary=b\r\n\r\n';
  for (let i = 0; i < n; i++) s += `--b\r\nContent-Type: text/plain; name="p${i}.txt"\r\n\r\np${i}\r\n`;
  return `${s}--b--\r\n`;
}

const CASES: ReadonlyArray<[string, () => string]> = [
  ['multipart nested 5,000 deep', () => nestedMultipart(5000)],
  ['message/rfc822 nested 5,000 deep', () => nestedRfc822(5000)],
  ['50,000 parts', () => manyParts(50_000)],
  ['100,000 header fields', () => `${'X-Flood: v\r\n'.repeat(100_000)}Subject: flood\r\n\r\nbody\r\n`],
  ['a 512 KB header line', () => `Subject: ${'s'.repeat(512 * 1024)}\r\n\r\nbody\r\n`],
  ['a 512 KB folded To: with 40,000 addresses', () => `To: ${Array.from({ length: 40_000 }, (_, i) => `u${i}@x.example`).join(',\r\n ')}\r\n\r\nbody\r\n`],
  [
    'a boundary that never closes',
    () =>
      `Content-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\nContent-Type: multipart/alternative; boundary=yy\r\n\r\n--yy\r\n${'text\r\n'.repeat(50_000)}`,
  ],
  [
    'a boundary of 70,000 characters',
    () => {
      const b = 'q'.repeat(70_000);
      return `Content-Type: multipart/mixed; boundary="${b}"\r\n\r\n--${b}\r\n\r\nx\r\n--${b}--\r\n`;
    },
  ],
  ['10,000 encoded words in a Subject', () => `Subject: ${'=?utf-8?B?w6k=?= '.repeat(10_000)}\r\n\r\nbody\r\n`],
  [
    'parameter continuations 10,000 long',
    () => `Content-Type: text/plain; ${Array.from({ length: 10_000 }, (_, i) => `name*${i}*=utf-8''%41`).join('; ')}\r\n\r\nbody\r\n`,
  ],
];

/** Delivers over LMTP; returns the reply to the data. */
async function lmtpDeliver(message: string): Promise<string> {
  const t = await Talk.open(a.ports.lmtp);
  try {
    await t.smtpReply();
    await t.smtp('LHLO attacker.example');
    expect(await t.smtp('MAIL FROM:<attacker@outside.example>')).toMatch(/^250/);
    expect(await t.smtp('RCPT TO:<alice@a.test>')).toMatch(/^250/);
    expect(await t.smtp('DATA')).toMatch(/^354/);
    const stuffed = message.replace(/^\./gm, '..');
    await t.write(`${stuffed}${stuffed.endsWith('\r\n') ? '' : '\r\n'}.\r\n`);
    return await t.smtpReply(60_000);
  } finally {
    t.close();
  }
}

async function imapSession(): Promise<{ t: Talk; cmd: (line: string) => Promise<string> }> {
  const t = await Talk.open(a.retrieval.imap, { keep: 64 * MB });
  await t.until(/^\* OK.*\r\n/m);
  let n = 0;
  const cmd = async (line: string): Promise<string> => {
    const tag = `m${++n}`;
    await t.write(`${tag} ${line}\r\n`);
    return t.until(new RegExp(`^${tag} (?:OK|NO|BAD)[^\\r\\n]*\\r\\n`, 'm'), 60_000);
  };
  expect(await cmd('LOGIN alice@a.test alice-password')).toMatch(/OK/);
  expect(await cmd('SELECT INBOX')).toMatch(/OK/);
  return { t, cmd };
}

describe('hostile MIME structure', () => {
  it.each(CASES)('%s: stored whole or refused, served, no crash, bounded memory', async (name, build) => {
    const message = `From: attacker@outside.example\r\nX-Case: ${name}\r\n${build()}`;
    const before = a.memory('delivery').rss;
    const reply = await lmtpDeliver(message);
    expect(reply).toMatch(/^(250|5\d\d) /);
    a.assertHealthy('delivery');
    const growth = a.memory('delivery').rss - before;
    // the message itself is up to a few MB; the parser may not multiply that without bound
    expect(growth, `RSS grew by ${(growth / MB).toFixed(1)} MB`).toBeLessThan(200 * MB);
    if (!reply.startsWith('250')) return;

    const stored = (await a.messages('alice@a.test')).find((m) => m.raw.includes(`X-Case: ${name}\r\n`));
    expect(stored, 'stored').toBeDefined();
    // byte for byte, after the two headers delivery prepends (Return-Path, Delivered-To)
    expect(stored!.raw.endsWith(message.endsWith('\r\n') ? message : `${message}\r\n`)).toBe(true);

    const { t, cmd } = await imapSession();
    try {
      const uid = stored!.uid;
      expect(await cmd(`UID FETCH ${uid} (BODYSTRUCTURE ENVELOPE RFC822.SIZE)`)).toMatch(/OK/);
      expect(await cmd(`UID FETCH ${uid} (BODY.PEEK[${Array.from({ length: 60 }, () => '1').join('.')}] BODY.PEEK[1.MIME] BINARY.PEEK[1])`)).toMatch(
        / (OK|NO|BAD) /,
      );
      expect(await cmd(`UID SEARCH TEXT innermost`)).toMatch(/OK/);
      const whole = await cmd(`UID FETCH ${uid} (BODY.PEEK[])`);
      expect(whole).toMatch(/OK/);
      expect(whole.includes(`X-Case: ${name}`)).toBe(true);
    } finally {
      t.close();
    }
    a.assertHealthy('delivery');
  });
});
