/**
 * Connection limits counted the same way by every listener (SMTP, IMAP, POP3): per address
 * (`limits.connections_per_ip`), per network (`connections_per_subnet`: the IPv4 /24 or IPv6
 * /64, so one host with many addresses counts once), in total (`connections_total`), and for
 * connections not logged in (`connections_unauthenticated_percent` of the total): the rest is
 * kept for sessions that have logged in, which a flood of anonymous connections cannot take.
 * A connection is admitted before its greeting and released when it closes; a refused one is
 * never counted. Refused for 'total' or 'unauthenticated', a listener may displace its oldest
 * waiting connection that is not logged in and try again (listener.ts, connection-limits.ts).
 */
import { isIPv6 } from 'node:net';
import type { Config } from './config.js';
import { metrics } from './metrics.js';
import { plainIp } from './net.js';

export type RefusalReason = 'per-ip' | 'per-subnet' | 'total' | 'unauthenticated';

export type Admission = { ok: true; release: () => void } | { ok: false; reason: RefusalReason };

export interface ConnectionCaps {
  perIp: number;
  perSubnet: number;
  total: number;
  /** New connections are refused while this many are open and not logged in. */
  unauthenticated: number;
}

/** The caps from `[limits]`; `reserve: false` where no one logs in (the MX): no slots kept. */
export function connectionCaps(
  limits: Pick<Config['limits'], 'connections_per_ip' | 'connections_per_subnet' | 'connections_total' | 'connections_unauthenticated_percent'>,
  reserve = true,
): ConnectionCaps {
  const total = limits.connections_total;
  return {
    perIp: limits.connections_per_ip,
    // a network is never held to less than one of its addresses
    perSubnet: Math.max(limits.connections_per_subnet, limits.connections_per_ip),
    total,
    unauthenticated: reserve ? Math.max(1, Math.floor((total * limits.connections_unauthenticated_percent) / 100)) : total,
  };
}

/** The network an address counts in: "a.b.c" for IPv4 (/24), the first four groups for IPv6 (/64). */
export function subnetOf(ip: string): string {
  const plain = plainIp(ip);
  if (!isIPv6(plain)) return plain.split('.').slice(0, 3).join('.');
  const zoneless = plain.split('%')[0]!;
  const [head = '', tail] = zoneless.split('::') as [string, string | undefined];
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return groups
    .slice(0, 4)
    .map((g) => g.toLowerCase().replace(/^0+(?=.)/, ''))
    .join(':');
}

export class ConnectionCounter {
  private readonly perIp = new Map<string, number>();
  private readonly perSubnet = new Map<string, number>();
  private total = 0;

  /** `protocol`: the listener's, for the metrics (postern_connections_total, _open). */
  constructor(
    private readonly caps: ConnectionCaps,
    private readonly protocol = 'other',
  ) {}

  /** `unauthenticated`: how many of the open connections have not logged in (the caller knows). */
  admit(ip: string, unauthenticated: number): Admission {
    const admission = this.decide(ip, unauthenticated);
    metrics.connections.inc({ protocol: this.protocol, result: admission.ok ? 'admitted' : `refused_${admission.reason}` });
    return admission;
  }

  private decide(ip: string, unauthenticated: number): Admission {
    const key = plainIp(ip);
    const net = subnetOf(key);
    const n = this.perIp.get(key) ?? 0;
    const s = this.perSubnet.get(net) ?? 0;
    if (n >= this.caps.perIp) return { ok: false, reason: 'per-ip' };
    if (s >= this.caps.perSubnet) return { ok: false, reason: 'per-subnet' };
    if (this.total >= this.caps.total) return { ok: false, reason: 'total' };
    if (unauthenticated >= this.caps.unauthenticated) return { ok: false, reason: 'unauthenticated' };
    this.perIp.set(key, n + 1);
    this.perSubnet.set(net, s + 1);
    this.total++;
    metrics.connectionsOpen.inc({ protocol: this.protocol });
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        this.total--;
        metrics.connectionsOpen.dec({ protocol: this.protocol });
        decrement(this.perIp, key);
        decrement(this.perSubnet, net);
      },
    };
  }
}

function decrement(map: Map<string, number>, key: string): void {
  const left = (map.get(key) ?? 1) - 1;
  if (left <= 0) map.delete(key);
  else map.set(key, left);
}
