/**
 * Two complete Postern instances on loopback, a.test and b.test, each routing the other's domain
 * to the other's MX port (transfer.routes): a message goes out through submission, across port
 * 25, into the other's mailbox, and a reply comes back. An unknown recipient at b.test is refused
 * at RCPT, and the sender gets an RFC 3464 DSN naming it.
 */
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInstance, type Instance } from '../lib/instance.js';

let a: Instance;
let b: Instance;

beforeAll(async () => {
  a = await createInstance({ domain: 'a.test', users: { alice: 'alice-password' } });
  b = await createInstance({ domain: 'b.test', users: { bob: 'bob-password' } });
  await a.start({ transfer: { routes: { 'b.test': `127.0.0.1:${b.ports.smtp}` } } });
  await b.start({ transfer: { routes: { 'a.test': `127.0.0.1:${a.ports.smtp}` } } });
});

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
});

function submit(inst: Instance, user: string, pass: string) {
  return nodemailer.createTransport({
    host: '127.0.0.1',
    port: inst.ports.submissions,
    secure: true,
    tls: { rejectUnauthorized: false },
    auth: { user, pass },
  });
}

describe('two instances', () => {
  it('alice@a.test writes to bob@b.test, and bob replies', async () => {
    const sent = await submit(a, 'alice@a.test', 'alice-password').sendMail({
      from: 'Alice <alice@a.test>',
      to: 'Bob <bob@b.test>',
      subject: 'Across the wire',
      text: 'Hello from a.test, with ünïcödé.',
    });
    expect(sent.accepted).toEqual(['bob@b.test']);
    const [got] = await b.waitForMessages('bob@b.test', 1);
    expect(got!.raw).toMatch(/Subject: Across the wire/);
    // our Received: on both hops: ESMTPSA at a's submission, ESMTPS (STARTTLS) at b's MX
    expect(got!.raw).toMatch(/by mail\.b\.test\s+with ESMTPS/);
    expect(got!.raw).toMatch(/by mail\.a\.test\s+with ESMTPSA/);
    const messageId = /^Message-ID: (.+)$/im.exec(got!.raw)![1]!.trim();

    await submit(b, 'bob@b.test', 'bob-password').sendMail({
      from: 'bob@b.test',
      to: 'alice@a.test',
      subject: 'Re: Across the wire',
      inReplyTo: messageId,
      text: 'Got it.',
    });
    const [reply] = await a.waitForMessages('alice@a.test', 1);
    expect(reply!.raw).toMatch(/Subject: Re: Across the wire/);
    expect(reply!.raw).toContain(messageId);
  });

  it('an unknown recipient at b.test comes back to alice as a DSN naming it', async () => {
    const before = (await a.messages('alice@a.test')).length;
    await submit(a, 'alice@a.test', 'alice-password').sendMail({
      envelope: { from: 'alice@a.test', to: ['nobody@b.test', 'bob@b.test'] },
      raw: 'From: alice@a.test\r\nTo: nobody@b.test, bob@b.test\r\nSubject: To someone missing\r\n\r\nAnyone?\r\n',
    });
    const list = await a.waitForMessages('alice@a.test', before + 1);
    const dsn = list[list.length - 1]!.raw;
    expect(dsn).toMatch(/^Return-Path: <>/m);
    expect(dsn).toMatch(/From: Mail Delivery System <MAILER-DAEMON@mail\.a\.test>/);
    expect(dsn).toMatch(/Content-Type: multipart\/report; report-type=delivery-status/);
    expect(dsn).toMatch(/Final-Recipient: rfc822; nobody@b\.test/);
    expect(dsn).toMatch(/Action: failed/);
    expect(dsn).toMatch(/Status: 5\.1\.1/);
    expect(dsn).toMatch(/Diagnostic-Code: smtp; 550 5\.1\.1/);
    expect(dsn).toMatch(/Subject: To someone missing/); // the original header is attached
    expect(dsn).not.toMatch(/Final-Recipient: rfc822; bob@b\.test/);
    // bob still got his copy
    await b.waitForMessages('bob@b.test', 2);
    // and the queue is empty on both sides
    expect(a.withQueue((q) => q.counts().messages)).toBe(0);
  });
});
