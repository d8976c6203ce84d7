/**
 * Trust between two complete instances on loopback (a.test and b.test, routes to each other's
 * port 25), with DNS served from a dns2 server on 127.0.0.1 that both use through `dns.servers`
 * and that holds exactly the records `postern dns --ip 127.0.0.1` printed for each domain:
 *
 * - alice@a.test -> bob@b.test arrives signed (RSA + Ed25519) and with dkim=pass, spf=pass and
 *   dmarc=pass in b's Authentication-Results;
 * - a forged message (From: a domain with p=reject, no valid signature, SPF fail) is refused
 *   with 550 5.7.1 at the end of DATA;
 * - a forged p=quarantine message lands in bob's Junk, and an Authentication-Results field that
 *   claims b's host name is removed before delivery;
 * - a bounce from a.test is DKIM-signed by a.test.
 */
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInstance, type Instance } from '../lib/instance.js';
import { postern, publish, startDnsServer, type DnsServer, type ZoneData } from './helpers.js';

let a: Instance;
let b: Instance;
let dns: DnsServer;
const zone: ZoneData = {};

beforeAll(async () => {
  dns = await startDnsServer(zone);
  // a domain that refuses what it did not send, and one that asks for quarantine
  Object.assign(zone, {
    'bank.test': { TXT: [['v=spf1 ip4:192.0.2.1 -all']] },
    '_dmarc.bank.test': { TXT: [['v=DMARC1; p=reject']] },
  });
  a = await createInstance({ domain: 'a.test', users: { alice: 'alice-password' } });
  b = await createInstance({ domain: 'b.test', users: { bob: 'bob-password' } });
  const settings = { dns: { servers: [dns.address], timeout: '2s' } };
  await a.start({ ...settings, transfer: { routes: { 'b.test': `127.0.0.1:${b.ports.smtp}` } } });
  await b.start({ ...settings, transfer: { routes: { 'a.test': `127.0.0.1:${a.ports.smtp}` } } });
  // what an operator does after `postern init`: publish the records `postern dns` prints
  await publish(zone, a.configFile, 'a.test', '127.0.0.1');
  await publish(zone, b.configFile, 'b.test', '127.0.0.1');
});

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await dns?.close();
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

/** A stranger talking to b's port 25 directly (no AUTH), EHLO name of its choice. */
function stranger() {
  return nodemailer.createTransport({ host: '127.0.0.1', port: b.ports.smtp, secure: false, name: 'stranger.example', tls: { rejectUnauthorized: false } });
}

/** The header section of a stored message, unfolded. */
function headerOf(raw: string): string {
  return raw.slice(0, raw.indexOf('\r\n\r\n')).replace(/\r\n[ \t]+/g, ' ');
}

describe('trust between two instances', () => {
  it('alice@a.test -> bob@b.test arrives with dkim=pass, spf=pass, dmarc=pass', async () => {
    await submit(a, 'alice@a.test', 'alice-password').sendMail({
      from: 'Alice <alice@a.test>',
      to: 'Bob <bob@b.test>',
      subject: 'Signed and sealed',
      text: 'Hello Bob, this one is authenticated.',
    });
    const [got] = await b.waitForMessages('bob@b.test', 1);
    const header = headerOf(got!.raw);
    expect(header).toMatch(/^DKIM-Signature: v=1; a=rsa-sha256; c=relaxed\/relaxed; d=a\.test; .*s=postern;/m);
    expect(header).toMatch(/^DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed\/relaxed; d=a\.test; .*s=postern-ed25519;/m);
    const ar = header.split('\r\n').filter((l) => l.startsWith('Authentication-Results:'));
    expect(ar).toHaveLength(1);
    expect(ar[0]).toMatch(/^Authentication-Results: mail\.b\.test; /);
    expect(ar[0]).toMatch(/dkim=pass header\.i=@a\.test header\.s=postern header\.a=rsa-sha256/);
    expect(ar[0]).toMatch(/dkim=pass header\.i=@a\.test header\.s=postern-ed25519 header\.a=ed25519-sha256/);
    expect(ar[0]).toMatch(/spf=pass .*smtp\.mailfrom=alice@a\.test/);
    expect(ar[0]).toMatch(/dmarc=pass \(p=QUARANTINE arc=none\) header\.from=a\.test/);
    expect(header).not.toMatch(/^X-Postern-Junk:/m);
  });

  it('signs what `postern sendmail` queues as a.test, too', async () => {
    const before = (await b.messages('bob@b.test')).length;
    const child = postern(a.configFile, ['sendmail', 'bob@b.test'], 'From: Alice <alice@a.test>\nTo: bob@b.test\nSubject: From cron\n\nnightly report\n');
    expect((await child).code).toBe(0);
    const list = await b.waitForMessages('bob@b.test', before + 1);
    const ar = headerOf(list[list.length - 1]!.raw)
      .split('\r\n')
      .find((l) => l.startsWith('Authentication-Results:'))!;
    expect(ar).toMatch(/dkim=pass header\.i=@a\.test header\.s=postern header\.a=rsa-sha256/);
    expect(ar).toMatch(/dmarc=pass/);
  });

  it('refuses forged mail from a p=reject domain with 550 5.7.1', async () => {
    const before = (await b.messages('bob@b.test')).length;
    const err = await stranger()
      .sendMail({
        envelope: { from: 'ceo@bank.test', to: ['bob@b.test'] },
        raw: 'From: CEO <ceo@bank.test>\r\nTo: bob@b.test\r\nSubject: Urgent wire\r\n\r\nPay now.\r\n',
      })
      .then(
        () => null,
        (e: Error & { responseCode?: number; response?: string }) => e,
      );
    expect(err?.responseCode).toBe(550);
    expect(err?.response).toMatch(/^550 5\.7\.1 .*DMARC policy of bank\.test \(p=reject\)/);
    expect(await b.messages('bob@b.test')).toHaveLength(before);
  });

  it('files forged p=quarantine mail in Junk and strips a forged Authentication-Results', async () => {
    const before = (await b.messages('bob@b.test')).length;
    // Everything here comes from 127.0.0.1, which a.test's SPF allows: the forger uses an
    // envelope sender of its own, so nothing aligned with From: passes.
    await stranger().sendMail({
      envelope: { from: 'forger@elsewhere.test', to: ['bob@b.test'] },
      raw:
        'Authentication-Results: mail.b.test; dkim=pass header.d=a.test; spf=pass; dmarc=pass\r\n' +
        'From: Alice <alice@a.test>\r\nTo: bob@b.test\r\nSubject: Not really Alice\r\n\r\nTrust me.\r\n',
    });
    const list = await b.waitForMessages('bob@b.test', 1, 15_000, 'Junk');
    expect(await b.messages('bob@b.test')).toHaveLength(before); // not in INBOX
    const header = headerOf(list[list.length - 1]!.raw);
    expect(header).toMatch(/^X-Postern-Junk: yes \(DMARC policy of a\.test \(p=quarantine\) failed/m);
    const ar = header.split('\r\n').filter((l) => l.startsWith('Authentication-Results:'));
    expect(ar).toHaveLength(1); // ours only; the forged one is gone
    expect(ar[0]).toMatch(/spf=none .*smtp\.mailfrom=forger@elsewhere\.test/);
    expect(ar[0]).toMatch(/dkim=none/);
    expect(ar[0]).toMatch(/dmarc=fail/);
  });

  it('signs the bounces it sends', async () => {
    const before = (await a.messages('alice@a.test')).length;
    await submit(a, 'alice@a.test', 'alice-password').sendMail({
      envelope: { from: 'alice@a.test', to: ['nobody@b.test'] },
      raw: 'From: alice@a.test\r\nTo: nobody@b.test\r\nSubject: To nobody\r\n\r\nAnyone?\r\n',
    });
    const list = await a.waitForMessages('alice@a.test', before + 1);
    const header = headerOf(list[list.length - 1]!.raw);
    expect(header).toMatch(/^From: Mail Delivery System <MAILER-DAEMON@mail\.a\.test>/m);
    expect(header).toMatch(/^DKIM-Signature: v=1; a=rsa-sha256; c=relaxed\/relaxed; d=a\.test; .*s=postern;/m);
  });
});
