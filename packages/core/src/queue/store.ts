/**
 * The queue store: the only code that reads or writes queue.db.
 *
 * Invariants:
 * - A message and all its recipients are inserted in one transaction; `enqueue` resolves only
 *   after that transaction committed (synchronous=FULL), so "250" may follow.
 * - A recipient's outcome, the DSN it causes and the removal of a finished message commit in one
 *   transaction (`record`), so a crash neither loses nor repeats a bounce.
 * - A recipient marked `delivered` is never offered for delivery again.
 */
import { join } from 'node:path';
import type { Config } from '../config.js';
import { newId } from '../log.js';
import { openDatabase, prepared, type Db } from '../sqlite.js';
import { GroupCommit } from './group-commit.js';
import { QUEUE_MIGRATIONS } from './schema.js';

export type QueueOrigin = 'submission' | 'mx' | 'sendmail' | 'dsn' | 'sieve';

export interface NewRecipient {
  address: string;
  /** RFC 3461 ORCPT as given ("rfc822;bob@example.org"). */
  orcpt?: string | null;
  /** RFC 3461 NOTIFY values (NEVER, or any of SUCCESS, FAILURE, DELAY). */
  notify?: readonly string[] | null;
}

export interface NewMessage {
  /** The queue id; callers make it first (newId()) because the Received: header names it. */
  id: string;
  /** Envelope sender; '' for the null reverse-path. */
  sender: string;
  recipients: readonly NewRecipient[];
  data: Buffer;
  origin: QueueOrigin;
  client?: string;
  envid?: string | null;
  ret?: 'FULL' | 'HDRS' | null;
  smtputf8?: boolean;
  body8bit?: boolean;
  arrival?: number;
}

export type RecipientState = 'queued' | 'delivered' | 'failed';

export interface QueueRecipient {
  id: number;
  address: string;
  orcpt: string | null;
  notify: string[] | null;
  state: RecipientState;
  attempts: number;
  nextAttempt: number;
  lastError: string | null;
  lastAttempt: number | null;
  delayNotified: boolean;
  /** Deferrals in a row because our own delivery agent could not take the message. */
  agentWaits: number;
}

export interface QueueEntry {
  id: string;
  sender: string;
  arrival: number;
  size: number;
  smtputf8: boolean;
  body8bit: boolean;
  envid: string | null;
  ret: 'FULL' | 'HDRS' | null;
  origin: QueueOrigin;
  client: string;
  data: Buffer;
  recipients: QueueRecipient[];
}

/** What one delivery attempt did for one recipient. `reply` is the next hop's reply text. */
export type RecipientOutcome =
  /** `final`: stored in the mailbox (LMTP), not handed to a next hop (RFC 3464 §2.3.3 "delivered"). */
  | { recipientId: number; kind: 'delivered'; reply: string; remoteMta?: string; final?: boolean }
  /** `agentUnavailable`: the next hop is our own delivery agent and it could not take the message
   * (not listening, restarting, shutting down, busy): not an internet failure, so it is retried
   * on the short schedule (agentRetryDelay) and as soon as the agent is ready again. */
  | { recipientId: number; kind: 'deferred'; reply: string; remoteMta?: string; agentUnavailable?: boolean }
  | { recipientId: number; kind: 'failed'; reply: string; remoteMta?: string };

export interface RetryPolicy {
  retryInitialMs: number;
  retryMaxMs: number;
  lifetimeMs: number;
  delayWarningMs: number;
}

/** A recipient that a notice (DSN) reports on. */
export interface NoticeRecipient {
  recipient: QueueRecipient;
  reply: string;
  remoteMta?: string;
  /** True when the recipient failed because its time in the queue ran out (RFC 3463 4.4.7). */
  expired: boolean;
}

/** Builds the DSN for the sender of `entry`; returns null to send none. Runs inside the
 * transaction, so it must be synchronous. */
export type NoticeBuilder = (kind: 'failure' | 'delay' | 'success', entry: QueueEntry, recipients: NoticeRecipient[]) => NewMessage | null;

export interface QueueSummary {
  id: string;
  sender: string;
  arrival: number;
  size: number;
  origin: QueueOrigin;
  recipients: string[];
  attempts: number;
  nextAttempt: number | null;
  lastError: string | null;
}

interface MessageRow {
  id: string;
  sender: string;
  arrival: number;
  size: number;
  smtputf8: number;
  body8bit: number;
  envid: string | null;
  ret: string | null;
  origin: string;
  client: string;
  data: Buffer;
}

interface RecipientRow {
  id: number;
  message_id: string;
  address: string;
  orcpt: string | null;
  notify: string | null;
  state: string;
  attempts: number;
  next_attempt: number;
  last_error: string | null;
  last_attempt: number | null;
  delay_notified: number;
  agent_waits: number;
}

const toRecipient = (r: RecipientRow): QueueRecipient => ({
  id: r.id,
  address: r.address,
  orcpt: r.orcpt,
  notify: r.notify === null ? null : r.notify.split(','),
  state: r.state as RecipientState,
  attempts: r.attempts,
  nextAttempt: r.next_attempt,
  lastError: r.last_error,
  lastAttempt: r.last_attempt,
  delayNotified: r.delay_notified !== 0,
  agentWaits: r.agent_waits,
});

export function queueDbPath(config: Pick<Config, 'dataDir'>): string {
  return join(config.dataDir, 'queue.db');
}

/** The retry policy of a config's [transfer] table. */
export function retryPolicyOf(config: Pick<Config, 'transfer'>): RetryPolicy {
  return {
    retryInitialMs: config.transfer.retry_initial,
    retryMaxMs: config.transfer.retry_max,
    lifetimeMs: config.transfer.queue_lifetime,
    delayWarningMs: config.transfer.delay_warning,
  };
}

/** Growing retry schedule: initial, doubled after every attempt, capped at max. */
export function retryDelay(policy: RetryPolicy, attempts: number): number {
  return Math.min(policy.retryMaxMs, policy.retryInitialMs * 2 ** Math.max(0, Math.min(attempts - 1, 30)));
}

/**
 * The short schedule for a recipient our own delivery agent could not take (it restarts in
 * seconds; the internet's backoff of minutes would leave the inbox empty that long): 1 s
 * doubling to 30 s, six tries in about a minute, then the normal schedule from its start. Never
 * slower than the normal schedule would be (a test config retrying every 200 ms keeps that).
 * `waits` counts this deferral (1 for the first).
 */
export const AGENT_RETRY_STEPS: readonly number[] = [1_000, 2_000, 4_000, 8_000, 16_000, 30_000];

export function agentRetryDelay(policy: RetryPolicy, waits: number, attempts: number): number {
  const step = AGENT_RETRY_STEPS[waits - 1];
  if (step !== undefined) return Math.min(step, retryDelay(policy, attempts));
  return retryDelay(policy, waits - AGENT_RETRY_STEPS.length);
}

export class QueueStore {
  private readonly group: GroupCommit;
  /** Outcomes commit at the end of the event loop turn: the at-least-once window stays tiny. */
  private readonly outcomeGroup: GroupCommit;
  private readonly now: () => number;

  constructor(
    readonly db: Db,
    options: { now?: () => number; groupWindowMs?: number } = {},
  ) {
    this.now = options.now ?? Date.now;
    this.group = new GroupCommit(db, options.groupWindowMs ?? 0);
    this.outcomeGroup = new GroupCommit(db, 0);
  }

  static open(config: Pick<Config, 'dataDir'>, options?: { now?: () => number; groupWindowMs?: number }): QueueStore {
    return new QueueStore(openDatabase(queueDbPath(config), QUEUE_MIGRATIONS), options);
  }

  close(): void {
    this.group.flush();
    this.outcomeGroup.flush();
    this.db.close();
  }

  /** Queues a message durably, batched with others finishing now (group commit). */
  enqueue(message: NewMessage): Promise<string> {
    return this.group.run(() => this.insert(message));
  }

  /**
   * Queues a message whose first attempt was already made before it was queued (the MX's direct
   * delivery): the outcomes are recorded in the same transaction, as `record` would, so delivered
   * recipients are not sent again and the others wait for their retry. `outcomes[].recipientId`
   * is an index into `message.recipients`.
   */
  enqueueAttempted(message: NewMessage, outcomes: readonly RecipientOutcome[], policy: RetryPolicy, notices?: NoticeBuilder): Promise<string> {
    return this.group.run(() => {
      this.insert(message);
      const entry = this.load(message.id)!;
      const rowOf = new Map(entry.recipients.map((r) => [r.address, r.id]));
      const filed = outcomes.flatMap((o) => {
        const row = rowOf.get(message.recipients[o.recipientId]?.address ?? '');
        return row === undefined ? [] : [{ ...o, recipientId: row }];
      });
      this.recordIn(entry, filed, policy, notices);
      return message.id;
    });
  }

  /** Queues a message in its own transaction, synchronously (sendmail, tests). */
  enqueueNow(message: NewMessage): string {
    return this.db.transaction(() => this.insert(message)).immediate();
  }

  private insert(m: NewMessage): string {
    if (m.recipients.length === 0) throw new Error('a queued message needs at least one recipient');
    const arrival = m.arrival ?? this.now();
    prepared(
      this.db,
      `INSERT INTO messages (id, sender, arrival, size, smtputf8, body8bit, envid, ret, origin, client, data)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(m.id, m.sender, arrival, m.data.length, m.smtputf8 ? 1 : 0, m.body8bit ? 1 : 0, m.envid ?? null, m.ret ?? null, m.origin, m.client ?? '', m.data);
    const add = this.db.prepare('INSERT OR IGNORE INTO recipients (message_id, address, orcpt, notify, next_attempt) VALUES (?, ?, ?, ?, ?)');
    for (const r of m.recipients) add.run(m.id, r.address, r.orcpt ?? null, r.notify ? r.notify.join(',') : null, arrival);
    return m.id;
  }

  /** PRAGMA data_version: changes whenever another connection (sendmail, submission) commits. */
  dataVersion(): number {
    return this.db.pragma('data_version', { simple: true }) as number;
  }

  /** When the earliest queued recipient is due, or null when nothing is queued. */
  nextDue(): number | null {
    const row = prepared(this.db, "SELECT MIN(next_attempt) AS t FROM recipients WHERE state = 'queued'").get() as {
      t: number | null;
    };
    return row.t;
  }

  /**
   * Messages with recipients due now, oldest due first, leaving out `busy` (messages the runner
   * is already delivering). Each entry carries only its due recipients.
   */
  due(limit: number, busy: ReadonlySet<string> = new Set()): QueueEntry[] {
    const now = this.now();
    const ids = prepared(
      this.db,
      `SELECT message_id, MIN(next_attempt) AS t FROM recipients
         WHERE state = 'queued' AND next_attempt <= ? AND message_id NOT IN (SELECT value FROM json_each(?))
         GROUP BY message_id ORDER BY t LIMIT ?`,
    ).all(now, JSON.stringify([...busy]), limit) as Array<{ message_id: string }>;
    const out: QueueEntry[] = [];
    for (const { message_id } of ids) {
      const entry = this.load(message_id, now);
      if (entry && entry.recipients.length > 0) out.push(entry);
    }
    return out;
  }

  /** A message with its recipients (only those queued and due by `dueBy`, when given). */
  get(id: string): QueueEntry | null {
    return this.load(id);
  }

  private load(id: string, dueBy?: number): QueueEntry | null {
    const m = prepared(this.db, 'SELECT * FROM messages WHERE id = ?').get(id) as MessageRow | undefined;
    if (!m) return null;
    const rows = (
      dueBy === undefined
        ? prepared(this.db, 'SELECT * FROM recipients WHERE message_id = ? ORDER BY id').all(id)
        : prepared(this.db, "SELECT * FROM recipients WHERE message_id = ? AND state = 'queued' AND next_attempt <= ? ORDER BY id").all(id, dueBy)
    ) as RecipientRow[];
    return {
      id: m.id,
      sender: m.sender,
      arrival: m.arrival,
      size: m.size,
      smtputf8: m.smtputf8 !== 0,
      body8bit: m.body8bit !== 0,
      envid: m.envid,
      ret: m.ret === 'FULL' || m.ret === 'HDRS' ? m.ret : null,
      origin: m.origin as QueueOrigin,
      client: m.client,
      data: m.data,
      recipients: rows.map(toRecipient),
    };
  }

  /**
   * Records one attempt's outcomes (synchronously, one transaction). Deferred recipients get
   * their next attempt on the retry schedule, or fail when the queue lifetime is over; the
   * sender gets one failure DSN for the recipients that failed and one delay notice for those
   * undelivered past `delayWarningMs` (RFC 3461 NOTIFY permitting, never for a null sender).
   */
  record(entry: QueueEntry, outcomes: readonly RecipientOutcome[], policy: RetryPolicy, notices?: NoticeBuilder): void {
    this.db.transaction(() => this.recordIn(entry, outcomes, policy, notices)).immediate();
  }

  /** Like record, batched with other commits (group commit). */
  recordBatched(entry: QueueEntry, outcomes: readonly RecipientOutcome[], policy: RetryPolicy, notices?: NoticeBuilder): Promise<void> {
    return this.outcomeGroup.run(() => this.recordIn(entry, outcomes, policy, notices));
  }

  private recordIn(entry: QueueEntry, outcomes: readonly RecipientOutcome[], policy: RetryPolicy, notices?: NoticeBuilder): void {
    const now = this.now();
    const byId = new Map(entry.recipients.map((r) => [r.id, r]));
    const failed: NoticeRecipient[] = [];
    const delayed: NoticeRecipient[] = [];
    const succeeded: NoticeRecipient[] = [];
    const done = this.db.prepare('UPDATE recipients SET state = ?, attempts = attempts + 1, last_error = ?, last_attempt = ? WHERE id = ? AND state = ?');
    const defer = this.db.prepare(
      "UPDATE recipients SET attempts = attempts + 1, next_attempt = ?, last_error = ?, last_attempt = ?, delay_notified = ?, agent_waits = ? WHERE id = ? AND state = 'queued'",
    );
    for (const o of outcomes) {
      const r = byId.get(o.recipientId);
      if (!r) continue;
      const extra = o.remoteMta === undefined ? {} : { remoteMta: o.remoteMta };
      if (o.kind === 'delivered') {
        done.run('delivered', o.reply, now, r.id, 'queued');
        // RFC 3461 §4.1: a success report only when asked for, and only from where the message
        // ended (a next hop that speaks DSN reports for itself: NOTIFY is passed on to it)
        if (o.final && r.notify?.includes('SUCCESS')) succeeded.push({ recipient: r, reply: o.reply, expired: false, ...extra });
      } else if (o.kind === 'failed') {
        done.run('failed', o.reply, now, r.id, 'queued');
        failed.push({ recipient: r, reply: o.reply, expired: false, ...extra });
      } else if (now - entry.arrival >= policy.lifetimeMs) {
        done.run('failed', o.reply, now, r.id, 'queued');
        failed.push({ recipient: r, reply: o.reply, expired: true, ...extra });
      } else {
        const warn = !r.delayNotified && now - entry.arrival >= policy.delayWarningMs;
        const waits = o.agentUnavailable ? r.agentWaits + 1 : 0;
        const delay = waits > 0 ? agentRetryDelay(policy, waits, r.attempts + 1) : retryDelay(policy, r.attempts + 1);
        defer.run(now + delay, o.reply, now, r.delayNotified || warn ? 1 : 0, waits, r.id);
        if (warn) delayed.push({ recipient: r, reply: o.reply, expired: false, ...extra });
      }
    }
    if (notices && entry.sender !== '') {
      const wants = (n: NoticeRecipient, what: string): boolean => (n.recipient.notify === null ? true : n.recipient.notify.includes(what));
      const f = failed.filter((n) => wants(n, 'FAILURE'));
      const d = delayed.filter((n) => wants(n, 'DELAY'));
      for (const [kind, list] of [
        ['failure', f],
        ['delay', d],
        ['success', succeeded],
      ] as const) {
        if (list.length === 0) continue;
        const notice = notices(kind, entry, list);
        if (notice) this.insert(notice);
      }
    }
    this.removeIfDone(entry.id);
  }

  private removeIfDone(id: string): void {
    const left = prepared(this.db, "SELECT 1 FROM recipients WHERE message_id = ? AND state = 'queued' LIMIT 1").get(id);
    if (!left) prepared(this.db, 'DELETE FROM messages WHERE id = ?').run(id);
  }

  list(): QueueSummary[] {
    const rows = prepared(
      this.db,
      `SELECT m.id, m.sender, m.arrival, m.size, m.origin,
                json_group_array(r.address) AS rcpts, MAX(r.attempts) AS attempts,
                MIN(r.next_attempt) AS next_attempt,
                (SELECT last_error FROM recipients x WHERE x.message_id = m.id AND x.last_error IS NOT NULL
                  ORDER BY x.last_attempt DESC LIMIT 1) AS last_error
         FROM messages m JOIN recipients r ON r.message_id = m.id AND r.state = 'queued'
         GROUP BY m.id ORDER BY m.arrival, m.id`,
    ).all() as Array<{
      id: string;
      sender: string;
      arrival: number;
      size: number;
      origin: string;
      rcpts: string;
      attempts: number;
      next_attempt: number | null;
      last_error: string | null;
    }>;
    return rows.map((r) => ({
      id: r.id,
      sender: r.sender,
      arrival: r.arrival,
      size: r.size,
      origin: r.origin as QueueOrigin,
      recipients: JSON.parse(r.rcpts) as string[],
      attempts: r.attempts,
      nextAttempt: r.next_attempt,
      lastError: r.last_error,
    }));
  }

  /** Makes queued recipients due now (one message, or all). Returns how many. */
  retry(id?: string): number {
    const now = this.now();
    const info =
      id === undefined
        ? prepared(this.db, "UPDATE recipients SET next_attempt = ? WHERE state = 'queued'").run(now)
        : prepared(this.db, "UPDATE recipients SET next_attempt = ? WHERE state = 'queued' AND message_id = ?").run(now, id);
    return info.changes;
  }

  /**
   * Makes due now every recipient whose last attempt found our own delivery agent unable to
   * take it: called when the agent says it is ready again. Returns how many.
   */
  retryAgentWaits(): number {
    const now = this.now();
    return prepared(this.db, "UPDATE recipients SET next_attempt = ? WHERE state = 'queued' AND agent_waits > 0 AND next_attempt > ?").run(now, now).changes;
  }

  /** Drops a message from the queue without any notice. */
  remove(id: string): boolean {
    return prepared(this.db, 'DELETE FROM messages WHERE id = ?').run(id).changes > 0;
  }

  /** Counts by state, for tests and `postern queue`. */
  counts(): { messages: number; queued: number } {
    const m = prepared(this.db, 'SELECT COUNT(*) AS n FROM messages').get() as { n: number };
    const q = prepared(this.db, "SELECT COUNT(*) AS n FROM recipients WHERE state = 'queued'").get() as { n: number };
    return { messages: m.n, queued: q.n };
  }

  /** When the oldest message still queued for someone arrived (ms), or null: the metrics' queue age. */
  oldestQueuedArrival(): number | null {
    return (prepared(
      this.db,
      "SELECT MIN(m.arrival) FROM messages m WHERE EXISTS (SELECT 1 FROM recipients r WHERE r.message_id = m.id AND r.state = 'queued')",
    )
      .pluck()
      .get() ?? null) as number | null;
  }
}

export { newId as newQueueId };
