/**
 * Attacks on the POP3 server (RFC 1939) and on both retrieval servers' output: a line bomb,
 * a flood of pipelined commands, and a client that asks for big messages and never reads the
 * answer (the server must apply backpressure, not buffer the mailbox in memory).
 */
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFullInstance, type FullInstance } from './lib/full-instance.js';
import { Talk } from '@postern/testkit';

let a: FullInstance;
const MB = 1024 * 1024;

beforeAll(async () => {
  a = await createFullInstance({ domain: 'a.test', users: { alice: 'alice-password' } });
  await a.start({ limits: { message_size: 12 * MB } });
  const t = nodemailer.createTransport({ host: '127.0.0.1', port: a.ports.smtp, ignoreTLS: true });
  // five messages of 8 MB: 40 MB a slow reader would like us to hold for it
  const body = `${'b'.repeat(998)}\r\n`.repeat(8 * 1024);
  for (let i = 0; i < 5; i++) await t.sendMail({ envelope: { from: 's@outside.example', to: ['alice@a.test'] }, raw: `Subject: big ${i}\r\n\r\n${body}` });
  t.close();
  await a.waitForMessages('alice@a.test', 5, 30_000);
  await a.waitForSearchIndex();
});

afterAll(async () => {
  await a?.stop();
});

const rss = (): number => a.memory('delivery').rss;

async function pop3Login(keep = 1024 * 1024): Promise<Talk> {
  const t = await Talk.open(a.retrieval.pop3, { keep });
  await t.until(/^\+OK.*\r\n/m);
  await t.write('USER alice@a.test\r\nPASS alice-password\r\n');
  await t.until(/^\+OK.*\r\n/m);
  const r = await t.until(/^[+-].*\r\n/m);
  expect(r).toMatch(/^\+OK/);
  return t;
}

describe('POP3 bombs', () => {
  it('a 10 MB line: refused without keeping it, the server stays up', async () => {
    const before = rss();
    const t = await Talk.open(a.retrieval.pop3);
    await t.until(/^\+OK.*\r\n/m);
    const piece = Buffer.alloc(64 * 1024, 'u');
    await t.write('USER ');
    for (let i = 0; i < 160 && !t.closed; i++) await t.write(piece);
    await t.write('\r\n');
    await t.settle(() => /^-ERR/m.test(t.all), 10_000);
    expect(t.all).toMatch(/-ERR/);
    t.close();
    expect(rss() - before).toBeLessThan(32 * MB);
    const u = await pop3Login();
    u.close();
  });

  it('100,000 pipelined commands: answered in order, memory bounded', async () => {
    // (before login the server hangs up after a few bad commands; NOOP is a TRANSACTION command)
    const t = await pop3Login(8 * MB);
    t.all = '';
    const before = rss();
    await t.write('NOOP\r\n'.repeat(100_000));
    await t.write('RSET\r\nQUIT\r\n');
    expect(await t.waitClosed(30_000)).toBe(true);
    // every NOOP, the RSET and the QUIT answered +OK
    expect((t.all.match(/^\+OK\b/gm) ?? []).length).toBe(100_002);
    expect(rss() - before).toBeLessThan(64 * MB);
  });
});

describe('a client that never reads', () => {
  it('POP3: RETR of 40 MB into a socket nobody reads does not grow the server by 40 MB', async () => {
    const before = rss();
    const t = await pop3Login();
    t.socket.pause(); // read nothing from now on
    await t.write('RETR 1\r\nRETR 2\r\nRETR 3\r\nRETR 4\r\nRETR 5\r\n');
    await new Promise((r) => setTimeout(r, 1500));
    const growth = rss() - before;
    t.close();
    expect(growth, `grew ${(growth / MB).toFixed(1)} MB`).toBeLessThan(24 * MB);
  });

  it('IMAP: FETCH of 40 MB into a socket nobody reads does not grow the server by 40 MB', async () => {
    const before = rss();
    const t = await Talk.open(a.retrieval.imap);
    await t.until(/^\* OK.*\r\n/m);
    await t.write('a LOGIN alice@a.test alice-password\r\nb SELECT INBOX\r\n');
    await t.until(/^b OK.*\r\n/m);
    t.socket.pause();
    await t.write('c FETCH 1:* (BODY.PEEK[])\r\nd FETCH 1:* (BODY.PEEK[])\r\n');
    await new Promise((r) => setTimeout(r, 1500));
    const growth = rss() - before;
    t.close();
    expect(growth, `grew ${(growth / MB).toFixed(1)} MB`).toBeLessThan(24 * MB);
    a.assertHealthy('delivery');
  });
});
