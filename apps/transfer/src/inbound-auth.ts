/**
 * Inbound message authentication on port 25 (SPF, DKIM, DMARC, ARC with mailauth, through
 * @postern/trust), called by the MX server after DATA and before the message is queued.
 *
 * - Mail from an authenticated client or a trusted network is ours to relay, not to judge: it
 *   passes unchecked and unchanged.
 * - Otherwise every check runs against the DNS servers of `dns.servers`; the verdict follows the
 *   `[inbound]` policy: refuse (550 5.7.1), deliver to Junk (`X-Postern-Junk:` prepended, which
 *   the delivery agent reads), or accept. Either way `Authentication-Results:` is prepended.
 * - Authentication-Results fields claiming our host name, and any `X-Postern-Junk:`, are removed
 *   from the message first (RFC 8601 §5): only we write those.
 */
import type { Config } from '@postern/core';
import { JUNK_HEADER, cachedDnsLookup, checkInbound as check, createDnsLookup, inboundPolicyOf, stripForgedAuthResults, type DnsLookup } from '@postern/trust';

export interface InboundContext {
  /** The client's IP address. */
  ip: string;
  /** What the client said in EHLO/HELO. */
  helo: string;
  /** Envelope sender, '' for the null reverse-path. */
  sender: string;
  /** Our host name (the authserv-id of Authentication-Results). */
  hostname: string;
  /** The message as received, before our Received: header. */
  message: Buffer;
  /** Where the DNS servers and the policy come from. */
  config: Pick<Config, 'dns' | 'inbound'>;
  /** True for mail we relay for an authenticated client or a trusted network: not checked. */
  trusted?: boolean;
}

export type InboundVerdict =
  /** Queue `message` (forged fields removed) with `prepend` above it. */
  | { action: 'accept'; prepend: string; message: Buffer }
  /** Deliver, but to the recipient's Junk folder (the header tells the delivery agent). */
  | { action: 'junk'; prepend: string; message: Buffer; cause: 'dmarc' | 'spf' | 'timeout' | 'other' }
  | { action: 'reject'; code: number; enhanced: string; text: string };

/** One resolver per config (node's Resolver keeps its server list; no need for one per message),
 * with the answers kept for `dns.cache`: the same sender domains come back message after message. */
const lookups = new WeakMap<object, DnsLookup>();

function lookupFor(config: Pick<Config, 'dns'>): DnsLookup {
  let l = lookups.get(config.dns);
  if (!l) {
    l = cachedDnsLookup(createDnsLookup(config), config.dns.cache);
    lookups.set(config.dns, l);
  }
  return l;
}

/** Header field text without CR/LF (a reason is free text from DNS names and policies). */
const oneLine = (s: string): string => s.replace(/[\r\n]+/g, ' ');

export async function checkInbound(ctx: InboundContext): Promise<InboundVerdict> {
  if (ctx.trusted) return { action: 'accept', prepend: '', message: ctx.message };
  const result = await check({
    raw: ctx.message,
    ip: ctx.ip,
    helo: ctx.helo,
    mailFrom: ctx.sender,
    hostname: ctx.hostname,
    resolver: lookupFor(ctx.config),
    policy: inboundPolicyOf(ctx.config),
    // a DNS server that never answers must not hold the client past a few lookups' worth
    timeoutMs: ctx.config.dns.timeout * 3,
  });
  if (result.verdict === 'reject') {
    const reply = result.reply ?? { code: 550, enhanced: '5.7.1', text: result.reason };
    return { action: 'reject', code: reply.code, enhanced: reply.enhanced, text: oneLine(reply.text) };
  }
  const message = stripForgedAuthResults(ctx.message, ctx.hostname);
  const prepend = `${result.header}\r\n`;
  if (result.verdict === 'junk') {
    // a few fixed causes, for the metrics (postern_messages_junked_total)
    const cause = result.dmarc.startsWith('fail')
      ? 'dmarc'
      : result.spf.startsWith('fail')
        ? 'spf'
        : result.reason === 'checks timed out'
          ? 'timeout'
          : 'other';
    return { action: 'junk', prepend: `${JUNK_HEADER}: yes (${oneLine(result.reason)})\r\n${prepend}`, message, cause };
  }
  return { action: 'accept', prepend, message };
}
