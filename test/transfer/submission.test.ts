/**
 * Submission (RFC 6409) conversations against a complete instance in the production profile
 * (AUTH only after STARTTLS even on loopback), with nodemailer and with a raw socket.
 */
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInstance, waitFor, type Instance } from '../lib/instance.js';
import { Talk } from '@postern/testkit';

let a: Instance;

beforeAll(async () => {
  a = await createInstance({ domain: 'a.test', users: { alice: 'alice-password', bob: 'bob-password', carol: 'carol-password' } });
  await a.start({
    profile: 'production',
    limits: { message_size: 100_000, recipients: 3 },
    auth: { max_failures_per_account: 3, failure_delay: '10ms' },
  });
  a.db().accounts.addAlias('info@a.test', ['alice@a.test']);
});

afterAll(async () => {
  await a?.stop();
});

function client(user: string, pass: string) {
  return nodemailer.createTransport({
    host: '127.0.0.1',
    port: a.ports.submission,
    secure: false,
    requireTLS: true,
    tls: { rejectUnauthorized: false },
    auth: { user, pass },
  });
}

interface SmtpError extends Error {
  responseCode?: number;
  response?: string;
}

async function sendError(p: Promise<unknown>): Promise<SmtpError> {
  try {
    await p;
  } catch (err) {
    return err as SmtpError;
  }
  throw new Error('expected the server to refuse');
}

describe('submission', () => {
  it('offers AUTH only after STARTTLS and wants AUTH before MAIL', async () => {
    const t = await Talk.open(a.ports.submission);
    expect(await t.smtpReply()).toMatch(/^220 /);
    const ehlo = await t.smtp('EHLO client.test');
    expect(ehlo).toMatch(/STARTTLS/);
    expect(ehlo).not.toMatch(/AUTH/);
    expect(await t.smtp(`AUTH PLAIN ${Buffer.from('\0alice@a.test\0alice-password').toString('base64')}`)).toMatch(/^5\d\d /);
    expect(await t.smtp('MAIL FROM:<alice@a.test>')).toMatch(/^530 5\.7\.0/);
    expect(await t.smtp('STARTTLS')).toMatch(/^220 /);
    await t.upgrade();
    expect(await t.smtp('EHLO client.test')).toMatch(/AUTH PLAIN LOGIN/);
    expect(await t.smtp(`AUTH PLAIN ${Buffer.from('\0alice@a.test\0alice-password').toString('base64')}`)).toMatch(/^235 /);
    expect(await t.smtp('MAIL FROM:<alice@a.test>')).toMatch(/^250 /);
    t.close();
  });

  it('refuses a wrong password with 535 5.7.8', async () => {
    const err = await sendError(client('bob@a.test', 'not-the-password').verify());
    expect(err.responseCode).toBe(535);
    expect(err.response).toMatch(/5\.7\.8/);
  });

  it('locks an account out with 454 4.7.0 after repeated failures, even for the right password', async () => {
    for (let i = 0; i < 3; i++) await sendError(client('carol@a.test', 'wrong-password').verify());
    const err = await sendError(client('carol@a.test', 'carol-password').verify());
    expect(err.responseCode).toBe(454);
    expect(err.response).toMatch(/4\.7\.0/);
    expect(a.logs('submission')).not.toMatch(/wrong-password|carol-password/);
  });

  it('refuses to send as someone else, in the envelope and in From:', async () => {
    const c = client('alice@a.test', 'alice-password');
    const env = await sendError(c.sendMail({ envelope: { from: 'bob@a.test', to: ['bob@a.test'] }, raw: 'Subject: x\r\n\r\nhi\r\n' }));
    expect(env.responseCode).toBe(553);
    expect(env.response).toMatch(/^553 5\.7\.1/);
    const hdr = await sendError(
      c.sendMail({ envelope: { from: 'alice@a.test', to: ['bob@a.test'] }, raw: 'From: Bob <bob@a.test>\r\nSubject: x\r\n\r\nhi\r\n' }),
    );
    expect(hdr.responseCode).toBe(553);
    expect(hdr.response).toMatch(/^553 5\.7\.1/);
    // an alias of the user, with +detail, is hers to use
    const ok = await c.sendMail({ envelope: { from: 'info+x@a.test', to: ['bob@a.test'] }, raw: 'From: <info@a.test>\r\nSubject: alias\r\n\r\nhi\r\n' });
    expect(ok.accepted).toEqual(['bob@a.test']);
  });

  it('refuses a message over the size limit with 552 5.3.4', async () => {
    const big = `Subject: big\r\n\r\n${'x'.repeat(76)}\r\n`.repeat(1) + `${'y'.repeat(70)}\r\n`.repeat(2000);
    const err = await sendError(client('alice@a.test', 'alice-password').sendMail({ envelope: { from: 'alice@a.test', to: ['bob@a.test'] }, raw: big }));
    expect(err.responseCode).toBe(552);
    expect(err.response).toMatch(/5\.3\.4/);
  });

  it('refuses recipients past the limit with 452 4.5.3', async () => {
    const t = await Talk.open(a.ports.submission);
    await t.smtpReply();
    await t.smtp('EHLO client.test');
    await t.smtp('STARTTLS');
    await t.upgrade();
    await t.smtp('EHLO client.test');
    expect(await t.smtp(`AUTH PLAIN ${Buffer.from('\0alice@a.test\0alice-password').toString('base64')}`)).toMatch(/^235/);
    expect(await t.smtp('MAIL FROM:<alice@a.test>')).toMatch(/^250/);
    for (const n of [1, 2, 3]) expect(await t.smtp(`RCPT TO:<r${n}@remote.test>`)).toMatch(/^250/);
    expect(await t.smtp('RCPT TO:<r4@remote.test>')).toMatch(/^452 4\.5\.3/);
    expect(await t.smtp('RSET')).toMatch(/^250/);
    expect(await t.smtp('QUIT')).toMatch(/^221/);
    t.close();
  });

  it('refuses an unknown user of a local domain at RCPT with 550 5.1.1, and only that recipient', async () => {
    const info = await client('alice@a.test', 'alice-password')
      .sendMail({ envelope: { from: 'alice@a.test', to: ['nobody@a.test', 'carol@a.test'] }, raw: 'Subject: who\r\n\r\nhi\r\n' })
      .catch((e: SmtpError & { rejectedErrors?: SmtpError[] }) => e);
    expect('accepted' in info ? info.accepted : []).toEqual(['carol@a.test']);
    const rejected = 'rejectedErrors' in info ? (info.rejectedErrors ?? []) : [];
    expect(rejected.map((e) => e.response)).toEqual([expect.stringMatching(/^550 5\.1\.1 <nobody@a\.test>: no such user here/)]);
  });

  it('delivers a good message to a local mailbox with Message-ID, Date and Received added', async () => {
    const info = await client('alice@a.test', 'alice-password').sendMail({
      envelope: { from: 'alice@a.test', to: ['bob@a.test'] },
      raw: 'From: Alice <alice@a.test>\r\nTo: bob@a.test\r\nSubject: hello bob\r\n\r\nHi Bob!\r\n',
    });
    expect(info.response).toMatch(/^250 2\.6\.0 .*queued as (\w+)/);
    const id = /queued as (\w+)/.exec(info.response)![1]!;
    // Its own message, by queue id: mail an earlier test sent to bob may still be arriving.
    const raw = await waitFor(async () => (await a.messages('bob@a.test')).find((m) => m.raw.includes(`id ${id};`))?.raw, 15_000, `message ${id} for bob`);
    expect(raw).toMatch(/Subject: hello bob/);
    expect(raw).toMatch(/^Message-ID: <.+@mail\.a\.test>/m);
    expect(raw).toMatch(/^Date: /m);
    expect(raw).toMatch(new RegExp(`Received: from client|Received: from \\S+[\\s\\S]*with ESMTPSA[\\s\\S]*id ${id}`));
    expect(raw).toMatch(/Hi Bob!/);
  });
});
