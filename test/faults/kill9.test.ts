/**
 * Durability: under a steady SMTP load (port 25 and submission), each app is killed with
 * SIGKILL in turn at random moments, several times, and restarted. Every message that got its
 * `250` must end up in its mailbox exactly once, byte for byte; nothing may be stored twice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor, type AppName } from '../lib/instance.js';
import { createFullInstance, type FullInstance } from '../attacks/lib/full-instance.js';
import { ledgerProblems, SteadyLoad, stored } from './lib/load.js';

let a: FullInstance;
const USERS = ['alice@a.test', 'bob@a.test'];
const ROUNDS = Number(process.env['POSTERN_FAULT_ROUNDS'] ?? 9);

beforeAll(async () => {
  a = await createFullInstance({ domain: 'a.test', users: { alice: 'alice-password', bob: 'bob-password' } });
  await a.start({ transfer: { retry_initial: '200ms', retry_max: '500ms', queue_poll: '100ms' }, limits: { connections_per_ip: 200 } });
});

afterAll(async () => {
  await a?.stop();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const between = (lo: number, hi: number): number => lo + Math.floor(Math.random() * (hi - lo));

describe('kill -9 under load', () => {
  it('every acknowledged message is delivered exactly once, byte for byte', async () => {
    const load = new SteadyLoad(
      a,
      { mx: 6, submission: 2, recipients: USERS, user: { address: 'alice@a.test', password: 'alice-password' }, size: 3000, max: 20_000 },
      'k9',
    );
    load.start();
    const order: AppName[] = ['transfer', 'delivery', 'submission'];
    const kills: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const app = order[round % order.length]!;
      await sleep(between(250, 900));
      const before = load.acked.size;
      await a.kill9(app);
      kills.push(`${app} after ${before} acks`);
      await sleep(between(50, 400));
      await a.startApp(app);
    }
    await sleep(500);
    await load.stop();
    const acked = load.acked.size;
    expect(acked, `only ${acked} acknowledged (${load.unacked} not)`).toBeGreaterThan(100);
    // everything acknowledged arrives...
    await waitFor(
      async () => ledgerProblems(load, await stored(a, USERS, 'k9')).every((p) => !p.endsWith('not stored')),
      60_000,
      'every acknowledged message',
      200,
    );
    // ...and the queue drains completely (nothing stuck, nothing left to deliver twice)
    await waitFor(() => a.withQueue((q) => q.counts().messages === 0), 30_000, 'an empty queue', 200);
    const problems = ledgerProblems(load, await stored(a, USERS, 'k9'));
    expect(problems, `kills: ${kills.join(', ')}`).toEqual([]);
    console.log(`kill -9 x${ROUNDS} (${kills.join('; ')}): ${acked} acknowledged, ${load.unacked} not, all delivered once`);
  });
});
