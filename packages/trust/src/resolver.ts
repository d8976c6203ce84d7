/**
 * The DNS lookups of the trust checks, as one function `lookup(name, rrtype)` with the meaning of
 * node's `dns.promises.resolve` (TXT gives string[][], MX {exchange, priority}[], SRV
 * {name, port, priority, weight}[], A/AAAA/CNAME/PTR string[]). That is the shape mailauth takes
 * as its injected resolver, so SPF, DKIM, DMARC and ARC all go through the servers configured in
 * `dns.servers` ("ip" or "ip:port", so tests can point it at a DNS server on loopback).
 *
 * Errors keep node's codes: ENOTFOUND (no such name) and ENODATA (no record of that type) mean
 * "absent"; anything else (ETIMEOUT, ESERVFAIL, ECONNREFUSED) is a temporary failure.
 */
import { createNodeResolver, type ResolverSettings } from '@postern/core';

export type DnsLookup = (name: string, rrtype: string) => Promise<unknown>;

/** Record types the checks ask for; anything else is refused before it reaches the network. */
const TYPES = new Set(['A', 'AAAA', 'MX', 'TXT', 'CNAME', 'PTR', 'SRV', 'NS']);

/** A lookup on `config.dns.servers` (the system's resolvers when the list is empty). */
export function createDnsLookup(config: ResolverSettings): DnsLookup {
  const resolver = createNodeResolver(config);
  return async (name: string, rrtype: string): Promise<unknown> => {
    const type = rrtype.toUpperCase();
    if (!TYPES.has(type)) {
      throw Object.assign(new Error(`unsupported record type ${rrtype}`), { code: 'ENOTIMP' });
    }
    return resolver.resolve(name, type);
  };
}

/**
 * A lookup that keeps answers for `maxAgeMs`, for the MX's checks: every message from a domain
 * asks for the same SPF and DMARC records, and Postern talks to `dns.servers` directly, often
 * with no caching resolver in between. Answers and "absent" (ENOTFOUND/ENODATA: negative
 * caching, RFC 2308) are kept; temporary failures are not, so the next message asks again.
 * Concurrent lookups of one name share one query. node's resolver gives no TTL for most types,
 * so the age is a fixed bound, short next to the TTLs SPF, DKIM and DMARC records use.
 */
export function cachedDnsLookup(lookup: DnsLookup, maxAgeMs: number, maxEntries = 10_000): DnsLookup {
  if (maxAgeMs <= 0) return lookup;
  const cache = new Map<string, { expires: number; answer: Promise<unknown> }>();
  return (name: string, rrtype: string): Promise<unknown> => {
    const key = `${rrtype.toUpperCase()} ${name.toLowerCase()}`;
    const now = Date.now();
    const hit = cache.get(key);
    if (hit && hit.expires > now) return hit.answer;
    cache.delete(key);
    const answer = lookup(name, rrtype);
    const entry = { expires: now + maxAgeMs, answer };
    cache.set(key, entry);
    answer.catch((err: unknown) => {
      if (!isAbsent(err) && cache.get(key) === entry) cache.delete(key);
    });
    // Oldest first in a Map: drop it when full.
    if (cache.size > maxEntries) cache.delete(cache.keys().next().value as string);
    return answer;
  };
}

/** True when a lookup error means "no such name or record" rather than "could not ask". */
export function isAbsent(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOTFOUND' || code === 'ENODATA';
}

/** The reverse-DNS name of an IP address (RFC 1035 §3.5, RFC 3596 §2.5). */
export function reverseName(ip: string): string {
  if (ip.includes(':')) return `${expandIpv6(ip).replace(/:/g, '').split('').reverse().join('.')}.ip6.arpa`;
  return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
}

/** "2001:db8::1" -> "2001:0db8:0000:0000:0000:0000:0000:0001". */
export function expandIpv6(ip: string): string {
  const [head, tail] = ip.includes('::') ? ip.split('::') : [ip, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const missing = tail === undefined ? 0 : 8 - h.length - t.length;
  return [...h, ...Array<string>(missing).fill('0'), ...t].map((g) => g.padStart(4, '0')).join(':');
}
