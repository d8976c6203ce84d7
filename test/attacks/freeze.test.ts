/**
 * Attack: one request that holds the delivery agent's thread, freezing every other user
 * (issue 14, part A). While each attack runs, a bystander (another user: an IMAP NOOP, a POP3
 * STAT and an LMTP delivery, each in a loop, lib/bystander.ts) must be answered within
 * BYSTANDER_BOUND_MS, and the attack itself must end (stored, or refused with a protocol error).
 *
 * - A message to port 25 whose MIME header parsing was quadratic: 1,000,000 colon-less lines
 *   (2.9 MB; 18-21 s to its 250, bystanders stalled 16-18 s before the fix), base64
 *   message/rfc822 nested 24 deep (18.6 MB; stalls of 33-47 s), and other 24 MB shapes over
 *   LMTP. Each is stored byte for byte.
 * - LIST "" "%%%...%Z": 50 wildcards were a backtracking regular expression (31-34 s).
 * - SEARCH with 490 `NOT HEADER X-Qn zz` keys over 20 messages with 250 KB headers (17-36 s),
 *   and about 990 keys (NO [SERVERBUG]).
 * The bounds are generous (the machine running the tests is shared; see BYSTANDER_BOUND_BIG_MS
 * for what is left of a big message's cost); the figures are printed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFullInstance, type FullInstance } from './lib/full-instance.js';
import { Talk } from '@postern/testkit';
import { formatStalls, watched, type BystanderUser } from './lib/bystander.js';

/** What a bystander may wait for one answer while an attack runs. */
const BYSTANDER_BOUND_MS = 500;
/**
 * The same while a message of 18-24 MB is stored: its parsing is off the session thread now,
 * but its store commit is not (SHA-256, about a hundred 256 KB chunk rows and the fsync of
 * synchronous=FULL, in better-sqlite3's synchronous API: 150 ms on an idle machine, 300-870 ms
 * measured on a loaded one). Moving the store's writes to a thread of their own is the store's
 * business (issue 16); this bound keeps the parse from ever coming back (minutes before).
 */
const BYSTANDER_BOUND_BIG_MS = 1_500;
const MB = 1024 * 1024;
/** Keys allowed in one SEARCH on this instance: the 490-key attack must run, not be refused. */
const SEARCH_KEYS = 1000;

let a: FullInstance;
const bob: BystanderUser = { address: 'bob@a.test', password: 'bob-password' };

beforeAll(async () => {
  a = await createFullInstance({ domain: 'a.test', users: { alice: 'alice-password', bob: 'bob-password' } });
  await a.start({ limits: { imap_search_keys: SEARCH_KEYS } });
});

afterAll(async () => {
  await a?.stop();
});

/** One SMTP/LMTP transaction on a raw socket; returns the reply to the data. */
async function send(port: number, lmtp: boolean, message: Buffer): Promise<string> {
  const t = await Talk.open(port, { keep: 64 * 1024 });
  try {
    await t.smtpReply();
    expect(await t.smtp(`${lmtp ? 'LHLO' : 'EHLO'} attacker.example`)).toMatch(/^250/);
    expect(await t.smtp('MAIL FROM:<attacker@outside.example>')).toMatch(/^250/);
    expect(await t.smtp('RCPT TO:<alice@a.test>')).toMatch(/^250/);
    expect(await t.smtp('DATA')).toMatch(/^354/);
    // no line of these messages starts with "." (no dot-stuffing needed)
    for (let off = 0; off < message.length; off += MB) await t.write(message.subarray(off, off + MB));
    await t.write('.\r\n');
    return await t.smtpReply(180_000);
  } finally {
    t.close();
  }
}

async function storedWhole(marker: string, message: Buffer): Promise<void> {
  const m = a.db();
  const user = m.accounts.findUser('alice@a.test')!;
  const needle = Buffer.from(marker);
  // INBOX, or Junk if the MX's checks sent it there
  const stored: Buffer[] = [];
  for (const box of await m.store.listMailboxes(user.id)) for (const r of await m.store.messages(box.id)) stored.push(m.store.read(r));
  const found = stored.find((raw) => raw.indexOf(needle) !== -1 && raw.indexOf(needle) < 64 * 1024);
  expect(found, `${marker} stored`).toBeDefined();
  // byte for byte, after the fields the MX and the delivery agent prepend
  expect(found!.subarray(found!.length - message.length).equals(message)).toBe(true);
}

function nestedBase64Rfc822(depth: number, inner: string): string {
  let m = inner;
  for (let i = 0; i < depth; i++) {
    const b64 = Buffer.from(m, 'latin1').toString('base64').replace(/.{76}/g, '$&\r\n');
    m = `Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n${b64}\r\n`;
  }
  return m;
}

const fill = (unit: string, bytes: number): string => unit.repeat(Math.floor(bytes / unit.length));

const MESSAGES: ReadonlyArray<[string, 'smtp' | 'lmtp', () => string]> = [
  ['1,000,000 colon-less lines (2.9 MB) to port 25', 'smtp', () => `Subject: lines\r\n${'x\r\n'.repeat(1_000_000)}\r\nbody\r\n`],
  // inner size chosen so that 24 levels of base64 make about 18.6 MB
  [
    'base64 message/rfc822 nested 24 deep (18.6 MB) to port 25',
    'smtp',
    () => `Subject: nest\r\nMIME-Version: 1.0\r\n${nestedBase64Rfc822(24, `Subject: inner\r\n\r\n${fill('x\r\n', 10_500)}`)}`,
  ],
  ['24 MB of one-character lines over LMTP', 'lmtp', () => `Subject: one-char\r\n${fill('x\r\n', 24 * MB)}`],
  ['24 MB of header fields over LMTP', 'lmtp', () => `${fill('X-F: v\r\n', 24 * MB)}\r\nbody\r\n`],
  ['24 MB of "--b" lines after 1,000 parts over LMTP', 'lmtp', () => `Content-Type: multipart/mixed; boundary=b\r\n\r\n${fill('--b\r\n', 24 * MB)}--b--\r\n`],
  ['24 MB folded Subject over LMTP', 'lmtp', () => `Subject: ${fill('=?utf-8?B?w6k=?=\r\n ', 24 * MB)}x\r\n\r\nbody\r\n`],
];

describe('no message freezes the delivery agent', () => {
  it.each(MESSAGES)('%s: stored whole; bystanders keep being served', async (name, via, build) => {
    const marker = `X-Case: ${name}`;
    const message = Buffer.from(`From: attacker@outside.example\r\n${marker}\r\n${build()}`, 'latin1');
    const port = via === 'smtp' ? a.ports.smtp : a.ports.lmtp;
    const { result, stalls, ms } = await watched(a, bob, () => send(port, via === 'lmtp', message));
    console.log(formatStalls(`${name} (${(message.length / MB).toFixed(1)} MB), reply after ${ms.toFixed(0)} ms`, stalls));
    expect(result).toMatch(/^250 /);
    storedWhole(marker, message);
    a.assertHealthy('delivery');
    const bound = message.length > 8 * MB ? BYSTANDER_BOUND_BIG_MS : BYSTANDER_BOUND_MS;
    expect(stalls.worst, formatStalls(name, stalls)).toBeLessThan(bound);
  });
});

async function imapLogin(): Promise<{ t: Talk; cmd: (line: string, timeoutMs?: number) => Promise<string> }> {
  const t = await Talk.open(a.retrieval.imap, { keep: 16 * MB });
  await t.until(/^\* OK.*\r\n/m);
  let n = 0;
  const cmd = async (line: string, timeoutMs = 180_000): Promise<string> => {
    const tag = `x${++n}`;
    await t.write(`${tag} ${line}\r\n`);
    return t.until(new RegExp(`^${tag} (?:OK|NO|BAD)[^\\r\\n]*\\r\\n`, 'm'), timeoutMs);
  };
  expect(await cmd('LOGIN alice@a.test alice-password')).toMatch(/OK/);
  return { t, cmd };
}

describe('LIST patterns are matched in linear time', () => {
  it.each([50, 40, 500])('LIST of %i wildcards and a Z over the six folders', async (n) => {
    const { t, cmd } = await imapLogin();
    try {
      const { result, stalls, ms } = await watched(a, bob, () => cmd(`LIST "" "${'%'.repeat(n)}Z"`));
      console.log(formatStalls(`LIST with ${n} wildcards, answered after ${ms.toFixed(0)} ms`, stalls));
      expect(result).toMatch(/^x2 OK/m);
      expect(result).not.toMatch(/^\* LIST/m);
      expect(stalls.worst).toBeLessThan(BYSTANDER_BOUND_MS);
      // and the matcher still matches
      expect(await cmd('LIST "" "%%%"')).toMatch(/^\* LIST \([^)]*\) "\/" "?Sent"?\r\n/m);
      expect(await cmd('LIST "" "*%*%T*%*h"')).toMatch(/^\* LIST \([^)]*\) "\/" "?Trash"?\r\n/m);
    } finally {
      t.close();
    }
  });

  it('a pattern longer than 1024 characters: NO [LIMIT]', async () => {
    const { t, cmd } = await imapLogin();
    try {
      expect(await cmd(`LIST "" "${'%a'.repeat(600)}"`)).toMatch(/^x2 NO \[LIMIT\]/m);
      expect(await cmd(`LSUB "${'*'.repeat(600)}" "${'*'.repeat(600)}"`)).toMatch(/^x3 NO \[LIMIT\]/m);
    } finally {
      t.close();
    }
  });
});

describe('SEARCH on unindexed header fields', () => {
  beforeAll(async () => {
    // 20 messages with 250 KB headers: anyone can mail them
    const pad = `X-Pad: ${'p'.repeat(900)}\r\n`.repeat(Math.floor((250 * 1024) / 908));
    for (let i = 0; i < 20; i++) {
      const message = Buffer.from(`From: attacker@outside.example\r\nSubject: wide header ${i}\r\nX-Q${i}: needle${i}\r\n${pad}\r\nbody ${i}\r\n`);
      expect(await send(a.ports.lmtp, true, message)).toMatch(/^250 /);
    }
    // and 20 whose 250 KB headers are one-character lines (87,000 "fields" each), or 32,000 X-Q1 fields
    for (let i = 0; i < 20; i++) {
      const filler = i % 2 === 0 ? 'x\r\n'.repeat(85_000) : 'X-Q1: y\r\n'.repeat(28_000);
      const message = Buffer.from(`From: attacker@outside.example\r\nSubject: many lines ${i}\r\n${filler}\r\nbody ${i}\r\n`);
      expect(await send(a.ports.lmtp, true, message)).toMatch(/^250 /);
    }
    await a.waitForSearchIndex(60_000);
  });

  const keys = (n: number): string => Array.from({ length: n }, (_, i) => `NOT HEADER X-Q${i} zz`).join(' ');

  it('490 NOT HEADER keys: each header parsed once; bystanders keep being served', async () => {
    const { t, cmd } = await imapLogin();
    try {
      expect(await cmd('SELECT INBOX')).toMatch(/OK/);
      const { result, stalls, ms } = await watched(a, bob, () => cmd(`UID SEARCH ${keys(490)}`));
      console.log(
        formatStalls(`SEARCH with 490 NOT HEADER keys over ${(await a.messages('alice@a.test')).length} messages, answered after ${ms.toFixed(0)} ms`, stalls),
      );
      expect(result).toMatch(/^x3 OK/m);
      // every message matches (none has "zz" in an X-Qn field)
      const found = /^\* SEARCH([\d ]*)\r\n/m.exec(result)![1]!.trim().split(' ');
      expect(found.length).toBe((await a.messages('alice@a.test')).length);
      expect(stalls.worst).toBeLessThan(BYSTANDER_BOUND_MS);
      // and HEADER still finds what it should
      const hit = await cmd('SEARCH HEADER X-Q7 needle7 HEADER Subject "wide header 7" NOT HEADER X-Q8 needle');
      expect(/^\* SEARCH([\d ]*)\r\n/m.exec(hit)![1]!.trim().split(' ').filter(Boolean).length).toBe(1);
    } finally {
      t.close();
    }
  });

  it(`more than limits.imap_search_keys (${SEARCH_KEYS}) keys: NO [LIMIT], not SERVERBUG`, async () => {
    const { t, cmd } = await imapLogin();
    try {
      expect(await cmd('SELECT INBOX')).toMatch(/OK/);
      const r = await cmd(`SEARCH ${keys(990)}`);
      expect(r).toMatch(/^x3 NO \[LIMIT\] SEARCH with 1980 keys/m);
      expect(await cmd('NOOP')).toMatch(/^x4 OK/m);
    } finally {
      t.close();
    }
  });
});
