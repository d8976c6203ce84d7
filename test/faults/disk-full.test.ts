/**
 * Durability: the disk fills up. The data directory is a small tmpfs (root only: `mount -t
 * tmpfs`; skipped with the reason otherwise) and a ballast file takes the free space. Then:
 * - new mail is refused with `452 4.3.1` (RFC 3463: insufficient system storage; the sender
 *   keeps it and retries) on port 25 and on submission, and nothing crashes;
 * - nothing acknowledged before is lost, whether it was in the queue or in a mailbox;
 * - once the ballast is deleted, queued mail is delivered and new mail is accepted again.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, openSync, closeSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { skip as skipSuite } from '@postern/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../lib/instance.js';
import { createFullInstance, type FullInstance } from '../attacks/lib/full-instance.js';
import { Talk } from '@postern/testkit';

const MB = 1024 * 1024;

/** Why the test cannot run here, or null when it can. */
function cannotMount(): string | null {
  if (process.platform !== 'linux') return 'tmpfs mounts need Linux';
  if (process.getuid?.() !== 0) return 'mounting a tmpfs needs root (CI runs as root)';
  const probe = join('/tmp', `postern-tmpfs-probe-${process.pid}`);
  try {
    mkdirSync(probe, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe], { stdio: 'pipe' });
    execFileSync('umount', [probe], { stdio: 'pipe' });
    return null;
  } catch (err) {
    return `mount -t tmpfs failed: ${(err as Error).message.split('\n')[0]}`;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}

const cannot = cannotMount();
const skip = cannot === null ? null : skipSuite('a full disk (faults)', `a tmpfs mount (${cannot}): run as root on Linux`);

let a: FullInstance;
let dataDir: string;
let ballast: string;

beforeAll(async () => {
  if (skip) return;
  a = await createFullInstance({ domain: 'a.test', users: { alice: 'alice-password', bob: 'bob-password' } });
  dataDir = join(a.dir, 'data');
  mkdirSync(dataDir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=48m', 'tmpfs', dataDir]);
  ballast = join(dataDir, 'ballast');
  await a.start({ transfer: { retry_initial: '200ms', retry_max: '500ms', queue_poll: '100ms' } });
});

afterAll(async () => {
  if (skip || !a) return;
  // the databases live on the tmpfs: stop the apps, then detach it (lazily: the harness still
  // holds mail.db open), then let the harness remove the directory
  for (const app of ['submission', 'transfer', 'delivery'] as const) await a.stopApp(app);
  execFileSync('umount', ['-l', dataDir]);
  await a.stop();
});

/** Fills the tmpfs, leaving about `leave` bytes free. */
function fill(leave: number): void {
  const fd = openSync(ballast, 'a');
  const chunk = Buffer.alloc(MB, 0x42);
  try {
    for (;;) {
      const free = statfsSync(dataDir).bavail * statfsSync(dataDir).bsize;
      if (free <= leave) break;
      writeSync(fd, chunk, 0, Math.min(chunk.length, free - leave));
    }
  } finally {
    closeSync(fd);
  }
}

const body = (tag: string, kb: number): string =>
  `Subject: ${tag}\r\nX-Tag: ${tag}\r\n\r\n${`${tag} ${'d'.repeat(70)}\r\n`.repeat(Math.ceil((kb * 1024) / 78))}`;

/** One message over a raw session; returns the reply to the data (or to MAIL/RCPT if refused there). */
async function send(port: number, tag: string, kb: number, auth = false): Promise<string> {
  const t = await Talk.open(port);
  try {
    await t.smtpReply();
    await t.smtp('EHLO client.example');
    if (auth) await t.smtp(`AUTH PLAIN ${Buffer.from('\0alice@a.test\0alice-password').toString('base64')}`);
    const from = auth ? 'alice@a.test' : 'sender@outside.example';
    for (const line of [`MAIL FROM:<${from}>`, 'RCPT TO:<bob@a.test>']) {
      const r = await t.smtp(line);
      if (!r.startsWith('250')) return r;
    }
    const d = await t.smtp('DATA');
    if (!d.startsWith('354')) return d;
    await t.write(`${body(tag, kb)}\r\n.\r\n`);
    return await t.smtpReply(30_000);
  } finally {
    t.close();
  }
}

const delivered = async (tag: string): Promise<number> => (await a.messages('bob@a.test')).filter((m) => m.raw.includes(`X-Tag: ${tag}\r\n`)).length;

describe.skipIf(skip !== null)('a full disk', () => {
  // One unexplained failure in 16 runs on a busy machine, not reproduced since (88 runs: idle,
  // under CPU load, pinned to one core, three instances at once): retried once, so that a real
  // regression still fails, and noted in the issue to be understood.
  it('refuses new mail with 452 4.3.1, loses nothing accepted, and recovers when space is freed', { retry: 1 }, async () => {
    // accepted and delivered before the disk fills
    const early: string[] = [];
    for (let i = 0; i < 5; i++) {
      expect(await send(a.ports.smtp, `early-${i}`, 50)).toMatch(/^250 /);
      early.push(`early-${i}`);
    }
    await waitFor(async () => (await Promise.all(early.map(delivered))).every((n) => n === 1), 15_000, 'the early messages');

    // accepted while the delivery agent is away (crashed), so they wait in the queue when the disk fills
    await a.kill9('delivery');
    const queued: string[] = [];
    for (let i = 0; i < 5; i++) {
      expect(await send(a.ports.smtp, `queued-${i}`, 50)).toMatch(/^250 /);
      queued.push(`queued-${i}`);
    }

    fill(64 * 1024);
    const refused: string[] = [];
    const accepted: string[] = [];
    // bounded: a few big messages on each door until the disk says no
    for (let i = 0; i < 12; i++) {
      const tag = `full-${i}`;
      const r = await send(i % 2 ? a.ports.submission : a.ports.smtp, tag, 200, i % 2 === 1);
      if (r.startsWith('250')) accepted.push(tag);
      else refused.push(r);
    }
    expect(refused.length, `replies: ${refused.join(' | ')}`).toBeGreaterThan(0);
    for (const r of refused) expect(r).toMatch(/^452 4\.3\.1 /);
    a.assertHealthy('transfer');
    a.assertHealthy('submission');

    // the delivery agent comes back on a full disk: it may defer, it must not lose or crash
    await a.startApp('delivery');
    // a bounded wait for the agent to answer a hand-over from the queue (refused for lack of
    // space, or stored), not a fixed pause
    const sinceRestart = (): string => a.logs('delivery').split('"msg":"LMTP listening"').at(-1) ?? '';
    await waitFor(
      () => /"msg":"(?:store failed|delivered|already delivered[^"]*)"/.test(sinceRestart()),
      15_000,
      'a hand-over to the restarted delivery agent',
    );
    for (const app of ['transfer', 'submission', 'delivery'] as const) a.assertHealthy(app);

    // space freed: everything accepted before and during arrives, once
    rmSync(ballast);
    await waitFor(
      async () => (await Promise.all([...early, ...queued, ...accepted].map(delivered))).every((n) => n >= 1),
      30_000,
      'every accepted message',
      200,
    );
    for (const t of [...early, ...queued, ...accepted]) expect(await delivered(t), t).toBe(1);
    // and new mail is accepted again
    expect(await send(a.ports.smtp, 'after', 50)).toMatch(/^250 /);
    await waitFor(async () => (await delivered('after')) === 1, 15_000, 'mail after recovery');
    await waitFor(() => a.withQueue((q) => q.counts().messages === 0), 15_000, 'an empty queue');
  });
});
