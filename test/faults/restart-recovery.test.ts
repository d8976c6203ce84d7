/**
 * After a crash, mail flows again in seconds (issue 26). The stack runs under `postern start`
 * with the internet's retry schedule set long (`retry_initial` 10 minutes): a delivery that
 * waited that long would miss the deadline here by far. Under a steady load:
 * - the delivery agent is killed with SIGKILL (twice in a row: the second time while it is
 *   barely back): every acknowledged message is stored within 60 s of the agent being ready
 *   again, none twice, and the queue drains;
 * - the transfer app is killed while submission accepts mail: the same.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../lib/instance.js';
import { createSupervisedInstance, type SupervisedInstance } from '../lib/supervised.js';
import { ledgerProblems, SteadyLoad, stored } from './lib/load.js';

let a: SupervisedInstance;
const USERS = ['alice@a.test', 'bob@a.test'];
const alice = { address: 'alice@a.test', password: 'alice-password' };
/** The correctness deadline of the issue: stored this long after the app is ready again. */
const DEADLINE_MS = 60_000;

beforeAll(async () => {
  a = await createSupervisedInstance({ domain: 'a.test', users: { alice: 'alice-password', bob: 'bob-password' } });
  await a.startSupervised({ transfer: { retry_initial: '10m', retry_max: '4h' }, limits: { connections_per_ip: 200 } });
});

afterAll(async () => {
  await a?.stop();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits for every acknowledged message (by DEADLINE_MS after `readyAt`), then checks the ledger. */
async function allStoredOnce(load: SteadyLoad, tag: string, readyAt: number, what: string): Promise<void> {
  const missing = async (): Promise<number> => ledgerProblems(load, await stored(a, USERS, tag)).filter((p) => p.endsWith('not stored')).length;
  const left = readyAt + DEADLINE_MS - Date.now();
  try {
    await waitFor(async () => (await missing()) === 0, Math.max(1, left), `every acknowledged message within ${DEADLINE_MS / 1000} s of ${what}`, 100);
  } catch (err) {
    throw new Error(
      `${await missing()} of ${load.acked.size} acknowledged messages not stored; queue: ${JSON.stringify(a.withQueue((q) => q.list().slice(0, 3)))}`,
      {
        cause: err,
      },
    );
  }
  console.log(`${what}: all ${load.acked.size} acknowledged messages stored ${((Date.now() - readyAt) / 1000).toFixed(1)} s after it was ready`);
  expect(ledgerProblems(load, await stored(a, USERS, tag))).toEqual([]);
  await waitFor(() => a.withQueue((q) => q.counts().messages === 0), 30_000, 'an empty queue', 200);
}

describe('recovery from a crash with retry_initial = 10 minutes', () => {
  it('the delivery agent killed twice: everything acknowledged is stored within 60 s of it being ready, once', async () => {
    const load = new SteadyLoad(a, { mx: 4, submission: 2, recipients: USERS, user: alice, size: 2000, max: 3_000 }, 'agent');
    load.start();
    await sleep(1_500);
    await a.kill9Supervised('delivery');
    await sleep(300);
    const readyAt = await a.kill9Supervised('delivery');
    // keep the load on a moment after the agent is back, then stop it (bounded by max anyway)
    await sleep(1_000);
    await load.stop();
    expect(load.acked.size, `only ${load.acked.size} acknowledged`).toBeGreaterThan(50);
    await allStoredOnce(load, 'agent', readyAt, 'the delivery agent');
    const st = a.appStatus('delivery');
    expect(st.exits.length).toBe(2);
  });

  it('the transfer app killed while submission accepts mail: the same', async () => {
    const load = new SteadyLoad(a, { mx: 0, submission: 4, recipients: USERS, user: alice, size: 2000, max: 3_000 }, 'xfer');
    load.start();
    await sleep(1_500);
    const readyAt = await a.kill9Supervised('transfer');
    await sleep(1_000);
    await load.stop();
    expect(load.acked.size, `only ${load.acked.size} acknowledged (${load.refusals.slice(0, 3).join(' | ')})`).toBeGreaterThan(50);
    await allStoredOnce(load, 'xfer', readyAt, 'the transfer app');
  });
});
