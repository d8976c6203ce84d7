/**
 * Fuzzing the retrieval command loops of the delivery agent: POP3 (RFC 1939/2449/5034) and IMAP
 * (RFC 9051), logged in and not, over a mailbox with real messages. POP3 sessions must end at
 * QUIT after the noise; IMAP sessions may legitimately wait (a literal is being sent), so they
 * are hung up instead. After the sessions: the same process, a real session that reads mail,
 * and bounded memory. See lib/session-fuzz.ts for the budget, the seed and the corpus.
 */
import fc from 'fast-check';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFullInstance, type FullInstance } from '../attacks/lib/full-instance.js';
import { Talk } from '@postern/testkit';
import { fuzzTarget, longRun, mutated, noise, SCALE, sessionOf, type Target } from './lib/session-fuzz.js';

let a: FullInstance;
const MEMORY_LIMIT = 400 * 1024 * 1024;
const b64 = (s: string): string => Buffer.from(s).toString('base64');

beforeAll(async () => {
  a = await createFullInstance({ domain: 'a.test', users: { alice: 'alice-password', bob: 'bob-password' } });
  await a.start({
    // a 1 ms lockout window forgets each failure at once: no lockout, no growing delay (up to 8 s)
    auth: { max_failures_per_account: 1_000_000, max_failures_per_ip: 1_000_000, failure_delay: '1ms', lockout: '1ms' },
    limits: { connections_per_ip: 1000, imap_connections_per_user: 1000, command_timeout: '20s' },
  });
  // something to list, fetch, search and delete, for both users
  const t = nodemailer.createTransport({ host: '127.0.0.1', port: a.ports.smtp, ignoreTLS: true });
  const multipart =
    'Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b\r\nContent-Type: application/octet-stream\r\n' +
    'Content-Disposition: attachment; filename="x.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\nAAECAw==\r\n--b--\r\n';
  for (let i = 0; i < 6; i++) {
    for (const to of ['alice@a.test', 'bob@a.test']) {
      await t.sendMail({
        envelope: { from: 'sender@outside.example', to: [to] },
        raw: `From: Sender <sender@outside.example>\r\nTo: ${to}\r\nSubject: message ${i} =?utf-8?B?w6k=?=\r\nMIME-Version: 1.0\r\n${i % 2 ? multipart : '\r\nplain body .\r\n..\r\n'}`,
      });
    }
  }
  t.close();
  await a.waitForMessages('alice@a.test', 6);
  await a.waitForMessages('bob@a.test', 6);
});

afterAll(async () => {
  await a?.stop();
});

// ---- POP3 -----------------------------------------------------------------------------------

const popArg = fc.oneof(fc.constantFrom('1', '2', '0', '-1', '99', '4294967296', '1 1', '1 0', '1 -5', '1 99999999', 'x', ''), noise);
const pop3Line = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .tuple(
        fc.constantFrom('STAT', 'LIST', 'RETR', 'DELE', 'NOOP', 'RSET', 'TOP', 'UIDL', 'CAPA', 'APOP', 'STLS', 'USER', 'PASS', 'AUTH', 'QUITX', 'list', 'retr'),
        fc.option(popArg),
      )
      .map(([v, x]) => (x === null ? v : `${v} ${x}`)),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'USER alice@a.test',
      'PASS alice-password',
      'PASS wrong',
      'AUTH PLAIN',
      `AUTH PLAIN ${b64('\0alice@a.test\0alice-password')}`,
      `AUTH PLAIN ${b64('\0alice@a.test\0nope')}`,
      b64('\0alice@a.test\0alice-password'),
      'AUTH LOGIN',
      'AUTH PLAIN =',
      '*',
      '=',
    ),
  },
  { weight: 2, arbitrary: mutated(fc.constantFrom('RETR 1', 'TOP 2 1', 'UIDL 3', 'LIST 1', 'DELE 2', 'USER alice@a.test', 'PASS alice-password')) },
  { weight: 2, arbitrary: noise },
  { weight: 1, arbitrary: longRun },
);
const pop3Login = ['', 'USER alice@a.test\r\nPASS alice-password\r\n', `AUTH PLAIN ${b64('\0bob@a.test\0bob-password')}\r\n`, 'CAPA\r\n'];

async function pop3Probe(): Promise<void> {
  const t = await Talk.open(a.retrieval.pop3);
  try {
    await t.until(/^\+OK.*\r\n/m, 5_000);
    // the maildrop may be locked by a session the server has not noticed closing yet: retry briefly
    for (let i = 0; ; i++) {
      await t.write('USER alice@a.test\r\nPASS alice-password\r\n');
      await t.until(/^\+OK.*\r\n/m, 5_000);
      const pass = await t.until(/^[+-].*\r\n/m, 5_000);
      if (pass.startsWith('+OK')) break;
      if (i > 20 || !/IN-USE/.test(pass)) throw new Error(`POP3 login failed: ${pass}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    await t.write('STAT\r\n');
    const stat = await t.until(/^[+-].*\r\n/m, 5_000);
    if (!stat.startsWith('+OK')) throw new Error(`STAT: ${stat}`);
    // (the fuzzer may have deleted everything with DELE + QUIT)
    if (!stat.startsWith('+OK 0 ')) {
      await t.write('RETR 1\r\n');
      if (!/^\+OK/.test(await t.until(/^[+-].*\r\n/m, 5_000))) throw new Error('RETR 1 refused');
      await t.until(/\r\n\.\r\n/, 5_000);
    }
    await t.write('RSET\r\nQUIT\r\n');
    await t.waitClosed(5_000);
  } finally {
    t.close();
  }
}

// ---- IMAP -----------------------------------------------------------------------------------

const tag = fc.constantFrom('a1 ', 'B2 ', '* ', '+ ', '', 'x.y ', 'a{1} ', '"t" ');
const seqSet = fc.constantFrom('1', '1:*', '*', '2,4:6', '1:4294967295', '0', '4294967296', '$', '1,', ':', '*:*', '3:1', '1:2,2:3,' + '1,'.repeat(200) + '1');
const fetchAtt = fc.constantFrom(
  'FLAGS',
  '(FLAGS UID)',
  'ENVELOPE',
  'BODYSTRUCTURE',
  'BODY',
  'BODY[]',
  'BODY.PEEK[HEADER]',
  'BODY[TEXT]<0.10>',
  'BODY[1]',
  'BODY[2.MIME]',
  'BODY[1.2.3.4.5]',
  'BODY[HEADER.FIELDS (SUBJECT FROM)]',
  'BODY[HEADER.FIELDS.NOT (TO)]',
  'BINARY[2]',
  'BINARY.SIZE[2]',
  'BINARY[1]<5.3>',
  'RFC822',
  'RFC822.SIZE',
  'RFC822.HEADER',
  'INTERNALDATE',
  'MODSEQ',
  'ALL',
  'FULL',
  'FAST',
  '(FLAGS) (CHANGEDSINCE 1)',
  '(FLAGS) (CHANGEDSINCE 1 VANISHED)',
  'BODY[0]',
  'BODY[]<4294967295.1>',
  'BODY[',
  '(',
);
const searchKey = fc.constantFrom(
  'ALL',
  'SUBJECT message',
  'SUBJECT "\' OR 1=1 --"',
  'TEXT hello',
  'TEXT "a\\"b"',
  'BODY "NEAR(a b)"',
  'TEXT "*"',
  'FROM sender',
  'HEADER Subject x',
  'OR SEEN UNSEEN',
  'NOT DELETED',
  'LARGER 10',
  'SMALLER 99999999999',
  'SINCE 1-Jan-2020',
  'BEFORE 32-Foo-99',
  'UID 1:*',
  'MODSEQ 1',
  'CHARSET UTF-8 SUBJECT é',
  'CHARSET KOI8-R ALL',
  'RETURN (MIN MAX COUNT ALL) ALL',
  'RETURN (SAVE) ALL',
  'KEYWORD $Forwarded',
  '$',
  '(',
  ')',
  '((((((((((((((((((((ALL))))))))))))))))))))',
  'OR '.repeat(300) + 'ALL ALL',
);
const mailbox = fc.constantFrom(
  'INBOX',
  'inbox',
  'Sent',
  '"Drafts"',
  'Trash',
  'Junk',
  'Archive',
  'Nope',
  '""',
  '"a/b/c"',
  '"../x"',
  '"%"',
  '*',
  '&AMk-',
  '&',
  '"\\"',
  'INBOX.child',
  '{3}\r\nfoo',
);
const literal = fc.tuple(fc.constantFrom('', '+', '-'), fc.string({ maxLength: 30 })).map(([plus, s]) => `{${Buffer.byteLength(s, 'latin1')}${plus}}\r\n${s}`);
const imapCommand = fc.oneof(
  fc.tuple(fc.constantFrom('FETCH', 'UID FETCH'), seqSet, fetchAtt).map(([c, s, f]) => `${c} ${s} ${f}`),
  fc
    .tuple(
      fc.constantFrom('STORE', 'UID STORE'),
      seqSet,
      fc.constantFrom(
        '+FLAGS (\\Seen)',
        '-FLAGS.SILENT (\\Deleted)',
        'FLAGS ()',
        '+FLAGS ($Junk x y)',
        '(UNCHANGEDSINCE 1) +FLAGS (\\Flagged)',
        'FLAGS (\\Recent)',
        '+FLAGS (\\Bogus',
      ),
    )
    .map(([c, s, f]) => `${c} ${s} ${f}`),
  fc.tuple(fc.constantFrom('SEARCH', 'UID SEARCH', 'ESEARCH'), fc.array(searchKey, { minLength: 1, maxLength: 3 })).map(([c, k]) => `${c} ${k.join(' ')}`),
  fc
    .tuple(fc.constantFrom('SELECT', 'EXAMINE', 'STATUS', 'CREATE', 'DELETE', 'SUBSCRIBE', 'UNSUBSCRIBE'), mailbox)
    .map(([c, m]) => (c === 'STATUS' ? `${c} ${m} (MESSAGES UIDNEXT SIZE HIGHESTMODSEQ)` : `${c} ${m}`)),
  fc.tuple(fc.constantFrom('COPY', 'MOVE', 'UID COPY', 'UID MOVE'), seqSet, mailbox).map(([c, s, m]) => `${c} ${s} ${m}`),
  fc.tuple(mailbox, mailbox).map(([x, y]) => `RENAME ${x} ${y}`),
  fc.tuple(mailbox, literal).map(([m, l]) => `APPEND ${m} (\\Seen) ${l}`),
  fc.constantFrom(
    'CAPABILITY',
    'NOOP',
    'LOGOUT',
    'IDLE',
    'DONE',
    'CHECK',
    'CLOSE',
    'UNSELECT',
    'EXPUNGE',
    'UID EXPUNGE 1:*',
    'NAMESPACE',
    'ENABLE CONDSTORE QRESYNC UTF8=ACCEPT',
    'ID ("name" "fuzz")',
    'ID NIL',
    'LIST "" *',
    'LIST "" %',
    'LIST (SUBSCRIBED) "" * RETURN (CHILDREN STATUS (MESSAGES))',
    'LSUB "" *',
    'STARTTLS',
    'LOGIN alice@a.test alice-password',
    'LOGIN "alice@a.test" {14}\r\nalice-password',
    'LOGIN alice@a.test wrong',
    `AUTHENTICATE PLAIN ${b64('\0alice@a.test\0alice-password')}`,
    'AUTHENTICATE PLAIN',
    '*',
    'SELECT INBOX (QRESYNC (1 1 1:5))',
    'GETQUOTAROOT INBOX',
    'XLIST "" *',
    'COMPRESS DEFLATE',
  ),
);
const imapLine = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(tag, imapCommand).map(([t, c]) => t + c) },
  { weight: 3, arbitrary: mutated(fc.tuple(tag, imapCommand).map(([t, c]) => t + c)) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      'a1 APPEND INBOX {4294967295}',
      'a1 APPEND INBOX {99999999999999999999999}',
      'a1 LOGIN {5}',
      'a1 APPEND INBOX ~{3}',
      '{0}',
      'DONE',
    ),
  },
  { weight: 2, arbitrary: noise },
  { weight: 1, arbitrary: longRun },
);
const imapLogin = [
  '',
  'a0 LOGIN alice@a.test alice-password\r\n',
  'a0 LOGIN bob@a.test bob-password\r\na00 SELECT INBOX\r\n',
  'a0 LOGIN alice@a.test alice-password\r\na00 ENABLE QRESYNC\r\na01 SELECT INBOX\r\n',
];

async function imapProbe(): Promise<void> {
  const t = await Talk.open(a.retrieval.imap);
  try {
    await t.until(/^\* OK.*\r\n/m, 5_000);
    await t.write('p1 LOGIN alice@a.test alice-password\r\n');
    if (!/^p1 OK/m.test(await t.until(/^p1 .*\r\n/m, 5_000))) throw new Error('IMAP LOGIN failed');
    await t.write('p2 SELECT INBOX\r\n');
    if (!/^p2 OK/m.test(await t.until(/^p2 .*\r\n/m, 5_000))) throw new Error('IMAP SELECT failed');
    await t.write('p3 FETCH 1:* (FLAGS ENVELOPE)\r\n');
    if (!/^p3 OK/m.test(await t.until(/^p3 .*\r\n/m, 5_000))) throw new Error('IMAP FETCH failed');
    await t.write('p4 LOGOUT\r\n');
    await t.until(/^p4 .*\r\n/m, 5_000);
  } finally {
    t.close();
  }
}

const withPrefix = (prefixes: readonly string[], line: fc.Arbitrary<string>) =>
  fc
    .tuple(fc.constantFrom(...prefixes), sessionOf(line))
    .map(([prefix, s]) => ({ bytes: Buffer.concat([Buffer.from(prefix, 'latin1'), s.bytes]), cuts: s.cuts.map((c) => c + prefix.length) }));

describe('fuzzing the retrieval command loops', () => {
  it(
    'POP3',
    async () => {
      const target: Target = {
        name: 'pop3',
        app: 'delivery',
        port: a.retrieval.pop3,
        greeting: /^\+OK.*\r\n/m,
        // "*" cancels a pending SASL exchange (RFC 5034 §4); QUIT ends any state
        closingSuffix: '\r\n*\r\nQUIT\r\n',
        abandonIf: /^\+OK Begin TLS/m,
        probe: pop3Probe,
      };
      await fuzzTarget(a, target, withPrefix(pop3Login, pop3Line), 60);
      expect(a.memory('delivery').rss).toBeLessThan(MEMORY_LIMIT);
    },
    120_000 * SCALE,
  );

  it(
    'IMAP',
    async () => {
      const target: Target = {
        name: 'imap',
        app: 'delivery',
        port: a.retrieval.imap,
        greeting: /^\* OK.*\r\n/m,
        closingSuffix: null,
        probe: imapProbe,
      };
      await fuzzTarget(a, target, withPrefix(imapLogin, imapLine), 80);
      expect(a.memory('delivery').rss).toBeLessThan(MEMORY_LIMIT);
      a.assertHealthy('delivery');
    },
    120_000 * SCALE,
  );
});
