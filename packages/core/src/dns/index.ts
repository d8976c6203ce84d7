/**
 * Where mail for a domain goes (RFC 5321 §5.1): MX records by preference (equal preferences in
 * random order), the domain's own A/AAAA records when it has no MX (the implicit MX), and RFC
 * 7505's null MX ("MX 0 .") meaning the domain accepts no mail at all.
 *
 * The resolver is injected: production uses node's resolver on `dns.servers`, tests a DNS server
 * on loopback or a map of records. A lookup that fails (SERVFAIL, timeout, refused) is a
 * temporary failure (`DnsTemporaryError`), never a reason to bounce.
 */
import { Resolver as NodeResolver } from 'node:dns/promises';
import type { Config } from '../config.js';

/** The part of node's dns/promises Resolver that mail routing uses. */
export interface DnsResolver {
  resolveMx(name: string): Promise<Array<{ exchange: string; priority: number }>>;
  resolve4(name: string): Promise<string[]>;
  resolve6(name: string): Promise<string[]>;
}

export class DnsTemporaryError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = 'DnsTemporaryError';
  }
}

export interface MxHost {
  /** Host name of the exchange (the domain itself for an implicit MX). */
  name: string;
  preference: number;
}

export type MxResult =
  /** Hosts to try in order. `implicit` when the domain had no MX and its A/AAAA are used. */
  | { kind: 'hosts'; hosts: MxHost[]; implicit: boolean }
  /** RFC 7505: the domain declares it receives no mail. Permanent. */
  | { kind: 'null-mx' }
  /** NXDOMAIN, or no MX and no address: no such mail domain. Permanent. */
  | { kind: 'no-domain' };

/** Error codes of node's resolver that mean "the name or record does not exist". */
const NOT_FOUND = new Set(['ENOTFOUND']);
const NO_DATA = new Set(['ENODATA']);

function codeOf(err: unknown): string {
  return (err as NodeJS.ErrnoException | null)?.code ?? 'EUNKNOWN';
}

/** What a resolver needs of the config: the servers and the per-try timeout. */
export type ResolverSettings = { dns: Pick<Config['dns'], 'servers' | 'timeout'> };

/**
 * Node's resolver on the configured servers ("ip" or "ip:port"), or the system's when none. The
 * one place `dns.servers` and `dns.timeout` are applied: MX lookups and the trust checks both
 * use it. node's timeout is per try; two tries keep one lost UDP packet from failing a lookup.
 */
export function createNodeResolver(config: ResolverSettings): NodeResolver {
  const r = new NodeResolver({ timeout: config.dns.timeout, tries: 2 });
  if (config.dns.servers.length > 0) r.setServers(config.dns.servers);
  return r;
}

/** The MX-lookup view of `createNodeResolver`. */
export function createResolver(config: ResolverSettings): DnsResolver {
  return createNodeResolver(config);
}

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

/** The mail exchangers of `domain` (an ASCII domain), in the order to try them. */
export async function lookupMx(domain: string, resolver: DnsResolver, random: () => number = Math.random): Promise<MxResult> {
  let records: Array<{ exchange: string; priority: number }>;
  try {
    records = await resolver.resolveMx(domain);
  } catch (err) {
    const code = codeOf(err);
    if (NOT_FOUND.has(code)) return { kind: 'no-domain' };
    if (!NO_DATA.has(code)) throw new DnsTemporaryError(`MX lookup for ${domain} failed: ${code}`, code);
    records = [];
  }
  // RFC 7505 §3: a null MX is a single record with an empty exchange ("."); node gives ''.
  const real = records.filter((r) => r.exchange !== '' && r.exchange !== '.');
  if (records.length > 0 && real.length === 0) return { kind: 'null-mx' };
  if (real.length > 0) {
    const byPref = new Map<number, MxHost[]>();
    for (const r of real) {
      const name = r.exchange.replace(/\.$/, '').toLowerCase();
      const list = byPref.get(r.priority) ?? [];
      list.push({ name, preference: r.priority });
      byPref.set(r.priority, list);
    }
    // RFC 5321 §5.1: lowest preference first; equal preferences randomised to spread load
    const hosts = [...byPref.keys()].sort((a, b) => a - b).flatMap((p) => shuffle(byPref.get(p)!, random));
    return { kind: 'hosts', hosts, implicit: false };
  }
  // No MX: the domain itself is the implicit MX (RFC 5321 §5.1), if it has an address.
  const addresses = await resolveHost(domain, resolver);
  if (addresses.length === 0) return { kind: 'no-domain' };
  return { kind: 'hosts', hosts: [{ name: domain, preference: 0 }], implicit: true };
}

/**
 * The addresses of a host: IPv4 first, then IPv6 (many small hosts have no working IPv6 route;
 * trying IPv4 first avoids a connect timeout per message). Empty when it has none; throws
 * DnsTemporaryError when the lookups failed.
 */
export async function resolveHost(name: string, resolver: DnsResolver): Promise<string[]> {
  const one = async (fn: (n: string) => Promise<string[]>): Promise<string[] | Error> => {
    try {
      return await fn.call(resolver, name);
    } catch (err) {
      const code = codeOf(err);
      if (NOT_FOUND.has(code) || NO_DATA.has(code)) return [];
      return new DnsTemporaryError(`address lookup for ${name} failed: ${code}`, code);
    }
  };
  const [v4, v6] = await Promise.all([one(resolver.resolve4), one(resolver.resolve6)]);
  const out = [...(Array.isArray(v4) ? v4 : []), ...(Array.isArray(v6) ? v6 : [])];
  if (out.length === 0 && (v4 instanceof Error || v6 instanceof Error)) throw v4 instanceof Error ? v4 : v6;
  return out;
}
