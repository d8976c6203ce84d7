/**
 * Outbound SMTP (RFC 5321) to another server: a configured relay (route or smarthost) or the
 * MX hosts of the recipients' domain. One connection per destination carries all its
 * recipients; EHLO names us (`hostname`); STARTTLS is used whenever offered, verified only when
 * the receiving domain asks for it (MTA-STS enforce, tls-policy.ts; otherwise a certificate
 * cannot be checked meaningfully, RFC 7435 opportunistic security); a smarthost's TLS is as `smarthost_tls` says (routing.ts). SMTPUTF8,
 * 8BITMIME and DSN parameters are passed on when the message needs them and the server offers
 * them.
 *
 * Hosts are tried in MX order, each of their addresses in turn, until one answers a
 * transaction; connection failures move on to the next, and when all fail the recipients are
 * deferred. A DNS failure defers; a null MX (RFC 7505) or a nonexistent domain fails at once.
 */
import { isIP } from 'node:net';
import type { SMTPConnectionOptions, SMTPEnvelope } from 'nodemailer/lib/smtp-connection';
import {
  DnsTemporaryError,
  lookupMx,
  resolveHost,
  type DnsResolver,
  type Logger,
  type QueueEntry,
  type QueueRecipient,
  type RecipientOutcome,
} from '@postern/core';
import { allDeferred, allFailed, outcomesOfError, outcomesOfInfo, type ClientError } from './outcomes.js';
import type { NextHop } from './routing.js';
import { SmtpSession } from './smtp-session.js';
import { daneMismatch } from '@postern/trust';
import type { HostTls, OutboundTlsPolicy } from './tls-policy.js';

export interface OutboundDeps {
  hostname: string;
  resolver: DnsResolver;
  log: Logger;
  /** Port of remote MX hosts: 25, except in tests. */
  mxPort: number;
  timeouts?: { connect: number; greeting: number; socket: number };
  /** What the destination asks of TLS (MTA-STS); absent: opportunistic everywhere. */
  tlsPolicy?: OutboundTlsPolicy;
  /** Trust anchors for verified TLS; default: the system's roots (tests add their own CA). */
  ca?: string[];
}

/**
 * The DSN's Remote-MTA (RFC 3464 §2.3.5, type "dns"): the host's name, an address only as a
 * literal when there is no name (a relay configured by IP), never a port.
 */
function remoteMtaName(host: string): string {
  return isIP(host) === 0 ? host : `[${host}]`;
}

interface PeerCert {
  raw?: Buffer;
  issuerCertificate?: PeerCert;
}

/** The DER chain of a detailed peer certificate, leaf first (a self-signed root points at itself). */
function chainOf(leaf: PeerCert): Buffer[] {
  const out: Buffer[] = [];
  let c: PeerCert | undefined = leaf;
  while (c?.raw && out.length < 10) {
    out.push(c.raw);
    if (c.issuerCertificate === c) break;
    c = c.issuerCertificate;
  }
  return out;
}

type TryResult = { kind: 'done'; outcomes: RecipientOutcome[] } | { kind: 'unreachable'; reason: string };

/** Limits the number of outbound connections open at once (`transfer.outbound_connections`). */
export class Semaphore {
  private used = 0;
  private readonly queue: Array<() => void> = [];
  constructor(private readonly max: number) {}
  async use<T>(fn: () => Promise<T>): Promise<T> {
    if (this.used >= this.max) await new Promise<void>((r) => this.queue.push(r));
    else this.used++;
    try {
      return await fn();
    } finally {
      const next = this.queue.shift();
      if (next) next();
      else this.used--;
    }
  }
}

function envelopeOf(entry: QueueEntry, recipients: readonly QueueRecipient[]): SMTPEnvelope {
  const env: SMTPEnvelope = {
    from: entry.sender,
    to: recipients.map((r) => r.address),
    size: entry.data.length,
    use8BitMime: entry.body8bit,
  };
  // RFC 3461: nodemailer sends one NOTIFY/ORCPT for the whole envelope, so pass them on only
  // when every recipient has the same; RET and ENVID are per message anyway.
  const notify = recipients[0]?.notify;
  const sameNotify = notify && recipients.every((r) => r.notify?.join(',') === notify.join(','));
  if (entry.ret || entry.envid || sameNotify) {
    env.dsn = {
      ...(entry.ret ? { ret: entry.ret } : {}),
      ...(entry.envid ? { envid: entry.envid } : {}),
      ...(sameNotify ? { notify: notify } : {}),
    };
  }
  return env;
}

async function tryHost(
  deps: OutboundDeps,
  entry: QueueEntry,
  recipients: readonly QueueRecipient[],
  options: SMTPConnectionOptions,
  mtaName: string,
  remoteMta: string,
  auth: { user: string; pass: string } | null,
  hostTls: HostTls | null = null,
): Promise<TryResult> {
  const t = deps.timeouts ?? { connect: 30_000, greeting: 60_000, socket: 300_000 };
  const session = new SmtpSession({
    name: deps.hostname,
    connectionTimeout: t.connect,
    greetingTimeout: t.greeting,
    socketTimeout: t.socket,
    logger: false,
    ...options,
  });
  try {
    try {
      await session.connect();
    } catch (e) {
      const err = e as ClientError;
      return { kind: 'unreachable', reason: err.response ? err.response.trim() : `4.4.1 ${mtaName}: ${err.message}` };
    }
    if (hostTls?.verify === 'dane') {
      // RFC 7672 §3: the chain the server presented, matched against its TLSA records before
      // anything is sent (nodemailer keeps the upgraded socket as _socket)
      const socket = (session.conn as unknown as { _socket?: { getPeerCertificate?(detailed: boolean): PeerCert } })._socket;
      const chain = socket?.getPeerCertificate ? chainOf(socket.getPeerCertificate(true)) : [];
      const why = session.secure ? daneMismatch(hostTls.tlsa, chain, hostTls.servername) : 'no TLS';
      if (why !== null) return { kind: 'unreachable', reason: `4.7.5 ${mtaName}: DANE: ${why}` };
    }
    if (auth) {
      try {
        await session.login(auth.user, auth.pass);
      } catch (e) {
        // our credentials are wrong or the relay refuses us: a configuration problem, keep the mail
        const err = e as ClientError;
        return { kind: 'done', outcomes: allDeferred(recipients, `4.7.0 AUTH at ${mtaName} failed: ${(err.response ?? err.message).trim()}`, remoteMta) };
      }
    }
    try {
      const info = await session.send(envelopeOf(entry, recipients), entry.data);
      return { kind: 'done', outcomes: outcomesOfInfo(recipients, info, remoteMta) };
    } catch (e) {
      const err = e as ClientError;
      if (err.responseCode === undefined && !err.rejectedErrors) {
        // the connection broke mid-transaction: we cannot know whether it was accepted; retry
        return { kind: 'done', outcomes: allDeferred(recipients, `4.4.2 ${mtaName}: ${err.message}`, remoteMta) };
      }
      return { kind: 'done', outcomes: outcomesOfError(recipients, err, remoteMta) };
    }
  } finally {
    session.quit();
  }
}

/** Delivers `recipients` of `entry` to the next hop `hop` (a relay or MX); never throws. */
export async function deliverRemote(
  deps: OutboundDeps,
  hop: Exclude<NextHop, { kind: 'lmtp' }>,
  entry: QueueEntry,
  recipients: readonly QueueRecipient[],
): Promise<RecipientOutcome[]> {
  if (hop.kind === 'relay') {
    // requireTLS sends STARTTLS even where it is not offered (a 502): only when TLS is required.
    const options: SMTPConnectionOptions = {
      host: hop.host,
      port: hop.port,
      secure: hop.tls === 'implicit',
      ignoreTLS: hop.tls === 'none',
      requireTLS: hop.tls === 'starttls',
      opportunisticTLS: hop.tls === 'opportunistic',
      tls: { rejectUnauthorized: hop.verify, ...(hop.ca ? { ca: hop.ca } : {}), ...(isIP(hop.host) ? {} : { servername: hop.host }) },
    };
    const mta = `${hop.host}:${hop.port}`;
    const remote = remoteMtaName(hop.host);
    const r = await tryHost(deps, entry, recipients, options, mta, remote, hop.auth);
    return r.kind === 'done' ? r.outcomes : allDeferred(recipients, r.reason, remote);
  }

  let mx: Awaited<ReturnType<typeof lookupMx>>;
  try {
    mx = await lookupMx(hop.domain, deps.resolver);
  } catch (err) {
    if (err instanceof DnsTemporaryError) return allDeferred(recipients, `4.4.3 ${err.message}`);
    throw err;
  }
  if (mx.kind === 'null-mx') return allFailed(recipients, `556 5.1.10 ${hop.domain} accepts no mail (null MX, RFC 7505)`);
  if (mx.kind === 'no-domain') return allFailed(recipients, `550 5.1.2 ${hop.domain}: no such mail domain`);
  const tls = deps.tlsPolicy ? await deps.tlsPolicy.forDomain(hop.domain) : null;
  let last = `4.4.1 no reachable MX host for ${hop.domain}`;
  let allowed = 0;
  for (const host of mx.hosts) {
    if (tls && !tls.allows(host.name)) {
      // RFC 8461 §4.1: an MX host the enforced policy does not name is not a candidate
      deps.log.info({ id: entry.id, mx: host.name, policy: tls.describe() }, 'mx host not in the mta-sts policy, skipped');
      continue;
    }
    allowed++;
    let addresses: string[];
    try {
      addresses = await resolveHost(host.name, deps.resolver);
    } catch (err) {
      last = `4.4.3 ${(err as Error).message}`;
      continue;
    }
    if (addresses.length === 0) {
      last = `4.4.4 MX host ${host.name} has no address`;
      continue;
    }
    const hostTls: HostTls = tls ? await tls.forHost(host.name, deps.mxPort) : { verify: 'none', servername: host.name };
    if (hostTls.verify === 'unusable') {
      last = hostTls.reason;
      deps.log.info({ id: entry.id, mx: host.name, reason: last }, 'mx host unusable, trying the next');
      continue;
    }
    for (const ip of addresses) {
      // verified: STARTTLS required (a server that does not offer it is refused, RFC 8461 §5,
      // RFC 7672 §2.2); PKIX: the certificate checked against the roots and the MX host's name
      // (RFC 8461 §4.2); DANE: against the TLSA records, after the handshake (tryHost)
      const options: SMTPConnectionOptions =
        hostTls.verify === 'none'
          ? { host: ip, port: deps.mxPort, opportunisticTLS: true, tls: { rejectUnauthorized: false, servername: host.name } }
          : {
              host: ip,
              port: deps.mxPort,
              requireTLS: true,
              tls: {
                rejectUnauthorized: hostTls.verify === 'pkix',
                servername: hostTls.servername,
                ...(deps.ca && hostTls.verify === 'pkix' ? { ca: deps.ca } : {}),
              },
            };
      const r = await tryHost(deps, entry, recipients, options, `${host.name} [${ip}]`, remoteMtaName(host.name), null, hostTls);
      if (r.kind === 'done') return r.outcomes;
      last = r.reason;
      deps.log.info({ id: entry.id, mx: host.name, ip, reason: r.reason }, 'mx host unreachable, trying the next');
    }
  }
  if (tls && allowed === 0) return allDeferred(recipients, `4.7.5 no MX host of ${hop.domain} is allowed by the ${tls.describe()}`);
  if (tls && tls.describe() !== '')
    return allDeferred(recipients, `${last.startsWith('4.') ? '' : '4.7.5 '}${last} (verified TLS required by the ${tls.describe()})`);
  return allDeferred(recipients, last);
}
