/**
 * Attack: an authenticated user sending as someone else through submission. The envelope sender
 * and every From:/Sender: address must be the user's own (RFC 6409 §6.1 and §8; `553 5.7.1`).
 * The header tricks below aim at the gap between the parser that checks and the parsers that
 * show (mail clients, our IMAP ENVELOPE, the webmail): so for anything accepted, the test also
 * reads the delivered message the way a client would and checks who it says wrote it.
 */
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../lib/instance.js';
import { createFullInstance, type FullInstance } from './lib/full-instance.js';
import { Talk } from '@postern/testkit';

let a: FullInstance;

beforeAll(async () => {
  a = await createFullInstance({ domain: 'a.test', users: { alice: 'alice-password', bob: 'bob-password', carol: 'carol-password' } });
  await a.start();
  a.db().accounts.addAlias('info@a.test', ['alice@a.test']);
});

afterAll(async () => {
  await a?.stop();
});

async function asAlice(): Promise<Talk> {
  const t = await Talk.open(a.ports.submission);
  await t.smtpReply();
  await t.smtp('EHLO client.example');
  expect(await t.smtp(`AUTH PLAIN ${Buffer.from('\0alice@a.test\0alice-password').toString('base64')}`)).toMatch(/^235 /);
  return t;
}

/** Submits `message` (CRLF-dot-stuffed by the caller where needed) and returns the DATA reply. */
async function submit(from: string, message: string): Promise<string> {
  const t = await asAlice();
  try {
    const mail = await t.smtp(`MAIL FROM:<${from}>`);
    if (!mail.startsWith('250')) return mail;
    expect(await t.smtp('RCPT TO:<carol@a.test>')).toMatch(/^250/);
    expect(await t.smtp('DATA')).toMatch(/^354/);
    await t.write(`${message}\r\n.\r\n`);
    return await t.smtpReply();
  } finally {
    t.close();
  }
}

describe('sender spoofing on submission', () => {
  it.each([
    ['another local user', 'bob@a.test'],
    ['a foreign address', 'ceo@bank.example'],
    ['the null sender (bounces are ours to send)', ''],
    ['a percent hack inside our domain', 'bob%a.test@a.test'],
    ['a quoted local part holding her own address', '"alice@a.test"@evil.example'],
    ['her local part at a foreign domain', 'alice@evil.example'],
    ['a look-alike domain (Cyrillic a)', 'alice@\u0430.test'],
    ['a source route ending at another user', '@a.test:bob@a.test'],
  ])('refuses the envelope sender: %s <%s>', async (_name, from) => {
    expect(await submit(from, 'Subject: x\r\n\r\nhi')).toMatch(/^553 5\.7\.1 |^5\d\d 5\.1\.[37] /);
  });

  it('accepts her own address, its case variants, her alias and her +detail (the positive control)', async () => {
    for (const from of ['alice@a.test', 'ALICE@A.test', 'info@a.test', 'alice+lists@a.test']) {
      expect(await submit(from, `From: <${from}>\r\nSubject: own ${from}\r\n\r\nhi`), from).toMatch(/^250 /);
    }
  });

  const HEADER_TRICKS: ReadonlyArray<[string, string]> = [
    ['another user', 'From: Bob <bob@a.test>'],
    ['her name, his address', 'From: "alice@a.test" <bob@a.test>'],
    ['a second author', 'From: alice@a.test, bob@a.test'],
    ['a second From: field', 'From: alice@a.test\r\nFrom: bob@a.test'],
    ['a From: folded over two lines', 'From: Alice\r\n <bob@a.test>'],
    ['a lower-case field name', 'from: bob@a.test'],
    ['white space before the colon (RFC 5322 §4.5 obs-syntax)', 'From : bob@a.test'],
    ['a tab before the colon', 'From\t: bob@a.test'],
    ['an encoded-word display name', 'From: =?utf-8?B?QWxpY2U=?= <bob@a.test>'],
    ['an encoded-word hiding the address', 'From: =?utf-8?Q?bob=40a=2Etest?='],
    ['a comment holding her address', 'From: bob@a.test (alice@a.test)'],
    ['a group', 'From: team: bob@a.test;'],
    ['a Sender: of another user', 'From: alice@a.test\r\nSender: bob@a.test'],
    ['an address in a route-addr', 'From: <@a.test:bob@a.test>'],
    ['a NUL before the address', 'From: alice\0 <bob@a.test>'],
    ['a bare-LF header section', 'From: bob@a.test\nSubject: lf only\n'],
    ['a bare-CR line break', 'Subject: cr\rFrom: bob@a.test'],
  ];

  it.each(HEADER_TRICKS)('refuses a From:/Sender: that is not hers: %s', async (_name, header) => {
    const tag = `spoof-${Math.random().toString(36).slice(2)}`;
    const reply = await submit('alice@a.test', `${header}\r\nX-Tag: ${tag}\r\nSubject: ${tag}\r\n\r\nhi`);
    if (/^553 5\.7\.1/.test(reply)) return;
    // Accepted: then no client may show anyone but alice as the author.
    expect(reply).toMatch(/^250 /);
    const msg = await waitFor(async () => (await a.messages('carol@a.test')).find((m) => m.raw.includes(tag)), 15_000, 'the accepted message');
    const parsed = await simpleParser(msg.raw);
    const shown = [...(parsed.from?.value ?? []), ...((parsed.headers.get('sender') as { value?: Array<{ address?: string }> } | undefined)?.value ?? [])]
      .map((v) => (v.address ?? '').toLowerCase())
      .filter((x) => x !== '');
    expect(
      shown.filter((x) => x !== 'alice@a.test'),
      `${header} was accepted and shows as`,
    ).toEqual([]);
  });
});

describe('trace fields and identities a client cannot claim on submission', () => {
  it('drops an Authentication-Results: naming our host and a Return-Path: (RFC 8601 §5, RFC 5321 §4.4)', async () => {
    const tag = `trace-${Math.random().toString(36).slice(2)}`;
    const forged = [
      `Authentication-Results: ${a.hostname}; dkim=pass header.d=bank.example; dmarc=pass header.from=bank.example`,
      `Authentication-Results: ${a.hostname.toUpperCase()}. (comment); spf=pass smtp.mailfrom=bank.example`,
      'Authentication-Results: mx.elsewhere.example; spf=none',
      'Return-Path: <ceo@bank.example>',
      'return-path:\r\n <ceo@bank.example>',
    ].join('\r\n');
    expect(await submit('alice@a.test', `${forged}\r\nFrom: alice@a.test\r\nSubject: ${tag}\r\n\r\nhi`)).toMatch(/^250 /);
    const msg = await waitFor(async () => (await a.messages('carol@a.test')).find((m) => m.raw.includes(tag)), 15_000, 'the submitted message');
    const header = msg.raw.slice(0, msg.raw.indexOf('\r\n\r\n'));
    // the one Return-Path is the delivery agent's, from the envelope
    expect(header.match(/^return-path:.*$/gim)).toEqual(['Return-Path: <alice@a.test>']);
    expect(header).not.toMatch(new RegExp(`^Authentication-Results: ${a.hostname.replace(/\./g, '\\.')}`, 'im'));
    // another host's results are that host's business (RFC 8601 §5 removes only our own)
    expect(header).toContain('Authentication-Results: mx.elsewhere.example; spf=none');
  });

  it('refuses AUTH PLAIN with another authorization identity (535 5.7.8), as IMAP and POP3 do', async () => {
    const t = await Talk.open(a.ports.submission);
    await t.smtpReply();
    await t.smtp('EHLO client.example');
    const asBob = (authzid: string): string => Buffer.from(`${authzid}\0alice@a.test\0alice-password`).toString('base64');
    expect(await t.smtp(`AUTH PLAIN ${asBob('bob@a.test')}`)).toMatch(/^535 5\.7\.8 /);
    expect(await t.smtp(`AUTH PLAIN ${asBob('ceo@bank.example')}`)).toMatch(/^535 5\.7\.8 /);
    // her own name as authzid is no change of identity (the positive control)
    expect(await t.smtp(`AUTH PLAIN ${asBob('Alice@A.test')}`)).toMatch(/^235 /);
    t.close();
  });
});
