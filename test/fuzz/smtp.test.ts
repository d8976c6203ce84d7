/**
 * Fuzzing the SMTP command loops: the MX on port 25, submission (authenticated sessions too) and
 * the delivery agent's LMTP. Each run is one connection carrying generated commands, mutations
 * of good ones, garbage and over-long lines; then `.` and QUIT. The server must end the session
 * (no hang), stay the same process (no crash), serve a real transaction afterwards, and stay
 * within a memory bound. See lib/session-fuzz.ts for the budget, the seed and the corpus.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFullInstance, type FullInstance } from '../attacks/lib/full-instance.js';
import { Talk } from '@postern/testkit';
import { fuzzTarget, longRun, mutated, noise, SCALE, sessionOf, type Target } from './lib/session-fuzz.js';

let a: FullInstance;
const MEMORY_LIMIT = 400 * 1024 * 1024;

beforeAll(async () => {
  a = await createFullInstance({ domain: 'a.test', users: { alice: 'alice-password', bob: 'bob-password' } });
  // generous login limits: the fuzzer guesses wrong a lot and must still reach the deeper states
  await a.start({
    // a 1 ms lockout window forgets each failure at once: no lockout, no growing delay (up to 8 s)
    auth: { max_failures_per_account: 1_000_000, max_failures_per_ip: 1_000_000, failure_delay: '1ms', lockout: '1ms' },
    limits: { connections_per_ip: 1000, command_timeout: '20s' },
  });
});

afterAll(async () => {
  await a?.stop();
});

const plainB64 = (u: string, p: string): string => Buffer.from(`\0${u}\0${p}`).toString('base64');

const address = fc.oneof(
  fc.constantFrom(
    'alice@a.test',
    'bob@a.test',
    'ALICE@A.TEST',
    'alice+tag@a.test',
    'nobody@a.test',
    'someone@outside.example',
    '',
    'postmaster',
    '@a.test:alice@a.test',
    'a%b@a.test',
    '"quoted local"@a.test',
    '"a@b"@a.test',
    'x!y@a.test',
    'ü@a.test',
    'alice@xn--bcher-kva.example',
    'alice@[127.0.0.1]',
    'alice@[IPv6:::1]',
    'alice@',
    '@',
    '<>',
    'alice@a.test>',
    '<alice@a.test',
    'a'.repeat(300) + '@a.test',
    `alice@${'x.'.repeat(200)}test`,
  ),
  noise,
);
const param = fc.oneof(
  fc.constantFrom(
    'SIZE=1000',
    'SIZE=99999999999999999999',
    'SIZE=-1',
    'SIZE=',
    'BODY=8BITMIME',
    'BODY=BINARYMIME',
    'BODY=7BIT',
    'SMTPUTF8',
    'RET=FULL',
    'RET=HDRS',
    'RET=X',
    'ENVID=abc',
    'ENVID=+2B+',
    'NOTIFY=SUCCESS,FAILURE',
    'NOTIFY=NEVER,SUCCESS',
    'NOTIFY=',
    'ORCPT=rfc822;alice@a.test',
    'ORCPT=x',
    'AUTH=<>',
    'AUTH=alice@a.test',
    'REQUIRETLS',
    'MT-PRIORITY=3',
    'X=Y',
    '=',
  ),
  noise,
);
const verbLine = fc.oneof(
  fc
    .tuple(fc.constantFrom('EHLO', 'HELO', 'LHLO', 'ehlo'), fc.oneof(fc.constantFrom('client.example', '[127.0.0.1]', '[IPv6:::1]', ''), noise))
    .map(([v, a]) => `${v} ${a}`),
  fc
    .tuple(fc.constantFrom('MAIL FROM:', 'mail from:', 'MAIL FROM: ', 'MAIL FROM'), address, fc.array(param, { maxLength: 3 }))
    .map(([v, a, p]) => `${v}<${a}>${p.map((x) => ` ${x}`).join('')}`),
  fc
    .tuple(fc.constantFrom('RCPT TO:', 'rcpt to:', 'RCPT TO: ', 'RCPT TO'), address, fc.array(param, { maxLength: 3 }))
    .map(([v, a, p]) => `${v}<${a}>${p.map((x) => ` ${x}`).join('')}`),
  fc.constantFrom(
    'DATA',
    'RSET',
    'NOOP',
    'NOOP x',
    'VRFY alice',
    'EXPN staff',
    'HELP',
    'HELP DATA',
    'ETRN a.test',
    'TURN',
    'BDAT 10 LAST',
    'BDAT 0',
    'STARTTLS',
    'AUTH',
    'AUTH PLAIN',
    'AUTH LOGIN',
    'AUTH CRAM-MD5',
    'AUTH XOAUTH2',
    'AUTH PLAIN =',
    'AUTH PLAIN *',
    '*',
    'XCLIENT ADDR=1.2.3.4',
    'XFORWARD NAME=x',
    'GET / HTTP/1.1',
    'Host: a.test',
    'POST / HTTP/1.0',
    'QUIT x',
  ),
  fc.constant(`AUTH PLAIN ${plainB64('alice@a.test', 'alice-password')}`),
  fc.tuple(fc.constantFrom('alice@a.test', 'bob@a.test', 'x'), fc.constantFrom('alice-password', 'wrong')).map(([u, p]) => `AUTH PLAIN ${plainB64(u, p)}`),
  fc.base64String({ maxLength: 40 }),
);
/** What goes into a message: headers, dots, bodies. */
const dataLine = fc.oneof(
  fc.constantFrom(
    '.',
    '..',
    '...',
    '. ',
    '.\0',
    '',
    'Subject: fuzz',
    'From: alice@a.test',
    'From: bob@a.test',
    'Received: from x by y',
    'Content-Type: multipart/mixed; boundary=b',
    '--b',
    '--b--',
    'Content-Transfer-Encoding: base64',
    '=?utf-8?B?w6k=?=',
    'MAIL FROM:<x@y>',
    'X-Postern-Junk: yes',
    'Authentication-Results: a.test; dkim=pass',
  ),
  noise,
);
const smtpLine = fc.oneof(
  { weight: 6, arbitrary: verbLine },
  { weight: 3, arbitrary: mutated(verbLine) },
  { weight: 4, arbitrary: dataLine },
  { weight: 2, arbitrary: noise },
  { weight: 1, arbitrary: longRun },
);
/** Often a plausible start, so that runs reach DATA; then anything. */
const smtpSession = (prefixes: readonly string[]) =>
  fc
    .tuple(fc.constantFrom(...prefixes), sessionOf(smtpLine))
    .map(([prefix, s]) => ({ bytes: Buffer.concat([Buffer.from(prefix, 'latin1'), s.bytes]), cuts: s.cuts.map((c) => c + prefix.length) }));

/** A real transaction after the noise: the server still delivers. */
async function smtpProbe(port: number, greeting: string, authenticate: boolean): Promise<void> {
  const t = await Talk.open(port);
  try {
    await t.smtpReply(5_000);
    if (!(await t.smtp(`${greeting} probe.example`, 5_000)).startsWith('250')) throw new Error('no 250 to the greeting');
    if (authenticate && !(await t.smtp(`AUTH PLAIN ${plainB64('alice@a.test', 'alice-password')}`, 5_000)).startsWith('235')) throw new Error('AUTH failed');
    if (!(await t.smtp('MAIL FROM:<alice@a.test>', 5_000)).startsWith('250')) throw new Error('MAIL refused');
    if (!(await t.smtp('RCPT TO:<bob@a.test>', 5_000)).startsWith('250')) throw new Error('RCPT refused');
    if (!(await t.smtp('DATA', 5_000)).startsWith('354')) throw new Error('DATA refused');
    const r = await t.smtp('Subject: probe\r\n\r\nprobe\r\n.', 10_000);
    if (!r.startsWith('250')) throw new Error(`probe message refused: ${r}`);
    await t.smtp('QUIT', 5_000);
  } finally {
    t.close();
  }
}

const SUFFIX = '\r\n.\r\nRSET\r\nQUIT\r\n';
const STARTTLS_ACCEPTED = /^220 2\.0\.0 Ready to start TLS/m;

describe('fuzzing the SMTP command loops', () => {
  it(
    'port 25 (MX)',
    async () => {
      const target: Target = {
        name: 'smtp-mx',
        app: 'transfer',
        port: a.ports.smtp,
        greeting: /^220 .*\r\n/m,
        closingSuffix: SUFFIX,
        abandonIf: STARTTLS_ACCEPTED,
        probe: () => smtpProbe(a.ports.smtp, 'EHLO', false),
      };
      const prefixes = [
        '',
        'EHLO fuzz.example\r\n',
        'EHLO fuzz.example\r\nMAIL FROM:<x@outside.example>\r\nRCPT TO:<alice@a.test>\r\n',
        'EHLO f\r\nMAIL FROM:<>\r\nRCPT TO:<alice@a.test>\r\nDATA\r\n',
      ];
      await fuzzTarget(a, target, smtpSession(prefixes), 50);
      expect(a.memory('transfer').rss).toBeLessThan(MEMORY_LIMIT);
    },
    120_000 * SCALE,
  );

  it(
    'submission (587), authenticated and not',
    async () => {
      const auth = `AUTH PLAIN ${plainB64('alice@a.test', 'alice-password')}\r\n`;
      const target: Target = {
        name: 'smtp-submission',
        app: 'submission',
        port: a.ports.submission,
        greeting: /^220 .*\r\n/m,
        closingSuffix: SUFFIX,
        abandonIf: STARTTLS_ACCEPTED,
        probe: () => smtpProbe(a.ports.submission, 'EHLO', true),
      };
      const prefixes = [
        '',
        'EHLO fuzz.example\r\n',
        `EHLO fuzz.example\r\n${auth}`,
        `EHLO f\r\n${auth}MAIL FROM:<alice@a.test>\r\nRCPT TO:<bob@a.test>\r\n`,
        `EHLO f\r\n${auth}MAIL FROM:<alice@a.test>\r\nRCPT TO:<bob@a.test>\r\nDATA\r\n`,
      ];
      await fuzzTarget(a, target, smtpSession(prefixes), 40);
      expect(a.memory('submission').rss).toBeLessThan(MEMORY_LIMIT);
    },
    120_000 * SCALE,
  );

  it(
    'LMTP (the delivery agent)',
    async () => {
      const target: Target = {
        name: 'lmtp',
        app: 'delivery',
        port: a.ports.lmtp,
        greeting: /^220 .*\r\n/m,
        closingSuffix: SUFFIX,
        probe: () => smtpProbe(a.ports.lmtp, 'LHLO', false),
      };
      const prefixes = [
        '',
        'LHLO fuzz.example\r\n',
        'LHLO f\r\nMAIL FROM:<x@outside.example>\r\nRCPT TO:<alice@a.test>\r\nRCPT TO:<nobody@a.test>\r\nRCPT TO:<bob@a.test>\r\n',
        'LHLO f\r\nMAIL FROM:<>\r\nRCPT TO:<alice@a.test>\r\nDATA\r\n',
      ];
      await fuzzTarget(a, target, smtpSession(prefixes), 40);
      expect(a.memory('delivery').rss).toBeLessThan(MEMORY_LIMIT);
    },
    120_000 * SCALE,
  );

  it('everything the fuzzer got accepted was delivered and the apps are still up', async () => {
    for (const app of ['transfer', 'submission', 'delivery'] as const) a.assertHealthy(app);
    await new Promise((r) => setTimeout(r, 200));
    // the queue drains: nothing the fuzzer got accepted for local users is stuck
    const stuck = a.withQueue((q) => q.list()).filter((m) => m.recipients.some((r) => /@a\.test$/i.test(r)) && m.attempts > 3);
    expect(stuck).toEqual([]);
  });
});
