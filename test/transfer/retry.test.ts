/**
 * The queue's schedule against remotes that misbehave (short settings: retries in hundreds of
 * milliseconds, a delay warning after 1 s, a lifetime of 4 s): a 4xx is retried and then
 * succeeds; a remote down the whole time causes a delay notice and then a bounce; a smarthost
 * with AUTH relays everything.
 */
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeRemote, type FakeRemote } from '../lib/fake-remote.js';
import { createInstance, freePort, waitFor, type Instance } from '../lib/instance.js';

let a: Instance;
let flaky: FakeRemote;

beforeAll(async () => {
  flaky = await startFakeRemote({ deferFirst: 2 });
  const down = await freePort(); // nothing listens there
  a = await createInstance({ domain: 'a.test', users: { alice: 'alice-password' } });
  await a.start({
    transfer: {
      routes: { 'flaky.test': `127.0.0.1:${flaky.port}`, 'down.test': `127.0.0.1:${down}` },
      retry_initial: '200ms',
      retry_max: '400ms',
      delay_warning: '1s',
      queue_lifetime: '4s',
      queue_poll: '100ms',
    },
  });
});

afterAll(async () => {
  await a?.stop();
  await flaky?.close();
});

function send(inst: Instance, to: string, subject: string) {
  return nodemailer
    .createTransport({
      host: '127.0.0.1',
      port: inst.ports.submission,
      secure: false,
      tls: { rejectUnauthorized: false },
      auth: { user: 'alice@a.test', pass: 'alice-password' },
    })
    .sendMail({ envelope: { from: 'alice@a.test', to: [to] }, raw: `From: alice@a.test\r\nTo: ${to}\r\nSubject: ${subject}\r\n\r\nbody\r\n` });
}

describe('retries', () => {
  it('retries a remote that answers 4xx until it accepts, without any notice', async () => {
    await send(a, 'rcpt@flaky.test', 'flaky one');
    await waitFor(() => flaky.received.length === 1, 15_000, 'the flaky remote to accept');
    expect(flaky.rcptAttempts).toBe(3);
    expect(flaky.received[0]!.to).toEqual(['rcpt@flaky.test']);
    expect(flaky.received[0]!.data).toMatch(/Subject: flaky one/);
    await waitFor(() => a.withQueue((q) => q.counts().messages === 0), 5000, 'an empty queue');
    expect((await a.messages('alice@a.test')).filter((m) => m.raw.includes('flaky one'))).toHaveLength(0);
  });

  it('sends a delay notice, then a bounce, for a remote that stays down', async () => {
    await send(a, 'rcpt@down.test', 'into the void');
    const delayed = await waitFor(async () => (await a.messages('alice@a.test')).find((m) => /Action: delayed/.test(m.raw)), 15_000, 'a delay notice');
    expect(delayed.raw).toMatch(/Final-Recipient: rfc822; rcpt@down\.test/);
    expect(delayed.raw).toMatch(/Status: 4\.4\.1/);
    expect(delayed.raw).toMatch(/Will-Retry-Until: /);
    const bounced = await waitFor(async () => (await a.messages('alice@a.test')).find((m) => /Action: failed/.test(m.raw)), 15_000, 'a bounce');
    expect(bounced.raw).toMatch(/Final-Recipient: rfc822; rcpt@down\.test/);
    expect(bounced.raw).toMatch(/Status: 4\.4\.7/);
    expect(bounced.raw).toMatch(/Subject: into the void/);
    // RFC 3464 §2.3.5: a host (here the route's address literal), never "127.0.0.1:port"
    expect(bounced.raw).toMatch(/^Remote-MTA: dns; \[127\.0\.0\.1\]\r\n/m);
    expect((await a.messages('alice@a.test')).filter((m) => /Action: delayed/.test(m.raw))).toHaveLength(1);
    await waitFor(() => a.withQueue((q) => q.counts().messages === 0), 5000, 'an empty queue');
  });
});

describe('smarthost', () => {
  let relay: FakeRemote;
  let s: Instance;

  beforeAll(async () => {
    relay = await startFakeRemote({ auth: { user: 'relay-user', pass: 'relay-secret' } });
    s = await createInstance({ domain: 'a.test', users: { alice: 'alice-password' } });
    await s.start({
      transfer: { smarthost: `127.0.0.1:${relay.port}`, smarthost_user: 'relay-user', smarthost_password: 'relay-secret', smarthost_tls: 'none' },
    });
  });

  afterAll(async () => {
    await s?.stop();
    await relay?.close();
  });

  it('relays remote mail through the smarthost with AUTH, and keeps local mail local', async () => {
    await send(s, 'someone@far.example', 'via smarthost');
    await waitFor(() => relay.received.length === 1, 15_000, 'the smarthost to receive');
    expect(relay.received[0]!.user).toBe('relay-user');
    expect(relay.received[0]!.from).toBe('alice@a.test');
    expect(relay.received[0]!.to).toEqual(['someone@far.example']);
    await send(s, 'alice@a.test', 'to myself');
    await s.waitForMessages('alice@a.test', 1);
    expect(relay.received).toHaveLength(1);
    expect(s.logs('transfer')).not.toContain('relay-secret');
  });
});
