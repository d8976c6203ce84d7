/**
 * MTA-STS for outbound mail (RFC 8461): a receiving domain publishes `_mta-sts.<domain>` TXT
 * (`v=STSv1; id=...`) and a policy at https://mta-sts.<domain>/.well-known/mta-sts.txt; in
 * `enforce` mode a sender delivers only to the MX hosts the policy names, only over TLS with a
 * certificate valid for that host name (RFC 8461 §4).
 *
 * Invariants:
 * - The policy is fetched only over HTTPS with a valid certificate, without redirects
 *   (§3.3), at most 64 KiB, within the timeout; the TXT record only says when to fetch again.
 * - A cached policy is used until its max_age ends, whatever DNS or the web server say meanwhile
 *   (§5.1: that is what stops an attacker who strips the TXT record or blocks the fetch).
 * - Nothing here throws: a domain whose policy cannot be had is `null` (deliver as without).
 */
import { request } from 'node:https';
import type { LookupFunction } from 'node:net';
import type { DnsLookup } from './resolver.js';

export type MtaStsMode = 'enforce' | 'testing' | 'none';

export interface MtaStsPolicy {
  mode: MtaStsMode;
  /** MX host patterns: "mx.example.org" or "*.example.org" (one leftmost label). */
  mx: string[];
  /** Seconds (§3.2: at most 31557600). */
  maxAge: number;
}

export interface CachedPolicy {
  domain: string;
  id: string;
  policy: MtaStsPolicy;
  /** ms since the epoch. */
  fetched: number;
  expires: number;
}

/** The policy file (§3.2): "key: value" lines, CRLF or LF; unknown keys ignored. */
export function parseMtaStsPolicy(text: string): MtaStsPolicy | null {
  let version = '';
  let mode: MtaStsMode | null = null;
  let maxAge: number | null = null;
  const mx: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    const m = /^([A-Za-z0-9_]+):[ \t]*(.*?)[ \t]*$/.exec(line);
    if (!m) continue;
    const [, key, value] = m as unknown as [string, string, string];
    if (key === 'version') version = value;
    else if (key === 'mode' && (value === 'enforce' || value === 'testing' || value === 'none')) mode = value;
    else if (key === 'max_age' && /^\d{1,10}$/.test(value)) maxAge = Math.min(Number(value), 31_557_600);
    else if (key === 'mx' && value !== '') mx.push(value.toLowerCase().replace(/\.$/, ''));
  }
  if (version !== 'STSv1' || mode === null || maxAge === null) return null;
  if (mode !== 'none' && mx.length === 0) return null;
  return { mode, mx, maxAge };
}

/** The id of the one `v=STSv1` TXT record (§3.1); null when there is none or more than one. */
export function mtaStsRecordId(records: readonly (readonly string[])[]): string | null {
  const sts = records.map((r) => r.join('')).filter((r) => /^v=STSv1\s*(;|$)/.test(r));
  if (sts.length !== 1) return null;
  const id = /(?:^|;)\s*id=([A-Za-z0-9]{1,32})\s*(?:;|$)/.exec(sts[0]!);
  return id ? id[1]! : null;
}

/** §4.1: a pattern matches the host itself, or "*." matches exactly one leftmost label. */
export function mxMatches(pattern: string, host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  const p = pattern.toLowerCase();
  if (p.startsWith('*.')) {
    const rest = p.slice(1); // ".example.org"
    return h.endsWith(rest) && h.length > rest.length && !h.slice(0, h.length - rest.length).includes('.');
  }
  return h === p;
}

export interface MtaStsOptions {
  lookup: DnsLookup;
  /** 443; tests run the policy server elsewhere. */
  httpsPort?: number;
  /** Trust anchors for the policy server; default: Node's (the system's) roots. */
  ca?: string[];
  /** Per fetch (§3.3 suggests a minute at most). */
  timeoutMs?: number;
  clock?: () => number;
}

const POLICY_LIMIT = 64 * 1024;

/** Fetches, caches and serves the MTA-STS policies of destination domains (§5). */
export class MtaSts {
  private readonly cache = new Map<string, CachedPolicy>();
  private readonly clock: () => number;

  constructor(private readonly o: MtaStsOptions) {
    this.clock = o.clock ?? Date.now;
  }

  /** The policy in force for `domain`, or null (no MTA-STS: deliver as before). */
  async policyFor(domain: string): Promise<CachedPolicy | null> {
    const d = domain.toLowerCase();
    const now = this.clock();
    let cached = this.cache.get(d) ?? null;
    if (cached && cached.expires <= now) {
      this.cache.delete(d);
      cached = null;
    }
    let id: string | null;
    try {
      id = mtaStsRecordId((await this.o.lookup(`_mta-sts.${d}`, 'TXT')) as string[][]);
    } catch {
      // absent or unanswerable: a cached policy stays in force (§5.1)
      return cached;
    }
    if (id === null) return cached;
    if (cached && cached.id === id) return cached;
    const text = await this.fetchPolicy(d).catch(() => null);
    const policy = text === null ? null : parseMtaStsPolicy(text);
    if (!policy) return cached;
    const fresh: CachedPolicy = { domain: d, id, policy, fetched: now, expires: now + policy.maxAge * 1000 };
    this.cache.set(d, fresh);
    return fresh;
  }

  /** GET the policy (§3.3): HTTPS with a valid certificate for mta-sts.<domain>, 200, text/plain, no redirect. */
  fetchPolicy(domain: string): Promise<string> {
    const host = `mta-sts.${domain}`;
    // the policy host's address comes from the same resolver as everything else (dns.servers)
    const lookup: LookupFunction = (name, options, cb) => {
      void (this.o.lookup(name, 'A') as Promise<string[]>).then(
        (addrs) => {
          if ((options as { all?: boolean }).all)
            (cb as unknown as (e: null, a: Array<{ address: string; family: number }>) => void)(
              null,
              addrs.map((a) => ({ address: a, family: 4 })),
            );
          else cb(null, addrs[0] ?? '', 4);
        },
        (err: Error) => cb(err as NodeJS.ErrnoException, '', 4),
      );
    };
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host,
          port: this.o.httpsPort ?? 443,
          path: '/.well-known/mta-sts.txt',
          method: 'GET',
          servername: host,
          lookup,
          ...(this.o.ca ? { ca: this.o.ca } : {}),
          timeout: this.o.timeoutMs ?? 60_000,
          headers: { 'user-agent': 'Postern MTA-STS' },
        },
        (res) => {
          const type = String(res.headers['content-type'] ?? '');
          if (res.statusCode !== 200 || !/^text\/plain\b/i.test(type)) {
            res.resume();
            reject(new Error(`policy fetch: HTTP ${res.statusCode} ${type}`));
            return;
          }
          let size = 0;
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > POLICY_LIMIT) req.destroy(new Error('policy larger than 64 KiB'));
            else chunks.push(c);
          });
          res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error('policy fetch timed out')));
      req.on('error', reject);
      req.end();
    });
  }
}
