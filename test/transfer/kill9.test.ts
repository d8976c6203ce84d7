/**
 * `kill -9` of the transfer app loses nothing it acknowledged and delivers nothing twice.
 *
 * 1. With the delivery agent down, 40 messages are accepted on port 25 (each got its 250), then
 *    transfer is killed with SIGKILL and restarted with delivery back: every message arrives,
 *    exactly once.
 * 2. Under load, transfer is killed in the middle of delivering: every acknowledged message
 *    arrives after the restart, exactly once: a message whose LMTP 250 came just before the kill
 *    is handed over again, and the delivery agent recognises it by its ENVID (the queue id).
 */
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInstance, waitFor, type Instance } from '../lib/instance.js';

let a: Instance;

beforeAll(async () => {
  a = await createInstance({ domain: 'a.test', users: { alice: 'alice-password' } });
  await a.start({ transfer: { retry_initial: '200ms', retry_max: '500ms', queue_poll: '100ms' } });
});

afterAll(async () => {
  await a?.stop();
});

async function push(tag: string, n: number, connections: number): Promise<string[]> {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port: a.ports.smtp,
    pool: true,
    maxConnections: connections,
    maxMessages: Infinity,
    tls: { rejectUnauthorized: false },
  });
  const acked: string[] = [];
  await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const seq = `${tag}-${i}`;
      try {
        const info = await transport.sendMail({
          envelope: { from: 'sender@outside.example', to: ['alice@a.test'] },
          raw: `From: sender@outside.example\r\nSubject: ${seq}\r\nX-Seq: ${seq}\r\n\r\n${'line of text\r\n'.repeat(20)}`,
        });
        if (info.accepted.length === 1) acked.push(seq);
      } catch {
        // not acknowledged: may or may not be queued
      }
    }),
  );
  transport.close();
  return acked;
}

async function seqCounts(tag: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const m of await a.messages('alice@a.test')) {
    const seq = /^X-Seq: (\S+)/m.exec(m.raw)?.[1];
    if (seq?.startsWith(`${tag}-`)) counts.set(seq, (counts.get(seq) ?? 0) + 1);
  }
  return counts;
}

describe('transfer under kill -9', () => {
  it('delivers every queued message exactly once after a restart', async () => {
    await a.stopApp('delivery');
    const acked = await push('q', 40, 4);
    expect(acked).toHaveLength(40);
    await a.kill9('transfer');
    await a.startApp('delivery');
    await a.startApp('transfer');
    await waitFor(async () => (await seqCounts('q')).size === 40, 20_000, 'all 40 messages');
    await waitFor(() => a.withQueue((q) => q.counts().messages === 0), 10_000, 'an empty queue');
    const counts = await seqCounts('q');
    for (const seq of acked) expect(counts.get(seq), seq).toBe(1);
  });

  it('loses nothing acknowledged when killed in the middle of delivering', async () => {
    const load = push('m', 300, 8);
    await waitFor(async () => (await seqCounts('m')).size >= 20, 20_000, 'deliveries to start');
    await a.kill9('transfer');
    const acked = await load; // the connections broke: what was acknowledged is what counts
    await a.startApp('transfer');
    await waitFor(
      async () => {
        const stored = await seqCounts('m');
        return acked.every((s) => stored.has(s));
      },
      30_000,
      'every acknowledged message',
    );
    const counts = await seqCounts('m');
    const twice = [...counts.entries()].filter(([, c]) => c > 1).map(([s]) => s);
    expect(twice).toEqual([]);
    expect(acked.length).toBeGreaterThan(0);
  });
});
