/**
 * Conversation tests over a raw socket: exact responses, bad input, limits, and two sessions on
 * one mailbox seeing each other's changes in the order RFC 9051 §7.4.1 requires.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Talk } from '@postern/testkit';
import { createFixture, login, message, PASSWORD, connect, type Fixture } from './__tests__/fixture.js';
import type { ImapServer } from './index.js';

const ALICE = 'alice@example.test';
const BOB = 'bob@example.test';
const CAROL = 'carol@example.test';
const DAVE = 'dave@example.test';
const ERIN = 'erin@example.test';

let fx: Fixture;
let server: ImapServer;
let tlsServer: ImapServer;

const plain = (s: string): string => Buffer.from(s).toString('base64');
const last = (lines: string[]): string => lines[lines.length - 1] as string;

beforeAll(async () => {
  fx = await createFixture([ALICE, BOB, CAROL, DAVE, ERIN], { limits: { message_size: 100_000, imap_line_length: 8192 } });
  server = await fx.start();
  tlsServer = await fx.start({ implicitTls: true });
  for (let i = 1; i <= 4; i++) await fx.deliver(ALICE, message(i));
  for (let i = 1; i <= 3; i++) await fx.deliver(CAROL, message(i));
});

afterAll(async () => {
  await fx.cleanup();
});

describe('before login', () => {
  it('greets with capabilities, offers STARTTLS and LOGINDISABLED, refuses LOGIN in plaintext', async () => {
    const c = await connect(server.port);
    const greeting = await c.imapLine();
    expect(greeting).toMatch(/^\* OK \[CAPABILITY IMAP4rev1 .*STARTTLS LOGINDISABLED\] /);
    expect(await c.imap(`a LOGIN ${ALICE} "${PASSWORD}"`)).toEqual(['a NO [PRIVACYREQUIRED] TLS required: use STARTTLS first']);
    expect(last(await c.imap(`b AUTHENTICATE PLAIN ${plain(`\0${ALICE}\0${PASSWORD}`)}`))).toBe('b NO [PRIVACYREQUIRED] TLS required: use STARTTLS first');
    expect(await c.imap('c SELECT INBOX')).toEqual(['c BAD [CLIENTBUG] SELECT not allowed now']);
    expect(await c.imap('d FROBNICATE')).toEqual([expect.stringMatching(/^d BAD /)]);
    expect(await c.imap('e NOOP')).toEqual(['e OK completed']);
    expect(await c.imap('f LOGOUT')).toEqual(['* BYE Postern IMAP server logging out', 'f OK LOGOUT completed']);
    await c.waitClosed();
  });

  it('logs in after STARTTLS with AUTHENTICATE PLAIN, with and without an initial response', async () => {
    const c = await connect(server.port);
    await c.imapLine();
    expect(await c.imap('a STARTTLS')).toEqual(['a OK Begin TLS negotiation now']);
    await c.upgrade();
    const caps = await c.imap('b CAPABILITY');
    expect(caps[0]).toContain('AUTH=PLAIN');
    expect(caps[0]).not.toContain('STARTTLS');
    c.send('c AUTHENTICATE PLAIN');
    expect(await c.imapLine()).toBe('+ ');
    c.send(plain(`\0${ALICE}\0wrong`));
    expect(await c.imapLine()).toBe('c NO [AUTHENTICATIONFAILED] invalid user name or password');
    const ok = await c.imap(`d AUTHENTICATE PLAIN ${plain(`\0${ALICE}\0${PASSWORD}`)}`);
    expect(last(ok)).toMatch(/^d OK \[CAPABILITY IMAP4rev1 .*IDLE.*CONDSTORE.*APPENDLIMIT=100000.*\] Logged in$/);
    c.close();
  });

  it('cancels AUTHENTICATE with *, and throttles repeated failures with [UNAVAILABLE]', async () => {
    const c = await connect(tlsServer.port, true);
    await c.imapLine();
    c.send('a AUTHENTICATE PLAIN');
    expect(await c.imapLine()).toBe('+ ');
    c.send('*');
    expect(await c.imapLine()).toBe('a BAD authentication cancelled');
    for (const t of ['b', 'c', 'd']) expect(await c.imap(`${t} LOGIN ${ERIN} nope`)).toEqual([`${t} NO [AUTHENTICATIONFAILED] invalid user name or password`]);
    expect(await c.imap(`e LOGIN ${ERIN} "${PASSWORD}"`)).toEqual(['e NO [UNAVAILABLE] too many failed logins, try again later']);
    c.close();
  });
});

describe('logins relayed by a webmail on this machine', () => {
  it('throttles by the browser address a loopback client gives in ID x-originating-ip', async () => {
    const strict = await fx.start({
      implicitTls: true,
      configOverrides: { auth: { failure_delay: '1ms', max_failures_per_ip: 2, max_failures_per_account: 1000 } },
    });
    const viaWebmail = async (browser: string): Promise<Talk> => {
      const c = await connect(strict.port, true);
      await c.imapLine();
      expect(last(await c.imap(`i ID ("name" "Postern webmail" "x-originating-ip" "${browser}")`))).toBe('i OK completed');
      return c;
    };
    const attacker = await viaWebmail('192.0.2.7');
    for (const t of ['a', 'b'])
      expect(await attacker.imap(`${t} LOGIN ${CAROL} wrong`)).toEqual([`${t} NO [AUTHENTICATIONFAILED] invalid user name or password`]);
    expect(await attacker.imap(`c LOGIN ${CAROL} "${PASSWORD}"`)).toEqual(['c NO [UNAVAILABLE] too many failed logins, try again later']);
    attacker.close();
    // another browser behind the same webmail is not locked out by the first one
    const someoneElse = await viaWebmail('198.51.100.9');
    expect(last(await someoneElse.imap(`d LOGIN ${CAROL} "${PASSWORD}"`))).toMatch(/^d OK /);
    someoneElse.close();
    await strict.close();
  });
});

describe('bad input', () => {
  it('answers a 10 MB line once with BAD [TOOBIG] and keeps going', async () => {
    const c = await login(server.port, BOB);
    c.send(Buffer.concat([Buffer.from('x1 NOOP '), Buffer.alloc(10 * 1024 * 1024, 0x41), Buffer.from('\r\n')]));
    expect(await c.imapLine()).toMatch(/^x1 BAD \[TOOBIG\] Line longer than 8192 octets$/);
    expect(await c.imap('x2 NOOP')).toEqual(['x2 OK completed']);
    c.close();
  });

  it('refuses a literal over APPENDLIMIT with NO [TOOBIG], without reading it', async () => {
    const c = await login(server.port, BOB);
    expect(await c.imap('a APPEND INBOX {200000}')).toEqual(['a NO [TOOBIG] Literal larger than 100000 octets']);
    // A non-synchronizing one is skipped whole, and what follows is a command again.
    c.send(Buffer.concat([Buffer.from('b APPEND INBOX {200000+}\r\n'), Buffer.alloc(200000, 0x42), Buffer.from('\r\n')]));
    expect(await c.imapLine()).toBe('b NO [TOOBIG] Literal larger than 100000 octets');
    expect(await c.imap('c NOOP')).toEqual(['c OK completed']);
    c.close();
  });

  it('rejects bad sequence sets, unknown commands and wrong states with BAD', async () => {
    const c = await login(server.port, ALICE);
    expect(await c.imap('a FETCH 1 FLAGS')).toEqual(['a BAD [CLIENTBUG] FETCH not allowed now']);
    await c.imap('b EXAMINE INBOX');
    expect(last(await c.imap('c FETCH 0:3 FLAGS'))).toMatch(/^c BAD /);
    expect(last(await c.imap('d FETCH 1,,2 FLAGS'))).toMatch(/^d BAD /);
    expect(last(await c.imap('e FETCH 9 FLAGS'))).toBe('e BAD [CLIENTBUG] Invalid message sequence number');
    expect(last(await c.imap('f STORE 1 +FLAGS (\\Seen)'))).toBe('f NO [READ-ONLY] mailbox is read-only');
    expect(last(await c.imap('g XYZZY'))).toMatch(/^g BAD /);
    expect(await c.imap('h UID FETCH 1:* (FLAGS)')).toEqual([
      '* 1 FETCH (UID 1 FLAGS ())',
      '* 2 FETCH (UID 2 FLAGS ())',
      '* 3 FETCH (UID 3 FLAGS ())',
      '* 4 FETCH (UID 4 FLAGS ())',
      'h OK UID FETCH completed',
    ]);
    c.close();
  });

  it('survives a client that disconnects in the middle of a literal', async () => {
    const c = await login(server.port, BOB);
    c.send('a APPEND INBOX {50}');
    expect(await c.imapLine()).toBe('+ Ready for literal data');
    c.send(Buffer.from('From: x\r\n\r\nhalf'));
    c.close();
    await new Promise((r) => setTimeout(r, 100));
    const d = await login(server.port, BOB);
    expect(await d.imap('b STATUS INBOX (MESSAGES)')).toEqual(['* STATUS INBOX (MESSAGES 0)', 'b OK STATUS completed']);
    d.close();
  });
});

describe('selected state', () => {
  it('answers SELECT as IMAP4rev1 clients expect', async () => {
    const c = await login(server.port, ALICE);
    const mb = (await fx.mail.store.mailbox(fx.userId(ALICE), 'INBOX'))!;
    expect(await c.imap('a SELECT INBOX')).toEqual([
      '* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)',
      '* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted',
      '* 4 EXISTS',
      '* 0 RECENT',
      '* OK [UNSEEN 1] First unseen',
      `* OK [UIDVALIDITY ${mb.uidValidity}] UIDs valid`,
      '* OK [UIDNEXT 5] Predicted next UID',
      `* OK [HIGHESTMODSEQ ${mb.highestModseq}] Highest`,
      'a OK [READ-WRITE] SELECT completed',
    ]);
    c.close();
  });

  it('fetches body sections, partials, HEADER.FIELDS and BINARY, and sets \\Seen without PEEK', async () => {
    const c = await login(server.port, ALICE);
    await c.imap('a SELECT INBOX');
    const m2 = message(2);
    const header = m2.slice(0, m2.indexOf('\r\n\r\n') + 4);
    expect(await c.imap('b FETCH 2 (BODY.PEEK[HEADER.FIELDS (Subject Message-ID)])')).toEqual([
      `* 2 FETCH (BODY[HEADER.FIELDS (Subject Message-ID)] {${'Subject: Message 2\r\nMessage-ID: <m2@example.org>\r\n\r\n'.length}}\r\nSubject: Message 2\r\nMessage-ID: <m2@example.org>\r\n\r\n)`,
      'b OK FETCH completed',
    ]);
    expect(await c.imap('c FETCH 2 (BODY.PEEK[TEXT]<5.10> RFC822.SIZE)')).toEqual([
      `* 2 FETCH (BODY[TEXT]<5> {10}\r\n${m2.slice(header.length + 5, header.length + 15)} RFC822.SIZE ${m2.length})`,
      'c OK FETCH completed',
    ]);
    expect(await c.imap('d FETCH 2 (BINARY.SIZE[1] BODY[1])')).toEqual([
      `* 2 FETCH (BINARY.SIZE[1] ${'Body of message 2.\r\n'.length} BODY[1] {${'Body of message 2.\r\n'.length}}\r\nBody of message 2.\r\n FLAGS (\\Seen))`,
      'd OK FETCH completed',
    ]);
    expect(await c.imap('e UID FETCH 2 (FLAGS)')).toEqual(['* 2 FETCH (UID 2 FLAGS (\\Seen))', 'e OK UID FETCH completed']);
    await c.imap('f STORE 2 -FLAGS.SILENT (\\Seen)');
    c.close();
  });

  it('searches with ESEARCH, saves results with SEARCHRES, and reports MODSEQ', async () => {
    const c = await login(server.port, ALICE);
    await c.imap('a SELECT INBOX');
    expect(await c.imap('b SEARCH RETURN (MIN MAX COUNT ALL) SUBJECT message')).toEqual([
      '* ESEARCH (TAG "b") MIN 1 MAX 4 COUNT 4 ALL 1:4',
      'b OK SEARCH completed',
    ]);
    expect(await c.imap('c UID SEARCH RETURN (SAVE) OR SUBJECT "Message 2" SUBJECT "Message 4"')).toEqual(['c OK UID SEARCH completed']);
    expect(await c.imap('d FETCH $ (UID)')).toEqual(['* 2 FETCH (UID 2)', '* 4 FETCH (UID 4)', 'd OK FETCH completed']);
    // Substrings (RFC 9051 §6.4.4): the words must be there in this order.
    expect(await c.imap('e SEARCH CHARSET UTF-8 TEXT "body of message"')).toEqual(['* SEARCH 1 2 3 4', 'e OK SEARCH completed']);
    expect(await c.imap('e2 SEARCH CHARSET UTF-8 TEXT "body message"')).toEqual(['* SEARCH', 'e2 OK SEARCH completed']);
    const storeLines = await c.imap('f STORE 3 +FLAGS.SILENT (\\Flagged)');
    expect(last(storeLines)).toBe('f OK STORE completed');
    const mb = (await fx.mail.store.mailbox(fx.userId(ALICE), 'INBOX'))!;
    expect(await c.imap('g SEARCH MODSEQ 2 FLAGGED')).toEqual([`* SEARCH 3 (MODSEQ ${mb.highestModseq})`, 'g OK SEARCH completed']);
    expect(await c.imap(`h FETCH 1:* (FLAGS) (CHANGEDSINCE ${mb.highestModseq - 1})`)).toEqual([
      `* 3 FETCH (FLAGS (\\Flagged) MODSEQ (${mb.highestModseq}))`,
      'h OK FETCH completed',
    ]);
    expect(await c.imap(`i STORE 3 (UNCHANGEDSINCE 1) +FLAGS (\\Seen)`)).toEqual(['i OK [MODIFIED 3] Conditional STORE failed for some messages']);
    await c.imap('j STORE 3 -FLAGS.SILENT (\\Flagged)');
    c.close();
  });

  it("reports another session's flags and expunges in RFC order, holding EXPUNGE during FETCH", async () => {
    const a = await login(server.port, CAROL);
    const b = await login(server.port, CAROL);
    await a.imap('a1 SELECT INBOX');
    await b.imap('b1 SELECT INBOX');
    expect(await b.imap('b2 STORE 2 +FLAGS (\\Deleted)')).toEqual(['* 2 FETCH (FLAGS (\\Deleted))', 'b2 OK STORE completed']);
    expect(await a.imap('a2 NOOP')).toEqual(['* 2 FETCH (UID 2 FLAGS (\\Deleted))', 'a2 OK completed']);
    expect(await b.imap('b3 EXPUNGE')).toEqual(['* 2 EXPUNGE', 'b3 OK EXPUNGE completed']);
    await fx.deliver(CAROL, message(10));
    // During FETCH: EXISTS may come, EXPUNGE may not; message 2 keeps its number (and, gone, is skipped).
    expect(await a.imap('a3 FETCH 1:* (UID)')).toEqual(['* 1 FETCH (UID 1)', '* 3 FETCH (UID 3)', '* 4 EXISTS', 'a3 OK FETCH completed']);
    expect(await a.imap('a4 NOOP')).toEqual(['* 2 EXPUNGE', 'a4 OK completed']);
    expect(await a.imap('a5 FETCH 1:* (UID)')).toEqual(['* 1 FETCH (UID 1)', '* 2 FETCH (UID 3)', '* 3 FETCH (UID 4)', 'a5 OK FETCH completed']);
    a.close();
    b.close();
  });

  it('pushes a delivery and an expunge during IDLE, and ends IDLE on DONE', async () => {
    const a = await login(server.port, DAVE);
    const b = await login(server.port, DAVE);
    await a.imap('a1 SELECT INBOX');
    a.send('a2 IDLE');
    expect(await a.imapLine()).toBe('+ idling');
    await fx.deliver(DAVE, message(1));
    expect(await a.imapLine()).toBe('* 1 EXISTS');
    await b.imap('b1 SELECT INBOX');
    await b.imap('b2 STORE 1 +FLAGS.SILENT (\\Deleted)');
    expect(await a.imapLine()).toBe('* 1 FETCH (UID 1 FLAGS (\\Deleted))');
    await b.imap('b3 EXPUNGE');
    expect(await a.imapLine()).toBe('* 1 EXPUNGE');
    a.send('DONE');
    expect(await a.imapLine()).toBe('a2 OK IDLE terminated');
    a.close();
    b.close();
  });

  it('QRESYNC: VANISHED replaces EXPUNGE, SELECT reports what changed since a modseq', async () => {
    const c = await login(server.port, BOB);
    await c.imap('a CREATE Q');
    for (let i = 1; i <= 3; i++) await fx.deliver(BOB, message(i), 'Q');
    expect(await c.imap('b ENABLE QRESYNC')).toEqual(['* ENABLED QRESYNC', 'b OK completed']);
    const sel = await c.imap('c SELECT Q');
    const mb = (await fx.mail.store.mailbox(fx.userId(BOB), 'Q'))!;
    expect(sel).toContain(`* OK [HIGHESTMODSEQ ${mb.highestModseq}] Highest`);
    const before = mb.highestModseq;
    await c.imap('d STORE 1 +FLAGS.SILENT (\\Deleted)');
    expect(await c.imap('e UID EXPUNGE 1')).toEqual(['* VANISHED 1', 'e OK UID EXPUNGE completed']);
    await c.imap('f STORE 1 +FLAGS.SILENT (\\Answered)');
    const re = await c.imap(`g SELECT Q (QRESYNC (${mb.uidValidity} ${before} 1:3))`);
    expect(re[0]).toBe('* OK [CLOSED] Previous mailbox closed');
    expect(re).toContain('* VANISHED (EARLIER) 1');
    expect(re.some((l) => /^\* 1 FETCH \(UID 2 FLAGS \(\\Answered\) MODSEQ \(\d+\)\)$/.test(l))).toBe(true);
    c.close();
  });

  it('LIST: delimiter, special-use without asking, LIST-EXTENDED and LIST-STATUS; MOVE sends COPYUID before EXPUNGE', async () => {
    const c = await login(server.port, ERIN.replace('erin', 'bob'));
    expect(await c.imap('a LIST "" ""')).toEqual(['* LIST (\\Noselect) "/" ""', 'a OK LIST completed']);
    expect(await c.imap('b LIST "" Sent')).toEqual(['* LIST (\\HasNoChildren \\Sent) "/" Sent', 'b OK LIST completed']);
    await c.imap('c CREATE Lists/One');
    await c.imap('d UNSUBSCRIBE Lists');
    // the parent CREATE made implicitly is a \Noselect placeholder (RFC 5819: no STATUS for it)
    expect(await c.imap('e LIST (SUBSCRIBED RECURSIVEMATCH) "" "Lists*" RETURN (CHILDREN STATUS (MESSAGES SIZE))')).toEqual([
      '* LIST (\\Noselect \\HasChildren) "/" Lists ("CHILDINFO" ("SUBSCRIBED"))',
      '* LIST (\\HasNoChildren \\Subscribed) "/" Lists/One',
      '* STATUS Lists/One (MESSAGES 0 SIZE 0)',
      'e OK LIST completed',
    ]);
    await fx.deliver(BOB, message(1));
    await c.imap('f SELECT INBOX');
    const mb = (await fx.mail.store.mailbox(fx.userId(BOB), 'Lists/One'))!;
    const moved = await c.imap('g UID MOVE 1:* Lists/One');
    expect(moved[0]).toMatch(new RegExp(`^\\* OK \\[COPYUID ${mb.uidValidity} \\d+ 1\\] Moved$`));
    expect(moved.slice(1)).toEqual(['* 1 EXPUNGE', 'g OK UID MOVE completed']);
    expect(last(await c.imap('h COPY 1 Nowhere'))).toMatch(/^h (NO \[TRYCREATE\]|BAD)/);
    c.close();
  });
});
