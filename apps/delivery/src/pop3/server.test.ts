/**
 * Conversation tests: the POP3 server on 127.0.0.1 port 0 over a temp mail.db, driven by a raw
 * socket for exact replies and bad input.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Talk } from '@postern/testkit';
import { createFixture, login, PASSWORD, connect, type Fixture } from './__tests__/fixture.js';
import type { Pop3Server } from './index.js';

const ALICE = 'alice@example.test';
const BOB = 'bob@example.test';
const CAROL = 'carol@example.test';
const DAVE = 'dave@example.test';
const ERIN = 'erin@example.test';

const plain = (s: string): string => Buffer.from(s).toString('base64');

let fx: Fixture;
let server: Pop3Server;
let tlsServer: Pop3Server;

beforeAll(async () => {
  fx = await createFixture([ALICE, BOB, CAROL, DAVE, ERIN]);
  server = await fx.start();
  tlsServer = await fx.start({ implicitTls: true });
});

afterAll(async () => {
  await fx.cleanup();
});

describe('POP3 before TLS', () => {
  it('greets, offers STLS but no login in CAPA, and refuses logins with [AUTH]', async () => {
    const c = await connect(server.port);
    expect(await c.line()).toBe('+OK Postern POP3 server ready');
    expect(await c.pop3('CAPA')).toBe('+OK Capability list follows');
    const caps = await c.pop3Lines();
    expect(caps).toContain('STLS');
    expect(caps).toContain('RESP-CODES');
    expect(caps).toContain('PIPELINING');
    expect(caps).not.toContain('USER');
    expect(caps.some((l) => l.startsWith('SASL'))).toBe(false);
    expect(await c.pop3(`USER ${ALICE}`)).toBe('-ERR [AUTH] TLS required: use STLS first');
    expect(await c.pop3(`PASS ${PASSWORD}`)).toBe('-ERR [AUTH] TLS required: use STLS first');
    expect(await c.pop3(`AUTH PLAIN ${plain(`\0${ALICE}\0${PASSWORD}`)}`)).toBe('-ERR [AUTH] TLS required: use STLS first');
    expect(await c.pop3('AUTH PLAIN')).toBe('-ERR [AUTH] TLS required: use STLS first');
    expect(await c.pop3('QUIT')).toBe('+OK Postern POP3 server signing off');
    await c.waitClosed();
  });

  it('answers unknown commands, wrong states and bad arguments with -ERR', async () => {
    const c = await connect(server.port);
    await c.line();
    expect(await c.pop3('HELO there')).toBe('-ERR unknown command');
    expect(await c.pop3('GET / HTTP/1.1')).toBe('-ERR unknown command');
    expect(await c.pop3('')).toBe('-ERR unknown command');
    expect(await c.pop3('STAT')).toBe('-ERR STAT is not valid in this state');
    expect(await c.pop3('RETR 1')).toBe('-ERR RETR is not valid in this state');
    expect(await c.pop3('RETR')).toBe('-ERR RETR is not valid in this state');
    expect(await c.pop3('CAPA now')).toBe('-ERR CAPA takes no arguments');
    // Still alive after all that.
    expect(await c.pop3('CAPA')).toBe('+OK Capability list follows');
    await c.pop3Lines();
    c.close();
  });

  it('refuses a too-long line, keeps going, and closes after too many bad commands', async () => {
    const c = await connect(server.port);
    await c.line();
    // 10 MB without a line end: answered once as soon as the limit is passed, the rest dropped.
    c.send(Buffer.alloc(10 * 1024 * 1024, 0x41));
    expect(await c.line()).toBe('-ERR line too long');
    c.send(Buffer.from('\r\n'));
    expect(await c.pop3('CAPA')).toBe('+OK Capability list follows');
    await c.pop3Lines();
    const replies: string[] = [];
    for (let i = 0; i < 8; i++) replies.push(await c.pop3('BOGUS'));
    expect(replies.every((r) => r === '-ERR unknown command')).toBe(true);
    expect(await c.pop3('BOGUS')).toBe('-ERR unknown command; too many bad commands, closing');
    await c.waitClosed();
    expect(c.closed).toBe(true);
  });

  it('ignores commands pipelined before the TLS handshake (RFC 2595)', async () => {
    const c = await connect(server.port);
    await c.line();
    c.send('STLS\r\nUSER injected\r\n'.replace(/\r\n$/, ''));
    expect(await c.line()).toBe('+OK Begin TLS negotiation');
    await c.upgrade();
    // Had "USER injected" been kept, PASS would not answer "send USER first".
    expect(await c.pop3(`PASS ${PASSWORD}`)).toBe('-ERR send USER first');
    c.close();
  });
  it('completes STLS after a long pipelined burst that paused reading', async () => {
    const c = await connect(server.port);
    await c.line();
    // STLS first, then a burst that fills the queue: reading is paused when STLS is handled.
    c.send(Buffer.from(`STLS\r\n${'CAPA\r\n'.repeat(200)}`));
    expect(await c.line()).toBe('+OK Begin TLS negotiation');
    await c.upgrade();
    expect(await c.pop3('CAPA')).toBe('+OK Capability list follows');
    expect(await c.pop3Lines()).toContain('USER');
    c.close();
  });
});

describe('POP3 after TLS', () => {
  it('lists USER and SASL (SCRAM with -PLUS, PLAIN) in CAPA after STLS, and refuses a second STLS', async () => {
    const c = await connect(server.port);
    await c.line();
    expect(await c.pop3('STLS')).toBe('+OK Begin TLS negotiation');
    await c.upgrade();
    expect(await c.pop3('CAPA')).toBe('+OK Capability list follows');
    const caps = await c.pop3Lines();
    expect(caps).toEqual([
      'TOP',
      'UIDL',
      'RESP-CODES',
      'AUTH-RESP-CODE',
      'PIPELINING',
      'EXPIRE NEVER',
      'IMPLEMENTATION Postern',
      'USER',
      'SASL SCRAM-SHA-256-PLUS SCRAM-SHA-256 PLAIN',
    ]);
    expect(await c.pop3('STLS')).toBe('-ERR already using TLS');
    expect(await c.pop3('AUTH')).toBe('+OK SASL mechanisms follow');
    expect(await c.pop3Lines()).toEqual(['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256', 'PLAIN']);
    c.close();
  });

  it('logs in with AUTH PLAIN, with an initial response and in the continuation form', async () => {
    await fx.deliver(BOB, 'Subject: one\r\n\r\nbody\r\n');
    const a = await connect(tlsServer.port, true);
    await a.line();
    expect(await a.pop3(`AUTH PLAIN ${plain(`\0${BOB}\0${PASSWORD}`)}`)).toMatch(/^\+OK maildrop has 1 messages \(\d+ octets\)$/);
    expect(await a.pop3('QUIT')).toBe('+OK Postern POP3 server signing off (1 messages left)');
    await a.waitClosed();

    const b = await connect(tlsServer.port, true);
    await b.line();
    expect(await b.pop3('AUTH PLAIN')).toBe('+ ');
    expect(await b.pop3('*')).toBe('-ERR authentication cancelled');
    expect(await b.pop3('AUTH PLAIN')).toBe('+ ');
    expect(await b.pop3('not base64!')).toBe('-ERR invalid base64');
    expect(await b.pop3('AUTH CRAM-MD5')).toBe('-ERR unsupported SASL mechanism CRAM-MD5');
    expect(await b.pop3('AUTH PLAIN')).toBe('+ ');
    expect(await b.pop3(plain(`${BOB}\0${BOB}\0${PASSWORD}`))).toMatch(/^\+OK maildrop has 1 messages/);
    expect(await b.pop3('CAPA')).toBe('+OK Capability list follows');
    expect(await b.pop3Lines()).not.toContain('USER');
    b.close();
  });

  it('throttles failed logins and says [AUTH], then [LOGIN-DELAY] once locked', async () => {
    const d = await connect(tlsServer.port, true);
    await d.line();
    for (let i = 0; i < 3; i++) {
      expect(await d.pop3(`USER ${DAVE}`)).toBe('+OK send PASS');
      expect(await d.pop3('PASS wrong password')).toBe('-ERR [AUTH] invalid user name or password');
    }
    await d.pop3(`USER ${DAVE}`);
    // Locked: even the right password is refused without being checked.
    expect(await d.pop3(`PASS ${PASSWORD}`)).toBe('-ERR [LOGIN-DELAY] too many failed logins, try again later');
    expect(await d.pop3(`AUTH PLAIN ${plain(`\0${DAVE}\0${PASSWORD}`)}`)).toBe('-ERR [LOGIN-DELAY] too many failed logins, try again later');
    expect(await d.pop3(`AUTH PLAIN ${plain(`other\0${ALICE}\0${PASSWORD}`)}`)).toBe('-ERR authorization identity not allowed');
    d.close();
  });

  it('keeps one POP3 session per maildrop: the second gets [IN-USE]', async () => {
    const first = await login(server.port, CAROL);
    const second = await connect(tlsServer.port, true);
    await second.line();
    await second.pop3(`USER ${CAROL}`);
    expect(await second.pop3(`PASS ${PASSWORD}`)).toBe('-ERR [IN-USE] maildrop is locked by another POP3 session');
    expect(await first.pop3('QUIT')).toMatch(/^\+OK/);
    await first.waitClosed();
    await second.pop3(`USER ${CAROL}`);
    expect(await second.pop3(`PASS ${PASSWORD}`)).toMatch(/^\+OK maildrop has/);
    second.close();
  });
});

describe('POP3 transaction', () => {
  it('answers STAT, LIST, UIDL, RETR, TOP, DELE, RSET exactly and pipelined', async () => {
    const m1 = 'Subject: first\r\nFrom: a@b.c\r\n\r\nline one\r\n.starts with a dot\r\n..two dots\r\n.\r\nlast\r\n';
    // Bare LF in a stored message goes out as CRLF; an unterminated last line gets one.
    const m2 = 'Subject: second\n\nbody 1\nbody 2\nbody 3';
    const u1 = await fx.deliver(ERIN, m1, 'Return-Path: <a@b.c>\r\n');
    const u2 = await fx.deliver(ERIN, m2);
    const s1 = Buffer.byteLength(m1) + Buffer.byteLength('Return-Path: <a@b.c>\r\n');
    const s2 = Buffer.byteLength(m2);
    const uidValidity = (await fx.mail.store.mailbox(fx.mail.accounts.findUser(ERIN)!.id, 'INBOX'))!.uidValidity;
    const c = await login(server.port, ERIN);

    // RFC 2449 PIPELINING: several commands in one write, answered in order.
    c.send(Buffer.from('STAT\r\nLIST\r\nUIDL\r\nLIST 2\r\nUIDL 1\r\nNOOP\r\n'));
    expect(await c.line()).toBe(`+OK 2 ${s1 + s2}`);
    expect(await c.line()).toBe(`+OK 2 messages (${s1 + s2} octets)`);
    expect(await c.pop3Lines()).toEqual([`1 ${s1}`, `2 ${s2}`]);
    expect(await c.line()).toBe('+OK');
    expect(await c.pop3Lines()).toEqual([`1 ${uidValidity}.${u1}`, `2 ${uidValidity}.${u2}`]);
    expect(await c.line()).toBe(`+OK 2 ${s2}`);
    expect(await c.line()).toBe(`+OK 1 ${uidValidity}.${u1}`);
    expect(await c.line()).toBe('+OK');

    expect(await c.pop3('RETR 1')).toBe(`+OK ${s1} octets`);
    expect((await c.pop3Block()).toString()).toBe(
      'Return-Path: <a@b.c>\r\nSubject: first\r\nFrom: a@b.c\r\n\r\nline one\r\n..starts with a dot\r\n...two dots\r\n..\r\nlast\r\n.\r\n',
    );
    expect(await c.pop3('RETR 2')).toBe(`+OK ${s2} octets`);
    expect((await c.pop3Block()).toString()).toBe('Subject: second\r\n\r\nbody 1\r\nbody 2\r\nbody 3\r\n.\r\n');
    expect(await c.pop3('TOP 2 0')).toBe('+OK top of message follows');
    expect((await c.pop3Block()).toString()).toBe('Subject: second\r\n\r\n.\r\n');
    expect(await c.pop3('TOP 1 2')).toBe('+OK top of message follows');
    expect((await c.pop3Block()).toString()).toBe('Return-Path: <a@b.c>\r\nSubject: first\r\nFrom: a@b.c\r\n\r\nline one\r\n..starts with a dot\r\n.\r\n');
    expect(await c.pop3('TOP 2 100')).toBe('+OK top of message follows');
    expect((await c.pop3Block()).toString()).toBe('Subject: second\r\n\r\nbody 1\r\nbody 2\r\nbody 3\r\n.\r\n');

    expect(await c.pop3('RETR 3')).toBe('-ERR no such message');
    expect(await c.pop3('RETR 0')).toBe('-ERR no such message');
    expect(await c.pop3('RETR -1')).toBe('-ERR RETR takes a message number');
    expect(await c.pop3('TOP 1')).toBe('-ERR TOP takes a message number and a number of lines');
    expect(await c.pop3('USER x')).toBe('-ERR USER is not valid in this state');
    expect(await c.pop3('STLS')).toBe('-ERR STLS is not valid in this state');

    expect(await c.pop3('DELE 1')).toBe('+OK message 1 deleted');
    expect(await c.pop3('DELE 1')).toBe('-ERR message 1 already deleted');
    expect(await c.pop3('RETR 1')).toBe('-ERR message 1 already deleted');
    expect(await c.pop3('STAT')).toBe(`+OK 1 ${s2}`);
    expect(await c.pop3('LIST')).toBe(`+OK 1 messages (${s2} octets)`);
    expect(await c.pop3Lines()).toEqual([`2 ${s2}`]);
    expect(await c.pop3('RSET')).toBe(`+OK maildrop has 2 messages (${s1 + s2} octets)`);
    expect(await c.pop3('DELE 2')).toBe('+OK message 2 deleted');
    // Nothing is deleted before QUIT.
    expect(await fx.inboxUids(ERIN)).toEqual([u1, u2]);
    expect(await c.pop3('QUIT')).toBe('+OK Postern POP3 server signing off (1 messages left)');
    await c.waitClosed();
    expect(await fx.inboxUids(ERIN)).toEqual([u1]);

    // UIDL is stable: the next session gives message u1 the same id.
    const again = await login(server.port, ERIN);
    expect(await again.pop3('UIDL 1')).toBe(`+OK 1 ${uidValidity}.${u1}`);
    expect(await again.pop3('DELE 1')).toBe('+OK message 1 deleted');
    expect(await again.pop3('QUIT')).toMatch(/^\+OK/);
    await again.waitClosed();
    expect(await fx.inboxUids(ERIN)).toEqual([]);
  });

  it('deletes nothing when the connection drops, and releases the maildrop', async () => {
    const uid = await fx.deliver(ALICE, 'Subject: keep me\r\n\r\nplease\r\n');
    const before = await fx.inboxUids(ALICE);
    const c = await login(server.port, ALICE);
    for (let i = 1; i <= before.length; i++) expect(await c.pop3(`DELE ${i}`)).toBe(`+OK message ${i} deleted`);
    c.close();
    // The lock is released once the server has seen the close: a new session gets in.
    let next: Talk | null = null;
    for (let attempt = 0; attempt < 50 && !next; attempt++) {
      next = await login(server.port, ALICE).catch(async () => {
        await new Promise((r) => setTimeout(r, 20));
        return null;
      });
    }
    expect(next).not.toBeNull();
    expect(await fx.inboxUids(ALICE)).toEqual(before);
    expect(before).toContain(uid);
    next!.close();
  });

  it('does not keep the maildrop locked when the client leaves during PASS', async () => {
    const c = await connect(tlsServer.port, true);
    await c.line();
    c.send(`USER ${ALICE}\r\nPASS ${PASSWORD}`);
    c.close();
    let next: Talk | null = null;
    let last = '';
    for (let attempt = 0; attempt < 50 && !next; attempt++) {
      next = await login(server.port, ALICE).catch(async (e: Error) => {
        last = e.message;
        await new Promise((r) => setTimeout(r, 20));
        return null;
      });
    }
    expect(last === '' || last.includes('IN-USE')).toBe(true);
    expect(next).not.toBeNull();
    next!.close();
  });

  it('shows the INBOX as at login, and answers -ERR for a message IMAP expunged meanwhile', async () => {
    const user = fx.mail.accounts.findUser(ALICE)!;
    const inbox = (await fx.mail.store.mailbox(user.id, 'INBOX'))!;
    const gone = await fx.deliver(ALICE, 'Subject: expunged elsewhere\r\n\r\nx\r\n');
    const c = await login(server.port, ALICE);
    const stat = await c.pop3('STAT');
    const count = Number(stat.split(' ')[1]);
    await fx.deliver(ALICE, 'Subject: arrives during the session\r\n\r\ny\r\n');
    expect(await c.pop3('STAT')).toBe(stat);
    // Another session (IMAP) flags and expunges the last message of our snapshot.
    await fx.mail.store.deleteMessages(inbox.id, [gone]);
    expect(await c.pop3(`RETR ${count}`)).toBe(`-ERR message ${count} was removed by another session`);
    expect(await c.pop3(`DELE ${count}`)).toBe(`+OK message ${count} deleted`);
    expect(await c.pop3('QUIT')).toMatch(/^\+OK/);
    await c.waitClosed();
    const next = await login(server.port, ALICE);
    expect(await next.pop3('STAT')).toMatch(new RegExp(`^\\+OK ${count} `));
    next.close();
  });

  it('streams a large message in store chunks with exact bytes', async () => {
    // ~3 MB over many 256 KiB chunks, with dot lines straddling chunk boundaries.
    const lines: string[] = ['Subject: big', ''];
    for (let i = 0; i < 60_000; i++) lines.push(i % 7 === 0 ? `.dot line ${i}` : `plain line number ${i} ${'x'.repeat(30)}`);
    const body = lines.join('\r\n') + '\r\n';
    await fx.deliver(BOB, body);
    const c = await login(server.port, BOB);
    const count = Number((await c.pop3('STAT')).split(' ')[1]);
    expect(await c.pop3(`RETR ${count}`)).toBe(`+OK ${Buffer.byteLength(body)} octets`);
    const got = (await c.pop3Block()).toString();
    const unstuffed = got
      .slice(0, -3)
      .split('\r\n')
      .map((l) => (l.startsWith('.') ? l.slice(1) : l))
      .join('\r\n');
    expect(unstuffed).toBe(body);
    c.close();
  });
});

describe('POP3 limits and profiles', () => {
  it('allows plaintext login on loopback in the development profile only', async () => {
    const dev = await fx.start({ configOverrides: { profile: 'development' } });
    const c = await connect(dev.port);
    await c.line();
    await c.pop3('CAPA');
    const caps = await c.pop3Lines();
    expect(caps).toContain('USER');
    expect(caps).toContain('STLS');
    expect(await c.pop3(`USER ${BOB}`)).toBe('+OK send PASS');
    expect(await c.pop3(`PASS ${PASSWORD}`)).toMatch(/^\+OK maildrop has/);
    c.close();
  });

  it('refuses connections over the per-IP limit with [SYS/TEMP]', async () => {
    const limited = await fx.start({ configOverrides: { limits: { connections_per_ip: 2 } } });
    const a = await connect(limited.port);
    const b = await connect(limited.port);
    expect(await a.line()).toMatch(/^\+OK/);
    expect(await b.line()).toMatch(/^\+OK/);
    const c = await connect(limited.port);
    expect(await c.line()).toBe('-ERR [SYS/TEMP] too many connections, try again later');
    await c.waitClosed();
    a.close();
    b.close();
  });

  it('logs out an idle client without a reply and without deleting', async () => {
    const quick = await fx.start({ idleTimeoutMs: 200 });
    const before = await fx.inboxUids(BOB);
    const c = await login(quick.port, BOB);
    expect(await c.pop3('DELE 1')).toBe('+OK message 1 deleted');
    await c.waitClosed();
    expect(c.closed).toBe(true);
    expect(await fx.inboxUids(BOB)).toEqual(before);
  });
});
