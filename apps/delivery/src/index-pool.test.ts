import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '@postern/core';
import { indexMessage } from '@postern/mime';
import { IndexPool } from './index-pool.js';

const MB = 1024 * 1024;
const pool = new IndexPool({ size: 2, logger: createLogger('index-pool-test', 'silent') });

afterAll(async () => {
  await pool.close();
});

/** The longest gap between ticks of a 5 ms timer while `work` runs: how long the thread was held. */
async function worstStall<T>(work: () => Promise<T>): Promise<{ result: T; stall: number }> {
  let last = performance.now();
  let stall = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    stall = Math.max(stall, now - last);
    last = now;
  }, 5);
  try {
    const result = await work();
    return { result, stall };
  } finally {
    clearInterval(timer);
  }
}

describe('IndexPool', () => {
  it('gives the same index as indexMessage, for small (inline) and big (threaded) messages', async () => {
    const small = Buffer.from('From: a@b.example\r\nSubject: small\r\n\r\nhello\r\n');
    const big = Buffer.from(
      `From: a@b.example\r\nSubject: big\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n${'line of text\r\n'.repeat(100_000)}--b--\r\n`,
    );
    const expected = indexMessage(big);
    const copy = Buffer.from(big);
    expect((await pool.index(small)).index).toEqual(indexMessage(small));
    const done = await pool.index(big);
    expect(done.index).toEqual(expected);
    // the bytes come back whole (the Buffer passed in may have been handed over)
    expect(done.raw.equals(copy)).toBe(true);
    // a view of part of a larger buffer is copied, not moved
    const view = Buffer.concat([Buffer.alloc(16), copy]).subarray(16);
    const viewed = await pool.index(view);
    expect(viewed.index).toEqual(expected);
    expect(view.length).toBe(copy.length);
    expect(viewed.raw.equals(copy)).toBe(true);
  });

  it('a 25 MB message of one-character lines does not hold the calling thread', async () => {
    const raw = Buffer.from(`Subject: x\r\n${'x\r\n'.repeat((25 * MB) / 3)}\r\nbody\r\n`);
    const t = performance.now();
    const { result, stall } = await worstStall(() => pool.index(raw));
    console.log(`25 MB of one-character lines: indexed in ${(performance.now() - t).toFixed(0)} ms, calling thread's worst stall ${stall.toFixed(1)} ms`);
    expect(result.index.subject).toBe('x');
    expect(result.raw.length).toBe(result.index.size);
  });

  it('a job past its time fails (the caller answers a temporary failure)', async () => {
    const quick = new IndexPool({ size: 1, logger: createLogger('index-pool-test', 'silent'), timeoutMs: 1, inlineBelow: 0 });
    try {
      const raw = (): Buffer => Buffer.from(`Subject: slow\r\n\r\n${'word '.repeat(4 * MB)}\r\n`);
      await expect(quick.index(raw())).rejects.toThrow(/more than 1 ms/);
      // on a new thread
      await expect(quick.index(raw())).rejects.toThrow(/more than 1 ms/);
    } finally {
      await quick.close();
    }
    await expect(quick.index(Buffer.alloc(10))).rejects.toThrow(/closed/);
  });

  it('concurrent jobs all complete, in any order', async () => {
    const msgs = Array.from({ length: 12 }, (_, i) => Buffer.from(`Subject: m${i}\r\n\r\n${'y'.repeat(200 * 1024)}\r\n`));
    const out = await Promise.all(msgs.map((m) => pool.index(m)));
    expect(out.map((o) => o.index.subject)).toEqual(msgs.map((_, i) => `m${i}`));
  });
});
