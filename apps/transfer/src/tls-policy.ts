/**
 * How outbound TLS to a destination's MX hosts is to be: opportunistic and unverified (RFC 7435)
 * unless the receiving domain asks for more.
 * - DANE (RFC 7672), when `dns.servers` names a validating resolver on loopback: an MX host with
 *   authentic TLSA records gets STARTTLS required and its certificate matched against them; a
 *   mismatch or a failed TLSA lookup makes that host unusable (the next is tried, then the mail
 *   waits). DANE goes before MTA-STS (RFC 8461 §2).
 * - MTA-STS (RFC 8461 §5) in `enforce` mode: only the MX hosts the policy names, STARTTLS
 *   required, the certificate verified against the roots and the MX host name. `testing`
 *   changes nothing but is logged.
 */
import type { Logger } from '@postern/core';
import { lookupTlsa, mxIsSecure, mxMatches, type MtaSts, type TlsaRecord, type ValidatingResolver } from '@postern/trust';

export type HostTls =
  | { verify: 'none'; servername: string }
  /** PKIX: the certificate must chain to a root and name the host (MTA-STS). */
  | { verify: 'pkix'; servername: string }
  /** The certificate must match one of these TLSA records (RFC 7672 §3). */
  | { verify: 'dane'; servername: string; tlsa: TlsaRecord[] }
  /** The host must not be used (its TLSA lookup failed). */
  | { verify: 'unusable'; servername: string; reason: string };

export interface DomainTls {
  /** Which MX host names may be used at all. */
  allows(host: string): boolean;
  forHost(host: string, port: number): Promise<HostTls>;
  /** Says, for a deferral, what asked for verified TLS ('' = nothing did). */
  describe(): string;
}

export interface OutboundTlsPolicy {
  forDomain(domain: string): Promise<DomainTls>;
}

export interface TlsPolicyDeps {
  mtaSts: MtaSts | null;
  /** A validating resolver on loopback; null: DANE off. */
  dane: ValidatingResolver | null;
  log: Logger;
}

export function outboundTlsPolicy(deps: TlsPolicyDeps): OutboundTlsPolicy {
  return {
    async forDomain(domain) {
      const [cached, secureMx] = await Promise.all([
        deps.mtaSts ? deps.mtaSts.policyFor(domain) : Promise.resolve(null),
        deps.dane ? mxIsSecure(deps.dane, domain) : Promise.resolve(false),
      ]);
      const enforce = cached?.policy.mode === 'enforce' ? cached.policy.mx : null;
      if (cached?.policy.mode === 'testing') deps.log.debug({ domain, id: cached.id, mx: cached.policy.mx }, 'mta-sts policy in testing mode: not enforced');
      const reasons: string[] = [];
      if (enforce) reasons.push(`MTA-STS policy of ${domain} (enforce, mx ${enforce.join(' ')})`);
      return {
        allows: (host) => enforce === null || enforce.some((p) => mxMatches(p, host)),
        async forHost(host, port) {
          // RFC 7672 §2.2.1: TLSA records of an MX host count only when the MX RRset was authentic
          if (deps.dane && secureMx) {
            const t = await lookupTlsa(deps.dane, host, port);
            if (t.kind === 'lookup-failed') return { verify: 'unusable', servername: host, reason: `4.7.5 TLSA lookup for ${host} failed: ${t.reason}` };
            if (t.kind === 'dane' && t.usable.length > 0) {
              if (!reasons.some((r) => r.startsWith('DANE'))) reasons.unshift(`DANE TLSA records of ${host}`);
              return { verify: 'dane', servername: host, tlsa: t.usable };
            }
            // only unusable records (PKIX-TA/EE): TLS is still required, unauthenticated (§3.1.3)
            if (t.kind === 'dane') return enforce ? { verify: 'pkix', servername: host } : { verify: 'none', servername: host };
          }
          return enforce ? { verify: 'pkix', servername: host } : { verify: 'none', servername: host };
        },
        describe: () => reasons.join(' and '),
      };
    },
  };
}
