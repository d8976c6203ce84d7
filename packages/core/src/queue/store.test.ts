import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildDsn, statusOfReply } from '../dsn/index.js';
import { agentRetryDelay, QueueStore, retryDelay, type NewMessage, type NoticeBuilder, type RetryPolicy } from './store.js';

let dir: string;
let now: number;
let q: QueueStore;
const policy: RetryPolicy = { retryInitialMs: 1000, retryMaxMs: 8000, lifetimeMs: 60_000, delayWarningMs: 20_000 };

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'postern-queue-'));
  now = 1_000_000;
  q = QueueStore.open({ dataDir: dir }, { now: () => now });
});

afterEach(() => {
  q.close();
  rmSync(dir, { recursive: true, force: true });
});

const msg = (id: string, sender = 'alice@a.test', rcpts = ['bob@b.test']): NewMessage => ({
  id,
  sender,
  recipients: rcpts.map((address) => ({ address })),
  data: Buffer.from(`Subject: ${id}\r\n\r\nbody\r\n`),
  origin: 'submission',
});

const notices: NoticeBuilder = (kind, entry, list) => ({
  id: `${kind}-${entry.id}`,
  sender: '',
  recipients: [{ address: entry.sender }],
  data: buildDsn({
    reportingMta: 'mail.a.test',
    to: entry.sender,
    queueId: entry.id,
    arrival: new Date(entry.arrival),
    original: entry.data,
    recipients: list.map((n) => ({
      address: n.recipient.address,
      action: kind === 'failure' ? 'failed' : kind === 'delay' ? 'delayed' : 'delivered',
      reply: n.reply,
    })),
  }).data,
  origin: 'dsn',
});

describe('QueueStore', () => {
  it('commits messages handed in together in one batch, and offers them when due', async () => {
    const ids = await Promise.all(['m1', 'm2', 'm3'].map((id) => q.enqueue(msg(id))));
    expect(ids).toEqual(['m1', 'm2', 'm3']);
    expect(q.due(10).map((e) => e.id)).toEqual(['m1', 'm2', 'm3']);
    expect(q.due(10, new Set(['m2'])).map((e) => e.id)).toEqual(['m1', 'm3']);
  });

  it('queues a message with its first attempt already recorded (direct delivery)', async () => {
    const m = msg('d1', 'alice@a.test', ['bob@b.test', 'carol@b.test', 'dave@b.test']);
    await q.enqueueAttempted(
      m,
      [
        { recipientId: 0, kind: 'delivered', reply: '250 2.0.0 ok' },
        { recipientId: 1, kind: 'deferred', reply: '451 4.3.0 try later' },
        { recipientId: 2, kind: 'failed', reply: '552 5.2.2 mailbox full' },
      ],
      policy,
      notices,
    );
    // only carol waits, for her retry, with the attempt counted
    const d1 = (): ReturnType<QueueStore['due']> => q.due(10).filter((e) => e.id === 'd1');
    expect(d1()).toEqual([]);
    now += policy.retryInitialMs;
    const [entry] = d1();
    expect(entry?.recipients.map((r) => [r.address, r.attempts, r.lastError])).toEqual([['carol@b.test', 1, '451 4.3.0 try later']]);
    // dave's failure went to the sender as a DSN, in the same commit
    const dsn = q.get('failure-d1');
    expect(dsn?.recipients.map((r) => r.address)).toEqual(['alice@a.test']);
    expect(dsn?.data.toString()).toMatch(/Final-Recipient: rfc822;\s*dave@b\.test/i);
    expect(dsn?.data.toString()).not.toMatch(/Final-Recipient: rfc822;\s*bob@b\.test/i);
  });

  it('rolls back only the piece of a batch that failed', async () => {
    const results = await Promise.allSettled([q.enqueue(msg('ok1')), q.enqueue(msg('ok1')), q.enqueue(msg('ok2'))]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(q.counts().messages).toBe(2);
  });

  it('defers on the growing schedule, warns once after delay_warning, fails at the end of the lifetime', () => {
    q.enqueueNow(msg('m'));
    const attempt = (): void => {
      const [e] = q.due(1);
      q.record(e!, [{ recipientId: e!.recipients[0]!.id, kind: 'deferred', reply: '451 4.3.0 busy' }], policy, notices);
    };
    attempt();
    expect(q.get('m')!.recipients[0]!.nextAttempt).toBe(now + 1000);
    expect(q.due(1)).toEqual([]);
    now += 25_000; // past the delay warning
    attempt();
    expect(q.get('delay-m')).not.toBeNull();
    expect(q.get('m')!.recipients[0]!.nextAttempt).toBe(now + 2000);
    now += 10_000;
    q.remove('delay-m');
    attempt();
    expect(q.get('delay-m')).toBeNull(); // only one delay notice
    now += 60_000; // past the lifetime
    attempt();
    expect(q.get('m')).toBeNull(); // done: removed
    const bounce = q.get('failure-m')!;
    expect(bounce.sender).toBe('');
    expect(bounce.recipients.map((r) => r.address)).toEqual(['alice@a.test']);
    expect(bounce.data.toString()).toMatch(/Status: 4\.3\.0/);
    expect(retryDelay(policy, 10)).toBe(8000);
  });

  it('keeps delivered recipients delivered and bounces only the failed ones', () => {
    q.enqueueNow(msg('m', 'alice@a.test', ['x@b.test', 'y@b.test', 'z@b.test']));
    const [e] = q.due(1);
    const [x, y, z] = e!.recipients;
    q.record(
      e!,
      [
        { recipientId: x!.id, kind: 'delivered', reply: '250 ok' },
        { recipientId: y!.id, kind: 'failed', reply: '550 5.1.1 no such user' },
        { recipientId: z!.id, kind: 'deferred', reply: '451 4.3.0 later' },
      ],
      policy,
      notices,
    );
    const left = q.get('m')!;
    expect(left.recipients.map((r) => r.state)).toEqual(['delivered', 'failed', 'queued']);
    const dsn = q.get('failure-m')!.data.toString();
    expect(dsn).toMatch(/Final-Recipient: rfc822; y@b\.test/);
    expect(dsn).not.toMatch(/x@b\.test|z@b\.test/);
    now += 5000;
    expect(
      q
        .due(5)
        .find((d) => d.id === 'm')!
        .recipients.map((r) => r.address),
    ).toEqual(['z@b.test']);
  });

  it('never bounces a bounce, and honours NOTIFY=NEVER', () => {
    q.enqueueNow(msg('null', ''));
    q.enqueueNow({ ...msg('never'), recipients: [{ address: 'bob@b.test', notify: ['NEVER'] }] });
    for (const e of q.due(5)) q.record(e, [{ recipientId: e.recipients[0]!.id, kind: 'failed', reply: '550 5.1.1 no' }], policy, notices);
    expect(q.counts().messages).toBe(0);
  });

  it('reports success only to who asked (NOTIFY=SUCCESS), and only for a final delivery', () => {
    q.enqueueNow({
      ...msg('s', 'alice@a.test'),
      recipients: [
        { address: 'x@a.test', notify: ['SUCCESS', 'FAILURE'] },
        { address: 'y@a.test', notify: ['FAILURE'] },
        { address: 'z@b.test', notify: ['SUCCESS'] },
      ],
    });
    const [e] = q.due(1);
    const [x, y, z] = e!.recipients;
    q.record(
      e!,
      [
        { recipientId: x!.id, kind: 'delivered', reply: '250 2.0.0 <x@a.test> stored', final: true },
        { recipientId: y!.id, kind: 'delivered', reply: '250 2.0.0 <y@a.test> stored', final: true },
        // handed to a next hop, which was given NOTIFY and reports for itself
        { recipientId: z!.id, kind: 'delivered', reply: '250 2.0.0 queued' },
      ],
      policy,
      notices,
    );
    const dsn = q.get('success-s')!.data.toString();
    expect(dsn).toMatch(/^Subject: Successful Mail Delivery Report\r\n/m);
    expect(dsn).toMatch(/Final-Recipient: rfc822; x@a\.test\r\nAction: delivered\r\nStatus: 2\.0\.0\r\n/);
    expect(dsn).not.toMatch(/y@a\.test|z@b\.test/);
    expect(q.get('failure-s')).toBeNull();
  });

  it('retries what our own delivery agent could not take on the short schedule, and all of it when the agent is ready', () => {
    const slow: RetryPolicy = { ...policy, retryInitialMs: 600_000, retryMaxMs: 4 * 3600_000, lifetimeMs: 5 * 86400_000, delayWarningMs: 86400_000 };
    q.enqueueNow(msg('local'));
    q.enqueueNow(msg('remote'));
    const attempt = (id: string, agentUnavailable: boolean): number => {
      const e = q.due(10).find((d) => d.id === id)!;
      q.record(e, [{ recipientId: e.recipients[0]!.id, kind: 'deferred', reply: '4.4.1 refused', agentUnavailable }], slow, notices);
      return q.get(id)!.recipients[0]!.nextAttempt - now;
    };
    // 1 s doubling to 30 s, then the normal schedule from its start
    const waits: number[] = [];
    for (let i = 0; i < 8; i++) {
      if (i > 0) now += waits[i - 1]!;
      waits.push(attempt('local', true));
    }
    expect(waits).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 600_000, 1_200_000]);
    // a remote destination keeps the normal backoff
    expect(attempt('remote', false)).toBe(600_000);
    // the agent is back: only its deferrals are due now
    expect(q.retryAgentWaits()).toBe(1);
    expect(q.due(10).map((e) => e.id)).toEqual(['local']);
    // any other outcome ends the run of waits
    expect(attempt('local', false)).toBe(retryDelay(slow, 10));
    expect(q.retryAgentWaits()).toBe(0);
    // a schedule faster than the short one (tests) stays as fast
    expect(agentRetryDelay(policy, 3, 1)).toBe(1000);
  });

  it('lists, retries and deletes', () => {
    q.enqueueNow(msg('m'));
    const [e] = q.due(1);
    q.record(e!, [{ recipientId: e!.recipients[0]!.id, kind: 'deferred', reply: '421 4.4.2 gone' }], policy);
    expect(q.list()).toMatchObject([{ id: 'm', recipients: ['bob@b.test'], attempts: 1, lastError: '421 4.4.2 gone' }]);
    expect(q.due(1)).toEqual([]);
    expect(q.retry('m')).toBe(1);
    expect(q.due(1)).toHaveLength(1);
    expect(q.remove('m')).toBe(true);
    expect(q.list()).toEqual([]);
  });
});

describe('statusOfReply', () => {
  it('takes the enhanced code, else the class', () => {
    expect(statusOfReply('550 5.1.1 <x>: unknown', 5)).toBe('5.1.1');
    expect(statusOfReply('4.4.1 connection refused', 4)).toBe('4.4.1');
    expect(statusOfReply('554 transaction failed', 5)).toBe('5.0.0');
    expect(statusOfReply('whatever', 4)).toBe('4.0.0');
  });
});
