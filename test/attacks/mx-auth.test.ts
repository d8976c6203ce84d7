/**
 * Attack: AUTH on port 25 as a way around submission's rules. Authenticated on the MX after
 * STARTTLS, a user could once send as `bob@…` or `ceo@bank.example`, unsigned, to the outside.
 * The MX now offers no AUTH at all (as Postfix's smtpd on 25 by default): EHLO lists none, the
 * command gets `503 5.5.1`, and relaying stays refused. Submission, the one door for users,
 * keeps AUTH and its sender checks (the positive control).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeRemote, type FakeRemote } from '../lib/fake-remote.js';
import { waitFor } from '../lib/instance.js';
import { createFullInstance, type FullInstance } from './lib/full-instance.js';
import { Talk } from '@postern/testkit';

const plain = (user: string, pass: string): string => Buffer.from(`\0${user}\0${pass}`).toString('base64');

let a: FullInstance;
let foreign: FakeRemote;

beforeAll(async () => {
  foreign = await startFakeRemote();
  a = await createFullInstance({ domain: 'a.test', users: { alice: 'alice-password', bob: 'bob-password' } });
  // production: AUTH only after TLS, as on the internet
  await a.start({ profile: 'production', transfer: { routes: { 'bank.example': `127.0.0.1:${foreign.port}` } } });
});

afterAll(async () => {
  await a?.stop();
  await foreign?.close();
});

/** Greeting, EHLO, STARTTLS, EHLO again; returns the session and the EHLO reply after TLS. */
async function overTls(port: number): Promise<{ t: Talk; ehlo: string }> {
  const t = await Talk.open(port);
  expect(await t.smtpReply()).toMatch(/^220 /);
  await t.smtp('EHLO client.example');
  expect(await t.smtp('STARTTLS')).toMatch(/^220 /);
  await t.upgrade();
  return { t, ehlo: await t.smtp('EHLO client.example') };
}

describe('port 25 offers no AUTH', () => {
  it('before STARTTLS: not in EHLO, and AUTH gets 503 5.5.1', async () => {
    const t = await Talk.open(a.ports.smtp);
    await t.smtpReply();
    expect(await t.smtp('EHLO client.example')).not.toMatch(/AUTH/);
    expect(await t.smtp(`AUTH PLAIN ${plain('alice@a.test', 'alice-password')}`)).toMatch(/^503 5\.5\.1 /);
    t.close();
  });

  it('after STARTTLS: not in EHLO, AUTH PLAIN and LOGIN get 503 5.5.1, and a spoofed sender cannot relay', async () => {
    const { t, ehlo } = await overTls(a.ports.smtp);
    expect(ehlo).not.toMatch(/AUTH/);
    expect(await t.smtp(`AUTH PLAIN ${plain('alice@a.test', 'alice-password')}`)).toMatch(/^503 5\.5\.1 /);
    expect(await t.smtp('AUTH LOGIN')).toMatch(/^503 5\.5\.1 /);
    for (const from of ['bob@a.test', 'ceo@bank.example']) {
      expect(await t.smtp(`MAIL FROM:<${from}>`)).toMatch(/^250/);
      expect(await t.smtp('RCPT TO:<victim@bank.example>')).toMatch(/^554 5\.7\.1 /);
      expect(await t.smtp('RSET')).toMatch(/^250/);
    }
    t.close();
    expect(a.withQueue((q) => q.list()).flatMap((m) => m.recipients)).toEqual([]);
    expect(foreign.received).toEqual([]);
  });
});

describe('submission keeps AUTH and the sender rules', () => {
  it('alice cannot send as bob or ceo@bank.example; as herself the mail goes out DKIM-signed', async () => {
    const { t, ehlo } = await overTls(a.ports.submission);
    expect(ehlo).toMatch(/AUTH PLAIN LOGIN/);
    expect(await t.smtp(`AUTH PLAIN ${plain('alice@a.test', 'alice-password')}`)).toMatch(/^235 /);
    for (const from of ['bob@a.test', 'ceo@bank.example']) expect(await t.smtp(`MAIL FROM:<${from}>`)).toMatch(/^553 5\.7\.1 /);
    expect(await t.smtp('MAIL FROM:<alice@a.test>')).toMatch(/^250/);
    expect(await t.smtp('RCPT TO:<victim@bank.example>')).toMatch(/^250/);
    expect(await t.smtp('DATA')).toMatch(/^354/);
    expect(await t.smtp('From: Bob <bob@a.test>\r\nSubject: spoof\r\n\r\nhi\r\n.')).toMatch(/^553 5\.7\.1 /);
    expect(await t.smtp('MAIL FROM:<alice@a.test>')).toMatch(/^250/);
    expect(await t.smtp('RCPT TO:<victim@bank.example>')).toMatch(/^250/);
    expect(await t.smtp('DATA')).toMatch(/^354/);
    expect(await t.smtp('From: Alice <alice@a.test>\r\nSubject: honest\r\n\r\nhi\r\n.')).toMatch(/^250 /);
    t.close();
    const got = await waitFor(() => foreign.received.find((m) => m.data.includes('Subject: honest')), 15_000, 'the honest message at bank.example');
    expect(got.from).toBe('alice@a.test');
    expect(got.data).toMatch(/^DKIM-Signature: /m);
    expect(foreign.received.filter((m) => m.data.includes('Subject: spoof'))).toEqual([]);
  });
});
