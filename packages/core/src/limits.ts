/**
 * Limits that follow from the configured ones rather than being set themselves.
 */
import type { Config } from './config.js';

/**
 * What our own hops may add to a message after its client sent it: Received:, Authentication-
 * Results:, DKIM-Signature: (two), Message-ID:/Date:, an ARC set and SRS on a redirect. A few KB
 * in practice; 64 KiB leaves room for long folded fields and several hops inside one instance.
 */
export const TRACE_HEADROOM = 65_536;

/**
 * The largest message a hop behind the MX or submission accepts (the delivery agent's LMTP):
 * `limits.message_size` applies to what the client sends, so a message accepted at exactly that
 * size must not be refused later for the fields we prepended.
 */
export function nextHopMessageSize(limits: Pick<Config['limits'], 'message_size'>): number {
  return limits.message_size + TRACE_HEADROOM;
}

/**
 * The bytes of messages a process holds while they arrive and until they are handed on
 * (`limits.data_in_flight`): SMTP DATA on the MX, submission and LMTP, IMAP APPEND literals.
 * Unfinished transfers from many clients can then take at most this much, in memory or in the
 * spool; past it a new one is refused for now (`452 4.3.1`, IMAP `NO [LIMIT]`) and nothing
 * already accepted is affected. One per process, shared by its listeners.
 */
export class ByteBudget {
  private used = 0;

  constructor(readonly max: number) {}

  /** Takes `n` bytes; false, taking nothing, when that would pass the cap. */
  take(n: number): boolean {
    if (this.used + n > this.max) return false;
    this.used += n;
    return true;
  }

  give(n: number): void {
    this.used = Math.max(0, this.used - n);
  }

  get inUse(): number {
    return this.used;
  }
}
