/**
 * Lockout as a weapon, and ways around the throttle (issue 14, items 5 and 6):
 * - a stranger's wrong passwords lock out the stranger, not the owner: after the account's limit,
 *   a source that logged in before still gets in over IMAP, POP3, SMTP AUTH and the webmail (and
 *   a webmail session survives its IMAP connection being cut), while new sources are refused;
 * - every spelling of a name (quotes, case, a trailing dot, a leading space) over every protocol
 *   and process counts against one account: one throttle for all of them;
 * - 20 parallel wrong logins get at most the limit checked (IMAP, the webmail, submission);
 * - the webmail believes X-Forwarded-For only from `webmail.trusted_proxies`, and then only the
 *   address that proxy saw.
 * Sources are distinct loopback addresses (127.0.0.0/8 is all local on Linux), and the webmail's
 * browsers are X-Forwarded-For addresses behind a trusted proxy on 127.0.0.1.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'smol-toml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, waitFor } from '../lib/instance.js';
import { spawnWebmail } from '../webmail/lib/postern.js';
import { createFullInstance, type FullInstance } from './lib/full-instance.js';
import { Talk } from '@postern/testkit';
import { WebmailClient } from './lib/webmail-client.js';

type Outcome = 'ok' | 'failed' | 'refused';
const LIMIT_ACCOUNT = 5;
const LIMIT_IP = 10;
const plain = (user: string, pass: string): string => Buffer.from(`\0${user}\0${pass}`).toString('base64');

let a: FullInstance;
let webmail: Awaited<ReturnType<typeof spawnWebmail>>;
let untrusted: Awaited<ReturnType<typeof spawnWebmail>>;
let untrustedPort = 0;
const users = { alice: 'alice-password', bob: 'bob-password', carol: 'carol-password', dave: 'dave-password', erin: 'erin-password', frank: 'frank-password' };

beforeAll(async () => {
  a = await createFullInstance({ domain: 'a.test', users });
  await a.start({
    auth: { max_failures_per_account: LIMIT_ACCOUNT, max_failures_per_ip: LIMIT_IP, failure_delay: '1ms', lockout: '1h' },
    limits: { connections_per_ip: 100 },
  });
  // the webmail behind a reverse proxy on 127.0.0.1; a second one that trusts no proxy
  const doc = parse(readFileSync(a.configFile, 'utf8')) as Record<string, Record<string, unknown>>;
  writeFileSync(a.configFile, stringify({ ...doc, webmail: { trusted_proxies: ['127.0.0.1'] } }));
  untrustedPort = await freePort();
  const untrustedFile = join(a.dir, 'postern-untrusted.toml');
  writeFileSync(untrustedFile, stringify({ ...doc, listen: { ...doc['listen'], webmail: `127.0.0.1:${untrustedPort}` } }));
  [webmail, untrusted] = await Promise.all([spawnWebmail(a.configFile, a.retrieval.webmail), spawnWebmail(untrustedFile, untrustedPort)]);
});

afterAll(async () => {
  await Promise.all([webmail?.stop(), untrusted?.stop()]);
  await a?.stop();
});

async function imapLogin(from: string, user: string, pass: string): Promise<Outcome> {
  const t = await Talk.open(a.retrieval.imap, { localAddress: from });
  try {
    await t.until(/^\* OK.*\r\n/m);
    await t.write(`a AUTHENTICATE PLAIN ${plain(user, pass)}\r\n`);
    const reply = await t.until(/^a (?:OK|NO|BAD)[^\r\n]*\r\n/m);
    if (/^a OK/m.test(reply)) return 'ok';
    if (/^a NO \[AUTHENTICATIONFAILED\]/m.test(reply)) return 'failed';
    if (/^a NO \[UNAVAILABLE\]/m.test(reply)) return 'refused';
    throw new Error(`unexpected IMAP reply ${reply}`);
  } finally {
    t.close();
  }
}

async function pop3Login(from: string, user: string, pass: string): Promise<Outcome> {
  const t = await Talk.open(a.retrieval.pop3, { localAddress: from });
  try {
    await t.until(/^\+OK.*\r\n/m);
    await t.write(`AUTH PLAIN ${plain(user, pass)}\r\n`);
    const reply = await t.until(/^[+-][^\r\n]*\r\n/m);
    if (reply.startsWith('+OK')) {
      await t.write('QUIT\r\n'); // gives the maildrop back
      await t.waitClosed(5000);
      return 'ok';
    }
    if (reply.startsWith('-ERR [AUTH]')) return 'failed';
    if (reply.startsWith('-ERR [LOGIN-DELAY]')) return 'refused';
    throw new Error(`unexpected POP3 reply ${reply}`);
  } finally {
    t.close();
  }
}

async function smtpLogin(from: string, user: string, pass: string): Promise<Outcome> {
  const t = await Talk.open(a.ports.submission, { localAddress: from });
  try {
    await t.smtpReply();
    await t.smtp('EHLO client.example');
    const reply = await t.smtp(`AUTH PLAIN ${plain(user, pass)}`);
    if (reply.startsWith('235')) return 'ok';
    if (reply.startsWith('535')) return 'failed';
    if (reply.startsWith('454')) return 'refused';
    throw new Error(`unexpected SMTP reply ${reply}`);
  } finally {
    t.close();
  }
}

/** A browser at `ip` behind the trusted proxy. */
const browser = (ip: string, port = a.retrieval.webmail): WebmailClient => new WebmailClient(`http://127.0.0.1:${port}`, { 'x-forwarded-for': ip });

async function webmailLogin(client: WebmailClient, user: string, pass: string): Promise<Outcome> {
  await client.get('/login');
  const r = await client.post('/login', new URLSearchParams({ user, password: pass }));
  if (r.status === 303) return 'ok';
  if (r.status === 401) return 'failed';
  if (r.status === 429) return 'refused';
  throw new Error(`unexpected webmail answer ${r.status} ${r.body.slice(0, 300)}`);
}

const tally = (outcomes: Outcome[]): Record<Outcome, number> => ({
  ok: outcomes.filter((o) => o === 'ok').length,
  failed: outcomes.filter((o) => o === 'failed').length,
  refused: outcomes.filter((o) => o === 'refused').length,
});

describe('a locked account locks out strangers, not its owner', () => {
  it('keeps IMAP, POP3, SMTP AUTH and the webmail open to a source that logged in before', async () => {
    const owner = '127.0.0.2';
    const ownerBrowser = '198.51.100.7';
    expect(await imapLogin(owner, 'alice@a.test', users.alice)).toBe('ok');
    expect(await pop3Login(owner, 'alice@a.test', users.alice)).toBe('ok');
    expect(await smtpLogin(owner, 'alice@a.test', users.alice)).toBe('ok');
    const session = browser(ownerBrowser);
    await session.login('alice@a.test', users.alice);

    // the attack: wrong passwords from one address until the account is locked
    const guesses: Outcome[] = [];
    for (let i = 0; i < LIMIT_ACCOUNT + 2; i++) guesses.push(await imapLogin('127.0.0.3', 'alice@a.test', `guess-${i}`));
    console.log(`attacker's ${guesses.length} guesses: ${JSON.stringify(tally(guesses))}`);
    expect(tally(guesses)).toEqual({ ok: 0, failed: LIMIT_ACCOUNT, refused: 2 });
    // the attacker, or any other stranger, is refused even with the right password
    expect(await imapLogin('127.0.0.3', 'alice@a.test', users.alice)).toBe('refused');
    expect(await imapLogin('127.0.0.4', 'alice@a.test', users.alice)).toBe('refused');
    expect(await pop3Login('127.0.0.4', 'alice@a.test', users.alice)).toBe('refused');
    expect(await smtpLogin('127.0.0.4', 'alice@a.test', users.alice)).toBe('refused');
    expect(await webmailLogin(browser('203.0.113.66'), 'alice@a.test', users.alice)).toBe('refused');

    // the owner is not locked out anywhere
    const ownerNow = {
      imap: await imapLogin(owner, 'alice@a.test', users.alice),
      pop3: await pop3Login(owner, 'alice@a.test', users.alice),
      smtp: await smtpLogin(owner, 'alice@a.test', users.alice),
      webmail: await webmailLogin(browser(ownerBrowser), 'alice@a.test', users.alice),
    };
    console.log(`owner during the lockout: ${JSON.stringify(ownerNow)}`);
    expect(ownerNow).toEqual({ imap: 'ok', pop3: 'ok', smtp: 'ok', webmail: 'ok' });

    // the webmail session still sends: its SMTP login comes from the webmail's own address,
    // which the relayed IMAP login made a known source of the account
    await session.get('/compose');
    const form = new FormData();
    for (const [k, v] of Object.entries({ to: 'alice@a.test', subject: 'sent during the lockout', body: 'still here' })) form.set(k, v);
    const sent = await session.post('/compose', form);
    console.log(`owner's webmail sends during the lockout: ${sent.status} ${sent.headers.get('location') ?? sent.body.slice(0, 200)}`);
    expect(sent.status).toBe(303);

    // the open webmail session outlives its IMAP connection: it logs in again as its browser
    expect((await session.get('/list?f=INBOX')).status).toBe(200);
    await a.restart('delivery');
    await waitFor(async () => (await session.get('/list?f=INBOX')).status === 200, 20_000, 'the session to reconnect', 200);
  });
});

describe('one throttle for every spelling, protocol and process', () => {
  it('counts "u"@dom, u@dom., a leading space and u@DOM. against one account', async () => {
    const tries: Array<[string, (from: string, user: string, pass: string) => Promise<Outcome>, string]> = [
      ['imap', imapLogin, 'bob@a.test'],
      ['pop3', pop3Login, '"bob"@a.test'],
      ['submission', smtpLogin, 'bob@a.test.'],
      ['imap', imapLogin, ' bob@a.test'],
      ['pop3', pop3Login, 'BOB@A.TEST.'],
      ['submission', smtpLogin, 'Bob@A.test'],
      ['imap', imapLogin, '"BOB"@a.test.'],
      ['webmail', (_from, user, pass) => webmailLogin(browser('192.0.2.77'), user, pass), 'bob@A.TEST'],
    ];
    const outcomes: Outcome[] = [];
    // each guess from its own address: only the account's count can stop them
    for (const [i, [, login, name]] of tries.entries()) outcomes.push(await login(`127.0.1.${i + 1}`, name, `guess-${i}`));
    console.log(`spellings: ${tries.map(([proto, , name], i) => `${proto} ${JSON.stringify(name)} ${outcomes[i]}`).join('; ')}`);
    expect(tally(outcomes)).toEqual({ ok: 0, failed: LIMIT_ACCOUNT, refused: tries.length - LIMIT_ACCOUNT });
    expect(await imapLogin('127.0.1.50', '"bob"@A.TEST.', users.bob)).toBe('refused');
  });
});

describe('parallel guesses', () => {
  const N = 20;

  it(`IMAP: of ${N} parallel wrong logins at most the limit are checked`, async () => {
    const outcomes = await Promise.all(Array.from({ length: N }, (_, i) => imapLogin('127.0.2.1', 'carol@a.test', `guess-${i}`)));
    console.log(`IMAP, ${N} parallel wrong logins: ${JSON.stringify(tally(outcomes))} (limit ${LIMIT_ACCOUNT})`);
    expect(tally(outcomes).failed).toBeLessThanOrEqual(LIMIT_ACCOUNT);
    expect(tally(outcomes).ok).toBe(0);
  });

  it(`webmail: of ${N} parallel wrong logins at most the limit are checked`, async () => {
    const clients = Array.from({ length: N }, () => browser('192.0.2.22'));
    await Promise.all(clients.map((c) => c.get('/login')));
    const outcomes = await Promise.all(
      clients.map(async (c, i) => {
        const r = await c.post('/login', new URLSearchParams({ user: 'dave@a.test', password: `guess-${i}` }));
        return r.status === 401 ? 'failed' : r.status === 429 ? 'refused' : r.status === 303 ? 'ok' : (`status ${r.status}` as never);
      }),
    );
    console.log(`webmail, ${N} parallel wrong logins: ${JSON.stringify(tally(outcomes))} (limit ${LIMIT_ACCOUNT})`);
    expect(tally(outcomes).failed).toBeLessThanOrEqual(LIMIT_ACCOUNT);
    expect(tally(outcomes).failed + tally(outcomes).refused).toBe(N);
  });

  it(`submission: of ${N} parallel wrong logins at most the limit are checked`, async () => {
    const outcomes = await Promise.all(Array.from({ length: N }, (_, i) => smtpLogin('127.0.2.3', 'erin@a.test', `guess-${i}`)));
    console.log(`submission, ${N} parallel wrong logins: ${JSON.stringify(tally(outcomes))} (limit ${LIMIT_ACCOUNT})`);
    expect(tally(outcomes).failed).toBeLessThanOrEqual(LIMIT_ACCOUNT);
    expect(tally(outcomes).ok).toBe(0);
  });
});

describe('X-Forwarded-For', () => {
  it('is believed from a trusted proxy, and then only the address that proxy saw', async () => {
    // a spray over many accounts through the proxy exhausts the attacker's own address
    const spray: Outcome[] = [];
    for (let i = 0; i < LIMIT_IP; i++) spray.push(await webmailLogin(browser('203.0.113.1'), `ghost${i}@a.test`, 'Summer2024!'));
    expect(tally(spray).failed).toBe(LIMIT_IP);
    expect(await webmailLogin(browser('203.0.113.1'), 'frank@a.test', users.frank)).toBe('refused');
    // claiming another address in front of the proxy's entry does not help
    expect(await webmailLogin(browser('198.51.100.5, 203.0.113.1'), 'frank@a.test', users.frank)).toBe('refused');
    // another browser behind the same proxy is not locked out by the first one
    expect(await webmailLogin(browser('203.0.113.2'), 'frank@a.test', users.frank)).toBe('ok');
    expect(webmail.logs()).toMatch(/"ip":"203\.0\.113\.1".*webmail login failed/);
  });

  it('is ignored from a peer that is not a trusted proxy (rotating it gives no fresh guesses)', async () => {
    // this locks 127.0.0.1 itself out of the untrusted webmail: the last test of the file
    const outcomes: Outcome[] = [];
    for (let i = 0; i < LIMIT_IP + 2; i++) outcomes.push(await webmailLogin(browser(`198.18.0.${i + 1}`, untrustedPort), `nobody${i}@a.test`, 'Summer2024!'));
    console.log(`untrusted proxy, ${outcomes.length} guesses with rotating X-Forwarded-For: ${JSON.stringify(tally(outcomes))}`);
    expect(tally(outcomes)).toEqual({ ok: 0, failed: LIMIT_IP, refused: 2 });
    expect(untrusted.logs()).toMatch(/"ip":"127\.0\.0\.1".*webmail login failed/);
    expect(untrusted.logs()).not.toMatch(/"ip":"198\.18\./);
  });
});
