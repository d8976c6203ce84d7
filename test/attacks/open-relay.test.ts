/**
 * Attack: using Postern as an open relay. Every old trick for getting an MX to pass mail on to a
 * foreign domain, unauthenticated, on port 25 and on submission. `foreign.example` is routed to a
 * recording SMTP server on loopback, so "refused" is proven twice: by the reply, and by nothing
 * ever reaching that server or waiting in the queue for it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeRemote, type FakeRemote } from '../lib/fake-remote.js';
import { createFullInstance, type FullInstance } from './lib/full-instance.js';
import { Talk } from '@postern/testkit';

let a: FullInstance;
let foreign: FakeRemote;

beforeAll(async () => {
  foreign = await startFakeRemote();
  a = await createFullInstance({ domain: 'a.test', users: { alice: 'alice-password' } });
  await a.start({ transfer: { routes: { 'foreign.example': `127.0.0.1:${foreign.port}`, '[192.0.2.1]': `127.0.0.1:${foreign.port}` } } });
});

afterAll(async () => {
  await a?.stop();
  await foreign?.close();
});

async function mxSession(port = a.ports.smtp): Promise<Talk> {
  const t = await Talk.open(port);
  expect(await t.smtpReply()).toMatch(/^220 /);
  expect(await t.smtp('EHLO attacker.example')).toMatch(/^250[ -]/);
  return t;
}

/** Nothing for a foreign domain may sit in the queue or have reached the foreign server. */
function assertNothingRelayed(): void {
  const queued = a.withQueue((q) => q.list()).flatMap((m) => m.recipients);
  expect(queued.filter((r) => !/@a\.test$/i.test(r))).toEqual([]);
  expect(foreign.received).toEqual([]);
}

// Each is a way of writing "deliver to victim@foreign.example" that some MTA once honoured.
const TRICKS: ReadonlyArray<[string, string]> = [
  ['plain foreign domain', 'victim@foreign.example'],
  ['foreign domain in upper case', 'VICTIM@FOREIGN.EXAMPLE'],
  ['foreign domain with a trailing dot', 'victim@foreign.example.'],
  ['source route (RFC 5321 §4.1.1.3 / C)', '@a.test:victim@foreign.example'],
  ['source route through two hops', '@a.test,@mail.a.test:victim@foreign.example'],
  ['percent hack', 'victim%foreign.example@a.test'],
  ['percent hack, twice', 'victim%foreign.example%a.test@a.test'],
  ['quoted local part holding a foreign address', '"victim@foreign.example"@a.test'],
  ['quoted local part with a percent hack', '"victim%foreign.example"@a.test'],
  ['bang path (UUCP)', 'foreign.example!victim@a.test'],
  ['bang path without a domain', 'foreign.example!victim'],
  ['two at-signs', 'victim@foreign.example@a.test'],
  ['address literal', 'victim@[192.0.2.1]'],
  ['IPv6 address literal', 'victim@[IPv6:2001:db8::1]'],
  ['no domain at all', 'victim'],
  ['postmaster of a foreign domain', 'postmaster@foreign.example'],
  ['local domain as a suffix of a foreign one', 'victim@a.test.foreign.example'],
  ['foreign domain as a subdomain lookalike', 'victim@foreign.example\\@a.test'],
];

describe('open relay tricks on port 25 (unauthenticated)', () => {
  it.each(TRICKS)('refuses %s: <%s>', async (_name, rcpt) => {
    const t = await mxSession();
    expect(await t.smtp('MAIL FROM:<attacker@elsewhere.example>')).toMatch(/^250/);
    const reply = await t.smtp(`RCPT TO:<${rcpt}>`);
    expect(reply, rcpt).toMatch(/^5\d\d 5\.\d+\.\d+ /);
    // With no recipient accepted there is nothing to send data to (RFC 5321 §3.3: 503 or 554).
    expect(await t.smtp('DATA')).toMatch(/^5\d\d/);
    await t.smtp('QUIT');
    t.close();
    assertNothingRelayed();
  });

  it('refuses the same tricks written without angle brackets and with odd spacing', async () => {
    const t = await mxSession();
    expect(await t.smtp('MAIL FROM:<attacker@elsewhere.example>')).toMatch(/^250/);
    for (const line of [
      'RCPT TO: victim@foreign.example',
      'RCPT TO:  <victim@foreign.example>',
      'rcpt to:<victim@foreign.example>',
      'RCPT TO:<victim@foreign.example> NOTIFY=NEVER',
    ]) {
      expect(await t.smtp(line), line).toMatch(/^5\d\d /);
    }
    await t.smtp('QUIT');
    t.close();
    assertNothingRelayed();
  });

  it('delivers a mixed message only to the local recipient', async () => {
    const t = await mxSession();
    expect(await t.smtp('MAIL FROM:<attacker@elsewhere.example>')).toMatch(/^250/);
    expect(await t.smtp('RCPT TO:<victim@foreign.example>')).toMatch(/^554 5\.7\.1/);
    expect(await t.smtp('RCPT TO:<alice@a.test>')).toMatch(/^250/);
    expect(await t.smtp('RCPT TO:<victim%foreign.example@a.test>')).toMatch(/^5/);
    expect(await t.smtp('DATA')).toMatch(/^354/);
    expect(await t.smtp('Subject: mixed relay attempt\r\n\r\nhello\r\n.')).toMatch(/^250/);
    await t.smtp('QUIT');
    t.close();
    const got = await a.waitForMessages('alice@a.test', 1);
    expect(got.some((m) => m.raw.includes('Subject: mixed relay attempt'))).toBe(true);
    assertNothingRelayed();
  });

  it('does not relay after an AUTH attempt (port 25 offers none: mx-auth.test.ts)', async () => {
    const t = await mxSession();
    const good = Buffer.from('\0alice@a.test\0alice-password').toString('base64');
    expect(await t.smtp(`AUTH PLAIN ${good}`)).toMatch(/^503 5\.5\.1 /);
    expect(await t.smtp('AUTH LOGIN')).toMatch(/^503 5\.5\.1 /);
    expect(await t.smtp('MAIL FROM:<alice@a.test>')).toMatch(/^250/);
    expect(await t.smtp('RCPT TO:<victim@foreign.example>')).toMatch(/^554 5\.7\.1/);
    await t.smtp('QUIT');
    t.close();
    assertNothingRelayed();
  });

  it('does not relay for a client that claims to be us in HELO or MAIL FROM', async () => {
    const t = await Talk.open(a.ports.smtp);
    await t.smtpReply();
    expect(await t.smtp(`EHLO ${a.hostname}`)).toMatch(/^250/);
    expect(await t.smtp('MAIL FROM:<alice@a.test>')).toMatch(/^250/);
    expect(await t.smtp('RCPT TO:<victim@foreign.example>')).toMatch(/^554 5\.7\.1/);
    await t.smtp('QUIT');
    t.close();
    assertNothingRelayed();
  });
});

describe('a bare postmaster (RFC 5321 §4.5.1)', () => {
  it("accepts RCPT TO:<postmaster> and delivers it to the primary domain's postmaster", async () => {
    a.db().accounts.addAlias('postmaster@a.test', ['alice@a.test']);
    const t = await mxSession();
    expect(await t.smtp('MAIL FROM:<reporter@elsewhere.example>')).toMatch(/^250/);
    expect(await t.smtp('RCPT TO:<postmaster>')).toMatch(/^250/);
    expect(await t.smtp('RCPT TO:<Postmaster>')).toMatch(/^250/);
    expect(await t.smtp('DATA')).toMatch(/^354/);
    expect(await t.smtp('Subject: to the bare postmaster\r\n\r\nhi\r\n.')).toMatch(/^250/);
    await t.smtp('QUIT');
    t.close();
    const got = await a.waitForMessages('alice@a.test', 1);
    const mine = got.filter((m) => m.raw.includes('Subject: to the bare postmaster'));
    expect(mine).toHaveLength(1);
    expect(mine[0]!.raw).toMatch(/^Delivered-To: postmaster@a\.test\r$/m);
    assertNothingRelayed();
  });
});

describe('open relay tricks on submission (unauthenticated)', () => {
  it('wants AUTH before MAIL, whatever the recipient looks like', async () => {
    const t = await mxSession(a.ports.submission);
    expect(await t.smtp('MAIL FROM:<alice@a.test>')).toMatch(/^530 5\.7\.0/);
    for (const [, rcpt] of TRICKS.slice(0, 6)) expect(await t.smtp(`RCPT TO:<${rcpt}>`)).toMatch(/^5\d\d /);
    expect(await t.smtp('DATA')).toMatch(/^5\d\d/);
    await t.smtp('QUIT');
    t.close();
    assertNothingRelayed();
  });
});
