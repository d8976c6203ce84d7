/**
 * Sieve across real instances (issue 19): bob@b.test writes to alice@a.test, whose script
 * forwards to carol@c.test. The forward leaves a.test with an SRS envelope sender of a.test and
 * an ARC seal; a bounce to that SRS address comes back to bob through a.test; a forged SRS
 * address is refused at RCPT. Alice's vacation reply reaches bob once, and never a list.
 */
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Talk } from '@postern/testkit';
import { ensureDomainKeys } from '@postern/trust';
import { createInstance, waitFor, type Instance } from '../lib/instance.js';

let a: Instance;
let b: Instance;
let c: Instance;

beforeAll(async () => {
  a = await createInstance({ domain: 'a.test', users: { alice: 'alice-password' } });
  b = await createInstance({ domain: 'b.test', users: { bob: 'bob-password' } });
  c = await createInstance({ domain: 'c.test', users: { carol: 'carol-password' } });
  const routes = (): Record<string, string> => ({
    'a.test': `127.0.0.1:${a.ports.smtp}`,
    'b.test': `127.0.0.1:${b.ports.smtp}`,
    'c.test': `127.0.0.1:${c.ports.smtp}`,
  });
  await a.start({ transfer: { routes: routes() } });
  await b.start({ transfer: { routes: routes() } });
  await c.start({ transfer: { routes: routes() } });
  // keys, as `postern domain add` makes them: the forward is ARC-sealed and the reply DKIM-signed with them
  for (const i of [a, b, c]) ensureDomainKeys(i.config, i.options.domain);
}, 120_000);

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop(), c?.stop()]);
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

async function activate(inst: Instance, address: string, script: string): Promise<void> {
  const m = inst.db();
  const id = m.accounts.findUser(address)!.id;
  await m.sieve.put(id, 'main', script, { maxScripts: 10, maxScriptSize: 65536 });
  await m.sieve.setActive(id, 'main');
}

describe('forwarding with SRS and ARC', () => {
  it('a redirect to another domain arrives with an SRS sender and an ARC seal; its bounce comes back to the sender', async () => {
    await activate(a, 'alice@a.test', 'require "copy"; redirect :copy "carol@c.test";');
    await submit(b, 'bob@b.test', 'bob-password').sendMail({ from: 'bob@b.test', to: 'alice@a.test', subject: 'Please pass this on', text: 'For Carol too.' });
    const [kept] = await a.waitForMessages('alice@a.test', 1);
    expect(kept!.raw).toMatch(/Subject: Please pass this on/);
    const [fwd] = await c.waitForMessages('carol@c.test', 1, 30_000);
    const srs = /^Return-Path: <(SRS0=[a-z2-7]{4}=[a-z2-7]{2}=b\.test=bob@a\.test)>/im.exec(fwd!.raw)?.[1];
    expect(srs, fwd!.raw.slice(0, 2000)).toBeDefined();
    expect(fwd!.raw).toMatch(/^ARC-Seal: i=1; a=rsa-sha256; t=\d+; cv=none; d=a\.test;/m);
    expect(fwd!.raw).toMatch(/^ARC-Authentication-Results: i=1; mail\.a\.test;/m);
    expect(fwd!.raw).toMatch(/^Delivered-To: alice@a\.test/m);

    // c.test bounces to the SRS address: a.test takes it and sends it on to bob
    const t = await Talk.open(a.ports.smtp);
    await t.smtpReply();
    await t.smtp('EHLO mail.c.test');
    expect(await t.smtp('MAIL FROM:<>')).toMatch(/^250/);
    expect(await t.smtp(`RCPT TO:<${srs!.slice(0, 5)}${srs!.slice(5, 9) === 'aaaa' ? 'bbbb' : 'aaaa'}${srs!.slice(9)}>`)).toMatch(
      /^550 5\.1\.1 .*does not verify/,
    );
    expect(await t.smtp(`RCPT TO:<${srs}>`)).toMatch(/^250/);
    expect(await t.smtp('DATA')).toMatch(/^354/);
    t.write(
      `From: MAILER-DAEMON@mail.c.test\r\nTo: ${srs}\r\nSubject: Undelivered Mail Returned to Sender\r\nAuto-Submitted: auto-replied\r\n\r\ncarol's mailbox is full\r\n.\r\n`,
    );
    expect(await t.smtpReply()).toMatch(/^250/);
    await t.smtp('QUIT');
    t.close();
    const [bounce] = await b.waitForMessages('bob@b.test', 1, 30_000);
    expect(bounce!.raw).toMatch(/Subject: Undelivered Mail Returned to Sender/);
  });

  it('vacation answers bob once, and never a list', async () => {
    await activate(a, 'alice@a.test', 'require ["vacation-seconds"]; vacation :seconds 1 :subject "Out of office" "Back on Monday.";');
    const before = (await b.messages('bob@b.test')).length;
    const bob = submit(b, 'bob@b.test', 'bob-password');
    await bob.sendMail({ from: 'bob@b.test', to: 'alice@a.test', subject: 'one', text: '1' });
    await bob.sendMail({ from: 'bob@b.test', to: 'alice@a.test', subject: 'two', text: '2' });
    await bob.sendMail({ from: 'bob@b.test', to: 'alice@a.test', subject: 'list', text: '3', headers: { 'List-Id': '<x.lists.b.test>' } });
    await a.waitForMessages('alice@a.test', 4, 30_000);
    const replies = await b.waitForMessages('bob@b.test', before + 1, 30_000);
    const reply = replies[replies.length - 1]!.raw;
    expect(reply).toMatch(/Subject: Out of office/);
    expect(reply).toMatch(/Auto-Submitted: auto-replied/);
    expect(reply).toMatch(/^Return-Path: <>/m);
    // the second message and the list message got no reply: a.test's delivery agent says why
    await waitFor(() => a.logs('delivery').includes('vacation reply already sent in this period'), 15_000, 'the second message seen as answered');
    await waitFor(() => a.logs('delivery').includes('the message came from a mailing list'), 15_000, 'the list message seen as a list');
    await waitFor(() => a.withQueue((q) => q.counts().messages === 0) || null, 15_000, "a.test's queue empty");
    expect((await b.messages('bob@b.test')).length).toBe(before + 1);
  });
});
