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
