/**
 * Attacks on authentication: guessing passwords (one account, or many accounts from one address)
 * must hit the throttle and then a lockout that holds even for the right password; and in the
 * production profile no password may travel in the clear on any port: AUTH is not offered
 * before TLS and is refused when tried anyway (RFC 4954 §4, RFC 8314, RFC 2595 §3.1 / §4).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Talk } from '@postern/testkit';
import { createFullInstance, type FullInstance } from './lib/full-instance.js';

const plain = (user: string, pass: string): string => Buffer.from(`\0${user}\0${pass}`).toString('base64');

async function smtpOpen(port: number): Promise<Talk> {
  const t = await Talk.open(port);
  expect(await t.smtpReply()).toMatch(/^220 /);
  return t;
}

async function imapOpen(port: number): Promise<Talk> {
  const t = await Talk.open(port);
  await t.until(/^\* OK.*\r\n/m);
  return t;
}

/** Sends a tagged IMAP command and returns everything up to and including its tagged reply. */
async function imap(t: Talk, tag: string, command: string): Promise<string> {
  await t.write(`${tag} ${command}\r\n`);
  return t.until(new RegExp(`^(?:.*\\r\\n)*?${tag} (?:OK|NO|BAD)[^\\r\\n]*\\r\\n`, 'm'));
}

async function pop3Open(port: number): Promise<Talk> {
  const t = await Talk.open(port);
  await t.until(/^\+OK.*\r\n/m);
  return t;
}

async function pop3(t: Talk, line: string): Promise<string> {
  await t.write(`${line}\r\n`);
  return (await t.until(/^[+-][^\r\n]*\r\n/m)).trimEnd();
}

describe('password guessing (development profile: AUTH allowed on loopback without TLS)', () => {
  let a: FullInstance;

  beforeAll(async () => {
    a = await createFullInstance({ domain: 'a.test', users: { alice: 'alice-password', bob: 'bob-password', carol: 'carol-password' } });
    // small limits, tiny delays: the throttle's shape, not its wall-clock cost, is under test
    await a.start({ auth: { max_failures_per_account: 3, max_failures_per_ip: 6, failure_delay: '1ms', lockout: '1h' } });
  });

  afterAll(async () => {
    await a?.stop();
  });

  it('submission: locks the account with 454 4.7.0 after repeated failures, and the right password stays refused', async () => {
    const t = await smtpOpen(a.ports.submission);
    await t.smtp('EHLO attacker.example');
    const replies: string[] = [];
    for (let i = 0; i < 5; i++) replies.push(await t.smtp(`AUTH PLAIN ${plain('alice@a.test', `guess-${i}`)}`));
    expect(replies.slice(0, 3).every((r) => r.startsWith('535 5.7.8'))).toBe(true);
    expect(replies.slice(3).every((r) => r.startsWith('454 4.7.0'))).toBe(true);
    // the attacker finally guesses right: still locked out
    expect(await t.smtp(`AUTH PLAIN ${plain('alice@a.test', 'alice-password')}`)).toMatch(/^454 4\.7\.0/);
    // case games do not give fresh attempts
    expect(await t.smtp(`AUTH PLAIN ${plain('ALICE@A.TEST', 'alice-password')}`)).toMatch(/^454 4\.7\.0/);
    // nor does AUTH LOGIN instead of PLAIN
    expect(await t.smtp('AUTH LOGIN')).toMatch(/^334 /);
    expect(await t.smtp(Buffer.from('alice@a.test').toString('base64'))).toMatch(/^334 /);
    expect(await t.smtp(Buffer.from('alice-password').toString('base64'))).toMatch(/^454 4\.7\.0/);
    expect(await t.smtp('MAIL FROM:<alice@a.test>')).toMatch(/^530 5\.7\.0/);
    t.close();
  });

  it('submission: a password spray over many accounts from one address locks the address', async () => {
    // alice's failures above count for this IP too
    const t = await smtpOpen(a.ports.submission);
    await t.smtp('EHLO attacker.example');
    const replies: string[] = [];
    for (const user of ['bob', 'carol', 'dave', 'erin', 'frank', 'grace']) replies.push(await t.smtp(`AUTH PLAIN ${plain(`${user}@a.test`, 'Summer2024!')}`));
    expect(replies.some((r) => r.startsWith('454 4.7.0'))).toBe(true);
    // carol's own password no longer helps from this address
    expect(await t.smtp(`AUTH PLAIN ${plain('carol@a.test', 'carol-password')}`)).toMatch(/^454 4\.7\.0/);
    t.close();
    // nor does opening new connections
    const u = await smtpOpen(a.ports.submission);
    await u.smtp('EHLO attacker.example');
    expect(await u.smtp(`AUTH PLAIN ${plain('bob@a.test', 'bob-password')}`)).toMatch(/^454 4\.7\.0/);
    u.close();
  });

  it('port 25 is no door for guessing: it offers no AUTH (mx-auth.test.ts)', async () => {
    const t = await smtpOpen(a.ports.smtp);
    expect(await t.smtp('EHLO attacker.example')).not.toMatch(/AUTH/);
    for (let i = 0; i < 4; i++) expect(await t.smtp(`AUTH PLAIN ${plain('bob@a.test', `guess-${i}`)}`)).toMatch(/^503 5\.5\.1 /);
    t.close();
  });

  it('IMAP and POP3 share one throttle: failures in one lock the other', async () => {
    const t = await imapOpen(a.retrieval.imap);
    const replies: string[] = [];
    for (let i = 0; i < 3; i++) replies.push(await imap(t, `a${i}`, `LOGIN carol@a.test guess-${i}`));
    expect(replies.every((r) => /a\d NO /.test(r))).toBe(true);
    expect(await imap(t, 'b1', 'LOGIN carol@a.test carol-password')).toMatch(/b1 NO \[UNAVAILABLE\]/);
    // AUTHENTICATE PLAIN (SASL-IR) is the same door
    expect(await imap(t, 'b2', `AUTHENTICATE PLAIN ${plain('carol@a.test', 'carol-password')}`)).toMatch(/b2 NO /);
    t.close();
    const p = await pop3Open(a.retrieval.pop3);
    expect(await pop3(p, 'USER carol@a.test')).toMatch(/^\+OK/);
    expect(await pop3(p, 'PASS carol-password')).toMatch(/^-ERR/);
    expect(await pop3(p, `AUTH PLAIN ${plain('carol@a.test', 'carol-password')}`)).toMatch(/^-ERR/);
    p.close();
  });
});

describe('AUTH on plaintext (production profile)', () => {
  let a: FullInstance;

  beforeAll(async () => {
    a = await createFullInstance({ domain: 'a.test', users: { alice: 'alice-password' } });
    await a.start({ profile: 'production', auth: { failure_delay: '1ms' } });
  });

  afterAll(async () => {
    await a?.stop();
  });

  // port 25 offers no AUTH at all, before or after STARTTLS: mx-auth.test.ts
  for (const port of ['submission'] as const) {
    it(`${port}: AUTH is neither offered nor accepted before STARTTLS, and works after it`, async () => {
      const t = await smtpOpen(a.ports[port]);
      const ehlo = await t.smtp('EHLO client.example');
      expect(ehlo).toContain('STARTTLS');
      expect(ehlo).not.toMatch(/AUTH/);
      expect(await t.smtp(`AUTH PLAIN ${plain('alice@a.test', 'alice-password')}`)).toMatch(/^5\d\d /);
      expect(await t.smtp('AUTH LOGIN')).toMatch(/^5\d\d /);
      if (port === 'submission') expect(await t.smtp('MAIL FROM:<alice@a.test>')).toMatch(/^530 5\.7\.0/);
      // the positive control: the same credentials over TLS
      expect(await t.smtp('STARTTLS')).toMatch(/^220 /);
      await t.upgrade();
      expect(await t.smtp('EHLO client.example')).toMatch(/AUTH PLAIN LOGIN/);
      expect(await t.smtp(`AUTH PLAIN ${plain('alice@a.test', 'alice-password')}`)).toMatch(/^235 /);
      t.close();
    });
  }

  it('IMAP: LOGINDISABLED before STARTTLS, LOGIN and AUTHENTICATE refused, both work after it', async () => {
    const t = await imapOpen(a.retrieval.imap);
    const caps = await imap(t, 'c1', 'CAPABILITY');
    expect(caps).toMatch(/LOGINDISABLED/);
    expect(caps).toMatch(/STARTTLS/);
    expect(await imap(t, 'c2', 'LOGIN alice@a.test alice-password')).toMatch(/c2 NO /);
    expect(await imap(t, 'c3', `AUTHENTICATE PLAIN ${plain('alice@a.test', 'alice-password')}`)).toMatch(/c3 (NO|BAD) /);
    expect(await imap(t, 'c4', 'SELECT INBOX')).toMatch(/c4 (NO|BAD) /);
    expect(await imap(t, 'c5', 'STARTTLS')).toMatch(/c5 OK/);
    await t.upgrade();
    expect(await imap(t, 'c6', 'CAPABILITY')).not.toMatch(/LOGINDISABLED/);
    expect(await imap(t, 'c7', 'LOGIN alice@a.test alice-password')).toMatch(/c7 OK/);
    t.close();
  });

  it('POP3: no USER/SASL before STLS, USER/PASS and AUTH refused, both work after it', async () => {
    const t = await pop3Open(a.retrieval.pop3);
    await t.write('CAPA\r\n');
    const capa = await t.until(/^\.\r\n/m);
    expect(capa).toMatch(/STLS/);
    expect(capa).not.toMatch(/^USER|^SASL/m);
    expect(await pop3(t, 'USER alice@a.test')).toMatch(/^-ERR/);
    expect(await pop3(t, 'PASS alice-password')).toMatch(/^-ERR/);
    expect(await pop3(t, `AUTH PLAIN ${plain('alice@a.test', 'alice-password')}`)).toMatch(/^-ERR/);
    expect(await pop3(t, 'STAT')).toMatch(/^-ERR/);
    expect(await pop3(t, 'STLS')).toMatch(/^\+OK/);
    await t.upgrade();
    expect(await pop3(t, 'USER alice@a.test')).toMatch(/^\+OK/);
    expect(await pop3(t, 'PASS alice-password')).toMatch(/^\+OK/);
    t.close();
  });
});
