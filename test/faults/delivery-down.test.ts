/**
 * Durability: the delivery agent is down for a while (crashed, not restarted). The transfer app
 * keeps accepting mail on port 25 and submission, queues it with the failure noted and the next
 * attempt scheduled, sends no bounce (a temporary failure), and when the agent comes back
 * delivers the backlog, each message once, and empties the queue.
 */
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../lib/instance.js';
import { createFullInstance, type FullInstance } from '../attacks/lib/full-instance.js';
import { ledgerProblems, SteadyLoad, stored } from './lib/load.js';

let a: FullInstance;
const USERS = ['alice@a.test', 'bob@a.test'];

beforeAll(async () => {
  a = await createFullInstance({ domain: 'a.test', users: { alice: 'alice-password', bob: 'bob-password' } });
  await a.start({ transfer: { retry_initial: '300ms', retry_max: '1s', queue_poll: '100ms' }, limits: { connections_per_ip: 100 } });
});

afterAll(async () => {
  await a?.stop();
});

describe('the delivery agent down for a while', () => {
  it('transfer queues everything, then catches up once it is back', async () => {
    await a.kill9('delivery');
    const load = new SteadyLoad(
      a,
      { mx: 4, submission: 2, recipients: USERS, user: { address: 'alice@a.test', password: 'alice-password' }, max: 300 },
      'down',
    );
    load.start();
    await load.done();
    // with the agent down, nothing is refused: every message was queued
    expect(load.acked.size, `refusals: ${load.refusals.slice(0, 3).join(' | ')}`).toBe(300);

    // it waits in the queue, with the reason recorded and retries going on
    await waitFor(() => a.withQueue((q) => q.list().filter((m) => m.attempts >= 2).length) >= 50, 20_000, 'retries while the agent is down');
    const list = a.withQueue((q) => q.list());
    expect(list).toHaveLength(300);
    expect(list.filter((m) => m.lastError !== null).length).toBeGreaterThan(0);
    expect(list.find((m) => m.lastError !== null)?.lastError).toMatch(/^4\.\d\.\d /);
    expect((await stored(a, USERS, 'down')).size).toBe(0);

    // back: the backlog is delivered, each message exactly once, byte for byte
    await a.startApp('delivery');
    await waitFor(async () => (await stored(a, USERS, 'down')).size === 300, 60_000, 'the backlog', 200);
    await waitFor(() => a.withQueue((q) => q.counts().messages === 0), 20_000, 'an empty queue');
    expect(ledgerProblems(load, await stored(a, USERS, 'down'))).toEqual([]);
    // a temporary failure bounces nothing: alice (the submission sender) got no notice
    expect((await a.messages('alice@a.test')).filter((m) => /^Content-Type: multipart\/report/im.test(m.raw))).toEqual([]);
  });

  it('keeps accepting while the agent restarts again and again', async () => {
    const t = nodemailer.createTransport({ host: '127.0.0.1', port: a.ports.smtp, ignoreTLS: true });
    const tags: string[] = [];
    for (let round = 0; round < 4; round++) {
      await a.kill9('delivery');
      for (let i = 0; i < 10; i++) {
        const tag = `flap-${round}-${i}`;
        const info = await t.sendMail({
          envelope: { from: 's@outside.example', to: ['bob@a.test'] },
          raw: `Subject: ${tag}\r\nX-Seq: ${tag}\r\n\r\n${tag}\r\n`,
        });
        expect(info.accepted).toEqual(['bob@a.test']);
        tags.push(tag);
      }
      await a.startApp('delivery');
      await new Promise((r) => setTimeout(r, 200));
    }
    t.close();
    await waitFor(
      async () => {
        const stored = await a.messages('bob@a.test');
        return tags.every((tag) => stored.some((m) => m.raw.includes(`X-Seq: ${tag}\r\n`)));
      },
      30_000,
      'all flapping-round messages',
    );
    for (const tag of tags)
      expect(
        (await a.messages('bob@a.test')).filter((m) => m.raw.includes(`X-Seq: ${tag}\r\n`)),
        tag,
      ).toHaveLength(1);
  });
});
