/**
 * Port 25 from outside: only local recipients. Unknown local users are refused at RCPT, every
 * relaying trick (foreign domain, source route, %-hack, bang path) gets 554 5.7.1, a message
 * that has looped is refused with 554 5.4.6, and mail for a local user is delivered
 * with our Received: naming the queue id.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInstance, type Instance } from '../lib/instance.js';
import { Talk } from '@postern/testkit';

let a: Instance;

beforeAll(async () => {
  a = await createInstance({ domain: 'a.test', users: { alice: 'alice-password' } });
  await a.start({ transfer: { max_hops: 10 } });
});

afterAll(async () => {
  await a?.stop();
});

async function session(): Promise<Talk> {
  const t = await Talk.open(a.ports.smtp);
  expect(await t.smtpReply()).toMatch(/^220 /);
  const ehlo = await t.smtp('EHLO outside.example');
  for (const ext of ['PIPELINING', '8BITMIME', 'SMTPUTF8', 'ENHANCEDSTATUSCODES', 'STARTTLS', 'SIZE']) expect(ehlo).toContain(ext);
  expect(await t.smtp('MAIL FROM:<someone@outside.example>')).toMatch(/^250/);
  return t;
}

describe('the MX on port 25', () => {
  it('is no open relay', async () => {
    const t = await session();
    for (const rcpt of [
      'victim@foreign.example',
      '@a.test:victim@foreign.example',
      '@a.test,@b.test:victim@foreign.example',
      'victim%foreign.example@a.test',
      'foreign.example!victim@a.test',
      'victim@[192.0.2.1]',
    ]) {
      expect(await t.smtp(`RCPT TO:<${rcpt}>`), rcpt).toMatch(/^5\d\d 5\.\d+\.\d+/);
    }
    expect(await t.smtp('RCPT TO:<victim@foreign.example>')).toMatch(/^554 5\.7\.1/);
    expect(await t.smtp('RCPT TO:<victim%foreign.example@a.test>')).toMatch(/^554 5\.7\.1/);
    // nothing accepted, so DATA has nobody to go to
    expect(await t.smtp('DATA')).toMatch(/^503/);
    t.close();
    expect(a.withQueue((q) => q.counts().messages)).toBe(0);
  });

  it('refuses an unknown local user at RCPT with 550 5.1.1', async () => {
    const t = await session();
    expect(await t.smtp('RCPT TO:<nobody@a.test>')).toMatch(/^550 5\.1\.1/);
    t.close();
  });

  it('refuses a message that has looped with 554 5.4.6', async () => {
    const t = await session();
    expect(await t.smtp('RCPT TO:<alice@a.test>')).toMatch(/^250/);
    expect(await t.smtp('DATA')).toMatch(/^354/);
    const hops = Array.from({ length: 12 }, (_, i) => `Received: from hop${i}.example by hop${i + 1}.example; Tue, 1 Jul 2025 10:00:00 +0000\r\n`).join('');
    t.write(`${hops}Subject: loop\r\n\r\nround and round\r\n.\r\n`);
    expect(await t.smtpReply()).toMatch(/^554 5\.4\.6/);
    t.close();
  });

  it('delivers mail for a local user with our Received: header', async () => {
    const t = await session();
    expect(await t.smtp('RCPT TO:<Alice+News@A.TEST>')).toMatch(/^250/);
    expect(await t.smtp('DATA')).toMatch(/^354/);
    t.write('From: someone@outside.example\r\nSubject: inbound\r\n\r\n..leading dot kept\r\n.\r\n');
    const reply = await t.smtpReply();
    // delivered while we waited (direct delivery: test/transfer/direct-delivery.test.ts)
    expect(reply).toMatch(/^250 2\.0\.0 Ok: delivered as \w+/);
    const id = /delivered as (\w+)/.exec(reply)![1]!;
    expect(await t.smtp('QUIT')).toMatch(/^221/);
    t.close();
    const [m] = await a.waitForMessages('alice@a.test', 1);
    expect(m!.raw).toMatch(
      new RegExp(`Received: from outside\\.example \\(\\[127\\.0\\.0\\.1\\]\\)\\r\\n\\tby mail\\.a\\.test\\r\\n\\twith ESMTP\\r\\n\\tid ${id}`),
    );
    expect(m!.raw).toMatch(/\r\n\.leading dot kept/);
  });
});
