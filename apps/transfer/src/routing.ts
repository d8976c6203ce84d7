/**
 * Where a recipient's mail goes next, in this order: a local domain goes to the delivery agent
 * over LMTP; a domain in `transfer.routes` to its configured next hop; with `transfer.smarthost`
 * everything else to the smarthost; otherwise to the domain's MX hosts (RFC 5321 §5).
 */
import { splitHostPort, type Accounts, type Config } from '@postern/core';

export type NextHop =
  | { kind: 'lmtp'; key: 'lmtp' }
  | {
      kind: 'relay';
      key: string;
      via: 'route' | 'smarthost';
      host: string;
      port: number;
      /** route: opportunistic STARTTLS; smarthost: as configured. */
      tls: 'opportunistic' | 'starttls' | 'implicit' | 'none';
      auth: { user: string; pass: string } | null;
    }
  | { kind: 'mx'; key: string; domain: string };

export function nextHopFor(domain: string, config: Config, accounts: Accounts): NextHop {
  if (accounts.isLocalDomain(domain)) return { kind: 'lmtp', key: 'lmtp' };
  const route = config.transfer.routes[domain];
  if (route) {
    const { host, port } = splitHostPort(route);
    return { kind: 'relay', key: `route:${route}`, via: 'route', host, port, tls: 'opportunistic', auth: null };
  }
  if (config.transfer.smarthost !== '') {
    const { host, port } = splitHostPort(config.transfer.smarthost);
    const t = config.transfer;
    return {
      kind: 'relay',
      key: `smarthost:${t.smarthost}`,
      via: 'smarthost',
      host,
      port,
      tls: t.smarthost_tls,
      auth: t.smarthost_user !== '' ? { user: t.smarthost_user, pass: t.smarthost_password } : null,
    };
  }
  return { kind: 'mx', key: `mx:${domain}`, domain };
}

/** The domain part of a queued (normalised) address. */
export function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}
