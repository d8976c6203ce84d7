/**
 * The queue runner: takes due messages from queue.db, hands each recipient to its next hop
 * (LMTP for local domains, a relay or the MX hosts otherwise), and records every recipient's
 * outcome with the retry schedule and the DSNs it causes.
 *
 * Crash safety: a recipient is marked delivered in queue.db right after the next hop's 250
 * (batched with other results within a few milliseconds: group commit). If the process dies in
 * that window, between the remote 250 and our commit, that recipient is delivered again after
 * the restart: at-least-once, the tolerance RFC 5321 §6.1 accepts; it is never redelivered once
 * the commit happened.
 *
 * New work is noticed three ways: a wake-up from our own MX server, PRAGMA data_version changing
 * (submission and `postern sendmail` commit from other processes), and the due time of the
 * earliest deferred recipient.
 *
 * Our own delivery agent down is not an internet failure (issue 26): what it could not take is
 * deferred on a short schedule (1 s doubling to 30 s, packages/core agentRetryDelay), and every
 * such deferral is retried at once when the agent is ready again: when the supervisor says so
 * (`agentReady`, relayed over IPC by `postern start`), or when a connection to it succeeds, which
 * a probe every second tries while it is down (apps run without the supervisor too).
 */
import {
  countMailEvent,
  metrics,
  retryPolicyOf,
  type Accounts,
  type Config,
  type DnsResolver,
  type Logger,
  type QueueEntry,
  type QueueRecipient,
  type QueueStore,
  type RecipientOutcome,
} from '@postern/core';
import type { LmtpPool } from './lmtp.js';
import { noticeBuilder } from './notices.js';
import { deliverRemote, Semaphore, type OutboundDeps } from './outbound.js';
import { allDeferred } from './outcomes.js';
import { domainOf, nextHopFor, type NextHop } from './routing.js';

export interface RunnerDeps {
  config: Config;
  queue: QueueStore;
  accounts: Accounts;
  resolver: DnsResolver;
  log: Logger;
  /** The LMTP pool to the delivery agent (shared with the MX's direct delivery); null without
   * `listen.lmtp`. */
  lmtp: LmtpPool | null;
  /** Port of remote MX hosts (25; tests point it elsewhere). */
  mxPort?: number;
  /** What destinations ask of TLS (MTA-STS), and trust anchors other than the system's (tests). */
  tls?: Pick<OutboundDeps, 'tlsPolicy' | 'ca'>;
}

/** Messages in delivery at once; connections are limited separately. */
const MAX_IN_FLIGHT = 200;
/** How often to look at queue.db for commits by other processes. */
const WATCH_MS = 100;
/** Longest a message whose attempt could not be recorded waits before it is offered again. */
const HOLD_MAX_MS = 30_000;
/** While the delivery agent is down, how often a connection to it is tried. */
const AGENT_PROBE_MS = 1_000;

export class QueueRunner {
  private readonly busy = new Set<string>();
  /** Messages whose last attempt could not be recorded (queue.db failing, e.g. a full disk),
   * by when they may be tried again (retry_initial, at most HOLD_MAX_MS): without this they were
   * offered again at once, ~300 hand-overs a second (found by test/faults/disk-full). */
  private readonly held = new Map<string, number>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly lmtp: LmtpPool | null;
  private readonly outbound: Semaphore;
  private readonly outboundDeps: OutboundDeps;
  private readonly policy;
  private readonly notices;
  private timer: NodeJS.Timeout | null = null;
  private probeTimer: NodeJS.Timeout | null = null;
  private probing = false;
  private lastVersion = -1;
  private lastDueCheck = 0;
  private stopped = false;

  constructor(private readonly deps: RunnerDeps) {
    const { config } = deps;
    this.lmtp = deps.lmtp;
    this.outbound = new Semaphore(config.transfer.outbound_connections);
    this.outboundDeps = { hostname: config.hostname, resolver: deps.resolver, log: deps.log, mxPort: deps.mxPort ?? 25, ...deps.tls };
    this.policy = retryPolicyOf(config);
    this.notices = noticeBuilder(config);
    if (this.lmtp) this.lmtp.onReachable = () => this.agentReady('connected');
  }

  /**
   * The delivery agent is ready again (`source`: the supervisor said so, or a connection to it
   * succeeded): every recipient it could not take is due now, not at its next short retry.
   */
  agentReady(source: string): void {
    if (this.stopped) return;
    this.stopProbe();
    this.lmtp?.markReady();
    let retried = 0;
    try {
      retried = this.deps.queue.retryAgentWaits();
    } catch (err) {
      this.deps.log.error({ err }, 'rescheduling the delivery agent backlog failed');
      return;
    }
    if (retried > 0) this.deps.log.info({ retried, source }, 'delivery agent ready: retrying what it could not take');
    this.wake();
  }

  /** The agent could not take a message (here, or at the MX's direct delivery): tries a
   * connection to it every AGENT_PROBE_MS until one succeeds. */
  probeAgent(): void {
    const lmtp = this.lmtp;
    if (!lmtp || this.probeTimer || this.stopped) return;
    this.probeTimer = setInterval(() => {
      if (this.probing) return;
      this.probing = true;
      void lmtp
        .probe()
        .then((up) => {
          if (up && this.probeTimer) this.agentReady('probe');
        })
        .finally(() => (this.probing = false));
    }, AGENT_PROBE_MS);
    this.probeTimer.unref();
  }

  private stopProbe(): void {
    if (this.probeTimer) clearInterval(this.probeTimer);
    this.probeTimer = null;
  }

  start(): void {
    this.timer = setInterval(() => this.watch(), Math.min(WATCH_MS, this.deps.config.transfer.queue_poll));
    this.wake();
  }

  private watch(): void {
    const v = this.deps.queue.dataVersion();
    const now = Date.now();
    if (v !== this.lastVersion || now - this.lastDueCheck >= this.deps.config.transfer.queue_poll) {
      this.lastVersion = v;
      this.lastDueCheck = now;
      this.wake();
    }
  }

  /** Looks for due work now and starts delivering it. */
  wake(): void {
    if (this.stopped) return;
    const room = MAX_IN_FLIGHT - this.busy.size;
    if (room <= 0) return;
    const now = Date.now();
    const skip = new Set(this.busy);
    for (const [id, until] of this.held) {
      if (until <= now) this.held.delete(id);
      else skip.add(id);
    }
    let entries: QueueEntry[];
    try {
      entries = this.deps.queue.due(room, skip);
    } catch (err) {
      this.deps.log.error({ err }, 'reading the queue failed');
      return;
    }
    for (const entry of entries) {
      this.busy.add(entry.id);
      const p = this.process(entry)
        .catch((err: unknown) => {
          // at most HOLD_MAX_MS: a failure to record is our own trouble (a busy or full disk), not
          // the next hop's, and it must not cost a message the internet's retry_initial
          const holdMs = Math.min(this.policy.retryInitialMs, HOLD_MAX_MS);
          this.deps.log.error({ id: entry.id, err, hold_ms: holdMs }, 'delivery attempt failed; holding the message');
          this.held.set(entry.id, Date.now() + holdMs);
        })
        .finally(() => {
          this.busy.delete(entry.id);
          this.inFlight.delete(p);
          // more may be due now (or waiting for room)
          setImmediate(() => this.wake());
        });
      this.inFlight.add(p);
    }
  }

  private async process(entry: QueueEntry): Promise<void> {
    const groups = new Map<string, { hop: NextHop; recipients: QueueRecipient[] }>();
    for (const r of entry.recipients) {
      const hop = nextHopFor(domainOf(r.address), this.deps.config, this.deps.accounts);
      const g = groups.get(hop.key) ?? { hop, recipients: [] };
      g.recipients.push(r);
      groups.set(hop.key, g);
    }
    const results = await Promise.all([...groups.values()].map((g) => this.deliverGroup(entry, g.hop, g.recipients)));
    const outcomes = results.flat();
    await this.deps.queue.recordBatched(entry, outcomes, this.policy, this.notices);
    if (outcomes.some((o) => o.kind === 'deferred' && o.agentUnavailable)) this.probeAgent();
    const byId = new Map(entry.recipients.map((r) => [r.id, r]));
    for (const o of outcomes) {
      const r = byId.get(o.recipientId)!;
      const event = o.kind === 'delivered' ? 'delivered' : o.kind === 'failed' ? 'bounced' : 'deferred';
      countMailEvent(event);
      if (o.kind === 'delivered') {
        const hop = nextHopFor(domainOf(r.address), this.deps.config, this.deps.accounts).kind === 'lmtp' ? 'mailbox' : 'remote';
        metrics.deliveryLatency.observe({ path: `${entry.origin}_to_${hop}` }, (Date.now() - entry.arrival) / 1000);
      }
      this.deps.log.info({ mail: event, id: entry.id, to: r.address, from: entry.sender, attempt: r.attempts + 1, relay: o.remoteMta, reply: o.reply }, event);
    }
  }

  private async deliverGroup(entry: QueueEntry, hop: NextHop, recipients: QueueRecipient[]): Promise<RecipientOutcome[]> {
    try {
      if (hop.kind === 'lmtp') {
        if (!this.lmtp) return allDeferred(recipients, '4.3.5 no LMTP listener configured (listen.lmtp)');
        return await this.lmtp.deliver(entry, recipients);
      }
      return await this.outbound.use(() => deliverRemote(this.outboundDeps, hop, entry, recipients));
    } catch (err) {
      this.deps.log.error({ id: entry.id, err }, 'delivery failed unexpectedly');
      return allDeferred(recipients, `4.3.0 internal error: ${(err as Error).message}`);
    }
  }

  /** Stops taking work and waits for deliveries in flight to be recorded (the LMTP pool is the
   * owner's to close). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.stopProbe();
    await Promise.allSettled([...this.inFlight]);
  }
}
