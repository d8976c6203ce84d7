/**
 * The LMTP pool's bounded wait (`tryDeliver`, what the MX's direct delivery uses): it sends
 * nothing when no connection comes free in time or the agent was just found unreachable, so the
 * caller can queue the message instead; `deliver` (the queue runner) waits and reports.
 *
 * The peer is an LMTP server on loopback (smtp-server, as the delivery agent is) whose DATA
 * replies the test releases, so "busy" is a fact of the test, not of timing luck.
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '@postern/core';
import { LmtpPool } from './lmtp.js';

const log = createLogger('test', 'silent');
const message = (id: string) => ({ id, sender: 'a@outside.example', data: Buffer.from(`Subject: ${id}\r\n\r\nhi\r\n`), body8bit: false });
const to = [{ id: 1, address: 'alice@a.test' }];

const closing: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of closing.splice(0).reverse()) await c();
});

/** An LMTP server that holds each DATA reply until `release()`; counts transactions seen. */
async function heldLmtp(): Promise<{ port: number; seen: string[]; release: () => void }> {
  const seen: string[] = [];
  const held: Array<() => void> = [];
  const server = new SMTPServer({
    lmtp: true,
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, _session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        seen.push(/^Subject: (\S+)/m.exec(Buffer.concat(chunks).toString())?.[1] ?? '?');
        held.push(() => cb(null, 'stored'));
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closing.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return {
    port: (server.server.address() as AddressInfo).port,
    seen,
    release: () => {
      for (const r of held.splice(0)) r();
    },
  };
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(check()).toBe(true);
}

describe('LmtpPool.tryDeliver', () => {
  it('sends nothing when no connection comes free within the wait, and uses one that does', async () => {
    const peer = await heldLmtp();
    const pool = new LmtpPool(`127.0.0.1:${peer.port}`, 'mx.test', 1, log);
    closing.push(async () => pool.close());

    const first = pool.deliver(message('first'), to);
    await until(() => peer.seen.length === 1);
    // the one connection is in a transaction: give up after 100 ms, having sent nothing
    expect(await pool.tryDeliver(message('second'), to, 100)).toBeNull();
    expect(peer.seen).toEqual(['first']);

    // freed within the wait: that connection carries it
    const third = pool.tryDeliver(message('third'), to, 5_000);
    peer.release();
    expect((await first).map((o) => o.kind)).toEqual(['delivered']);
    await until(() => peer.seen.length === 2);
    peer.release();
    expect((await third)?.map((o) => o.kind)).toEqual(['delivered']);
    expect(peer.seen).toEqual(['first', 'third']);
  });

  it('does not try an agent it just found unreachable; deliver still tries and says why', async () => {
    const peer = await heldLmtp();
    const port = peer.port;
    await closing.pop()!(); // the port is closed now
    const pool = new LmtpPool(`127.0.0.1:${port}`, 'mx.test', 4, log);
    closing.push(async () => pool.close());

    const failed = await pool.tryDeliver(message('one'), to, 1_000);
    expect(failed?.map((o) => [o.kind, o.reply.slice(0, 6)])).toEqual([['deferred', '4.4.1 ']]);
    expect(await pool.tryDeliver(message('two'), to, 1_000)).toBeNull();
    const runner = await pool.deliver(message('three'), to);
    expect(runner.map((o) => o.kind)).toEqual(['deferred']);
    expect(runner[0]!.reply).toMatch(/^4\.4\.1 delivery agent at 127\.0\.0\.1:\d+ unreachable/);
  });
});
