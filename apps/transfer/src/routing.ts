/**
 * Where a recipient's mail goes next, in this order: a local domain goes to the delivery agent
 * over LMTP; a domain in `transfer.routes` to its configured next hop; with `transfer.smarthost`
 * everything else to the smarthost; otherwise to the domain's MX hosts (RFC 5321 §5).
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { ConfigError, isLoopbackHost, splitHostPort, type Accounts, type Config } from '@postern/core';

type HopTls = 'opportunistic' | 'starttls' | 'implicit' | 'none';

export type NextHop =
  | { kind: 'lmtp'; key: 'lmtp' }
  | {
      kind: 'relay';
      key: string;
      via: 'route' | 'smarthost';
      host: string;
      port: number;
      /** route: opportunistic STARTTLS; smarthost: as configured. */
      tls: HopTls;
      /** Whether the certificate must verify (against `ca`, else the system's CAs). */
      verify: boolean;
      ca: string | null;
      auth: { user: string; pass: string } | null;
    }
  | { kind: 'mx'; key: string; domain: string };

export function nextHopFor(domain: string, config: Config, accounts: Accounts): NextHop {
  if (accounts.isLocalDomain(domain)) return { kind: 'lmtp', key: 'lmtp' };
  const route = config.transfer.routes[domain];
  if (route) {
    const { host, port } = splitHostPort(route);
    return { kind: 'relay', key: `route:${route}`, via: 'route', host, port, tls: 'opportunistic', verify: false, ca: null, auth: null };
  }
  const smarthost = smarthostOf(config);
  if (smarthost) return smarthost;
  return { kind: 'mx', key: `mx:${domain}`, domain };
}

/** RFC 1918 / RFC 4193 / link-local addresses: a relay on the operator's own network. */
function isPrivateAddress(host: string): boolean {
  if (isLoopbackHost(host)) return true;
  if (isIP(host) === 4) {
    const [a = 0, b = 0] = host.split('.').map(Number);
    return a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 169 && b === 254);
  }
  return isIP(host) === 6 && /^f[cd]|^fe[89ab]/i.test(host);
}

const smarthosts = new WeakMap<Config, Extract<NextHop, { kind: 'relay' }> | null>();

/**
 * The smarthost hop, its files read once per config (and so checked at start: a missing CA or
 * credentials file is a ConfigError naming the key). `smarthost_tls = "auto"`: verified
 * STARTTLS is required on a public address; on a loopback or private one STARTTLS is used when
 * offered (verified only against `smarthost_ca`), never sent when not offered.
 */
export function smarthostOf(config: Config): Extract<NextHop, { kind: 'relay' }> | null {
  const known = smarthosts.get(config);
  if (known !== undefined) return known;
  const t = config.transfer;
  let hop: Extract<NextHop, { kind: 'relay' }> | null = null;
  if (t.smarthost !== '') {
    const { host, port } = splitHostPort(t.smarthost);
    const read = (key: string, path: string, what: string): string => {
      try {
        return readFileSync(path, 'utf8');
      } catch (err) {
        throw new ConfigError(config.file, `transfer.${key}`, what, `${path}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`);
      }
    };
    const ca = t.smarthost_ca ? read('smarthost_ca', t.smarthost_ca, 'a readable PEM file') : null;
    let auth = t.smarthost_user !== '' ? { user: t.smarthost_user, pass: t.smarthost_password } : null;
    if (t.smarthost_auth_file) {
      const line = read('smarthost_auth_file', t.smarthost_auth_file, 'a readable file "user:password"').split(/\r?\n/)[0] ?? '';
      const colon = line.indexOf(':');
      if (colon <= 0) throw new ConfigError(config.file, 'transfer.smarthost_auth_file', 'a first line "user:password"', 'no "user:" before a password');
      auth = { user: line.slice(0, colon), pass: line.slice(colon + 1) };
    }
    const tls: HopTls = t.smarthost_tls === 'auto' ? (isPrivateAddress(host) ? 'opportunistic' : 'starttls') : t.smarthost_tls;
    const verify = tls === 'starttls' || tls === 'implicit' || ca !== null;
    hop = { kind: 'relay', key: `smarthost:${t.smarthost}`, via: 'smarthost', host, port, tls, verify, ca, auth };
  }
  smarthosts.set(config, hop);
  return hop;
}

/** The domain part of a queued (normalised) address. */
export function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}
