/**
 * Direct delivery: mail the MX accepts for local users goes to the delivery agent over LMTP
 * while the client waits for its DATA reply, and into queue.db only when that does not work out,
 * as mox delivers at DATA time. The common case then writes the message to disk once (mail.db)
 * instead of three times (queue.db, then mail.db, then queue.db again to say it was delivered).
 *
 * "250" still means "on disk": either every recipient's LMTP 250 (the delivery agent says it
 * only after its commit) or the queue's commit. The message keeps its queue id, sent as ENVID,
 * so when an LMTP reply is lost after the agent committed, the retry from the queue is recognised
 * and nothing is stored twice.
 *
 * Not tried (straight to the queue): a recipient that is not local, `transfer.direct_delivery`
 * off, no LMTP connection free within `CONNECTION_WAIT_MS`, or the agent found unreachable in the
 * last moments. When the agent refuses every recipient for good (5xx: a full mailbox, say), the
 * client gets that refusal as its DATA reply, so the sender's own MTA reports it and we send no
 * bounce (no backscatter). Otherwise a recipient the agent defers or refuses is queued with that
 * attempt recorded: retried on the schedule, or bounced by the queue's DSN path like any other.
 */
import {
  countMailEvent,
  metrics,
  type Accounts,
  type Config,
  type Logger,
  type NewMessage,
  type NoticeBuilder,
  type QueueStore,
  type RecipientOutcome,
  type RetryPolicy,
} from '@postern/core';
import { SmtpReply } from '@postern/smtp';
import type { LmtpPool } from './lmtp.js';
import { domainOf, nextHopFor } from './routing.js';

/** How long a message waits for a free LMTP connection before it is queued instead. */
const CONNECTION_WAIT_MS = 1_000;

export interface DirectDeliveryDeps {
  config: Config;
  accounts: Accounts;
  queue: QueueStore;
  /** null: no `listen.lmtp`, everything is queued. */
  lmtp: LmtpPool | null;
  policy: RetryPolicy;
  notices: NoticeBuilder;
  log: Logger;
  /** Called after a message was queued, to wake the queue runner; `agentDown` when it was
   * queued because our delivery agent could not take it. */
  onQueued: (agentDown: boolean) => void;
}

/** How a message left the MX: stored in every mailbox, or queued (for some recipients, or all). */
export type Handed = 'delivered' | 'queued';

export class DirectDelivery {
  constructor(private readonly deps: DirectDeliveryDeps) {}

  /** Delivers or queues `message`; resolves once it is durably one or the other. */
  async accept(message: NewMessage): Promise<Handed> {
    const { queue, log } = this.deps;
    const started = Date.now();
    const outcomes = await this.attempt(message);
    if (outcomes?.every((o) => o.kind === 'delivered')) {
      countMailEvent('delivered', message.recipients.length);
      metrics.deliveryLatency.observe({ path: `${message.origin}_to_mailbox` }, (Date.now() - started) / 1000);
      log.info(
        { mail: 'delivered', id: message.id, from: message.sender, to: message.recipients.map((r) => r.address), relay: outcomes[0]?.remoteMta, direct: true },
        'delivered',
      );
      return 'delivered';
    }
    const refusal = outcomes?.every((o) => o.kind === 'failed') ? asReply(outcomes[0]?.reply ?? '') : null;
    if (refusal) {
      countMailEvent('refused', message.recipients.length);
      log.info({ mail: 'refused', id: message.id, from: message.sender, to: message.recipients.map((r) => r.address), reply: outcomes?.[0]?.reply }, 'refused');
      throw refusal;
    }
    if (outcomes) await queue.enqueueAttempted(message, outcomes, this.deps.policy, this.deps.notices);
    else await queue.enqueue(message);
    this.deps.onQueued(outcomes?.some((o) => o.kind === 'deferred' && o.agentUnavailable) === true);
    return 'queued';
  }

  /** One LMTP attempt, outcomes by index into message.recipients; null when not tried. */
  private async attempt(message: NewMessage): Promise<RecipientOutcome[] | null> {
    const { config, accounts, lmtp } = this.deps;
    if (!lmtp || !config.transfer.direct_delivery) return null;
    if (!message.recipients.every((r) => nextHopFor(domainOf(r.address), config, accounts).kind === 'lmtp')) return null;
    const addressees = message.recipients.map((r, id) => ({ id, address: r.address }));
    return lmtp.tryDeliver({ id: message.id, sender: message.sender, data: message.data, body8bit: message.body8bit === true }, addressees, CONNECTION_WAIT_MS);
  }
}

/** The delivery agent's permanent refusal ("552 5.2.2 <a@b>: mailbox full") as our DATA reply. */
function asReply(reply: string): SmtpReply | null {
  const m = /^(5\d\d)[ -](5\.\d{1,3}\.\d{1,3}) (.*)$/.exec(reply);
  return m ? new SmtpReply(Number(m[1]), m[2]!, m[3]!) : null;
}
