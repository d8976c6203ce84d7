/**
 * Direct delivery: the MX hands mail for local users to the delivery agent over LMTP before it
 * answers DATA, and queues only what that did not deliver.
 *
 * - the 250 comes after the message is in the mailbox, and queue.db never held it;
 * - every mailbox refusing for good is the DATA reply itself (no bounce, no backscatter);
 * - some recipients refused: 250, the others delivered, a DSN for the refused ones;
 * - the agent down: queued with that first attempt recorded, delivered once it is back;
 * - `transfer.direct_delivery = false` queues everything first.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInstance, waitFor, type Instance } from '../lib/instance.js';
import { Talk } from '@postern/testkit';

let a: Instance;

beforeAll(async () => {
  a = await createInstance({ domain: 'a.test', users: { alice: 'alice-password', bob: 'bob-password', carol: 'carol-password' } });
  await a.start({ transfer: { retry_initial: '200ms', retry_max: '500ms', queue_poll: '100ms' } });
});

afterAll(async () => {
  await a?.stop();
});

/** One transaction on port 25; the DATA reply. */
async function send(port: number, from: string, to: readonly string[], tag: string): Promise<string> {
  const t = await Talk.open(port);
  expect(await t.smtpReply()).toMatch(/^220 /);
  expect(await t.smtp('EHLO outside.example')).toMatch(/^250/);
  expect(await t.smtp(`MAIL FROM:<${from}>`)).toMatch(/^250/);
  for (const rcpt of to) expect(await t.smtp(`RCPT TO:<${rcpt}>`)).toMatch(/^250/);
  expect(await t.smtp('DATA')).toMatch(/^354/);
  t.write(`From: ${from}\r\nSubject: ${tag}\r\nX-Tag: ${tag}\r\n\r\nbody of ${tag}\r\n.\r\n`);
  const reply = await t.smtpReply();
  await t.smtp('QUIT');
  t.close();
  return reply;
}

const tagged = async (address: string, tag: string): Promise<number> => (await a.messages(address)).filter((m) => m.raw.includes(`X-Tag: ${tag}\r\n`)).length;
const queued = (): number => a.withQueue((q) => q.counts().messages);

describe('direct delivery on the MX', () => {
  it('answers 250 only once the message is in the mailbox, without queueing it', async () => {
    const reply = await send(a.ports.smtp, 'someone@outside.example', ['alice@a.test', 'Alice@A.TEST'], 'direct-1');
    expect(reply).toMatch(/^250 2\.0\.0 Ok: delivered as \w+/);
    const id = /delivered as (\w+)/.exec(reply)![1]!;
    // no waiting: it is there when the 250 arrives, once although named twice
    expect(await tagged('alice@a.test', 'direct-1')).toBe(1);
    expect((await a.messages('alice@a.test')).find((m) => m.raw.includes('X-Tag: direct-1'))!.raw).toContain(`\tid ${id}`);
    expect(queued()).toBe(0);
  });

  it('gives a permanent refusal of every mailbox as the DATA reply, and bounces nothing', async () => {
    a.db().accounts.setQuota('bob@a.test', 1);
    try {
      const reply = await send(a.ports.smtp, 'carol@a.test', ['bob@a.test'], 'direct-full');
      expect(reply).toMatch(/^552 5\.2\.2 <bob@a\.test>: mailbox full/);
      expect(await tagged('bob@a.test', 'direct-full')).toBe(0);
      expect(queued()).toBe(0);
      // the sender's own MTA reports it; we send carol nothing
      await new Promise((r) => setTimeout(r, 300));
      expect((await a.messages('carol@a.test')).filter((m) => m.raw.includes('direct-full'))).toEqual([]);
    } finally {
      a.db().accounts.setQuota('bob@a.test', 0);
    }
  });

  it('accepts when some mailboxes refuse: the others have it, the sender gets a DSN for the rest', async () => {
    a.db().accounts.setQuota('bob@a.test', 1);
    try {
      const reply = await send(a.ports.smtp, 'carol@a.test', ['alice@a.test', 'bob@a.test'], 'direct-mixed');
      expect(reply).toMatch(/^250 2\.6\.0 Ok: queued as \w+/);
      expect(await tagged('alice@a.test', 'direct-mixed')).toBe(1);
      const [dsn] = await waitFor(
        async () => {
          const l = (await a.messages('carol@a.test')).filter((m) => /^Content-Type: multipart\/report/im.test(m.raw));
          return l.length > 0 ? l : null;
        },
        15_000,
        'the DSN to carol',
      );
      expect(dsn!.raw).toMatch(/Final-Recipient: rfc822;\s*bob@a\.test/i);
      expect(dsn!.raw).not.toMatch(/Final-Recipient: rfc822;\s*alice@a\.test/i);
      await waitFor(() => queued() === 0, 10_000, 'an empty queue');
      // alice's copy was recorded delivered: never sent again
      expect(await tagged('alice@a.test', 'direct-mixed')).toBe(1);
    } finally {
      a.db().accounts.setQuota('bob@a.test', 0);
    }
  });

  it('queues with the failed attempt recorded while the agent is down, and delivers once it is back', async () => {
    await a.kill9('delivery');
    const reply = await send(a.ports.smtp, 'someone@outside.example', ['bob@a.test'], 'direct-down');
    expect(reply).toMatch(/^250 2\.6\.0 Ok: queued as \w+/);
    const id = /queued as (\w+)/.exec(reply)![1]!;
    const entry = a.withQueue((q) => q.list().find((m) => m.id === id));
    expect(entry?.attempts).toBeGreaterThanOrEqual(1);
    expect(entry?.lastError).toMatch(/^4\.4\.[12] delivery agent/);
    await a.startApp('delivery');
    await waitFor(async () => (await tagged('bob@a.test', 'direct-down')) === 1, 15_000, 'the queued message');
    await waitFor(() => queued() === 0, 10_000, 'an empty queue');
    expect(await tagged('bob@a.test', 'direct-down')).toBe(1);
  });
});

describe('transfer.direct_delivery = false', () => {
  let b: Instance;
  beforeAll(async () => {
    b = await createInstance({ domain: 'b.test', users: { dave: 'dave-password' } });
    await b.start({ transfer: { direct_delivery: false } });
  });
  afterAll(async () => {
    await b?.stop();
  });

  it('queues first and delivers from the queue, as Postfix does', async () => {
    const reply = await send(b.ports.smtp, 'someone@outside.example', ['dave@b.test'], 'queued-first');
    expect(reply).toMatch(/^250 2\.6\.0 Ok: queued as \w+/);
    const [m] = await b.waitForMessages('dave@b.test', 1);
    expect(m!.raw).toContain('X-Tag: queued-first');
  });
});
