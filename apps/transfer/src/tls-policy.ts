/**
 * How outbound TLS to a destination's MX hosts is to be: opportunistic and unverified (RFC 7435)
 * unless the receiving domain asks for more. With an MTA-STS policy in `enforce` mode (RFC 8461
 * §5): only the MX hosts the policy names, STARTTLS required, the certificate verified against
 * the system's roots and the MX host name; anything less defers. `testing` changes nothing but
 * is logged (its reports are TLS-RPT's).
 */
import type { Logger } from '@postern/core';
import { mxMatches, type CachedPolicy, type MtaSts } from '@postern/trust';

export interface HostTls {
  /** STARTTLS must succeed and the certificate must verify for `servername`. */
  verify: boolean;
  servername: string;
}

export interface DomainTls {
  /** Which MX host names may be used at all; a refused one is logged with the reason. */
  allows(host: string): boolean;
  forHost(host: string): HostTls;
  /** Says, for a deferral, why only these hosts and only verified TLS. */
  describe(): string;
  /** The policy that decided, for logs. */
  source: 'mta-sts' | null;
}

const OPPORTUNISTIC: DomainTls = {
  allows: () => true,
  forHost: (host) => ({ verify: false, servername: host }),
  describe: () => '',
  source: null,
};

export interface OutboundTlsPolicy {
  forDomain(domain: string): Promise<DomainTls>;
}

/** The policy of a domain from MTA-STS (RFC 8461). */
export function mtaStsTlsPolicy(sts: MtaSts, log: Logger): OutboundTlsPolicy {
  return {
    async forDomain(domain) {
      const cached: CachedPolicy | null = await sts.policyFor(domain);
      if (!cached || cached.policy.mode === 'none') return OPPORTUNISTIC;
      if (cached.policy.mode === 'testing') {
        log.debug({ domain, id: cached.id, mx: cached.policy.mx }, 'mta-sts policy in testing mode: not enforced');
        return OPPORTUNISTIC;
      }
      const patterns = cached.policy.mx;
      return {
        allows: (host) => patterns.some((p) => mxMatches(p, host)),
        forHost: (host) => ({ verify: true, servername: host }),
        describe: () => `MTA-STS policy of ${domain} (enforce, mx ${patterns.join(' ')})`,
        source: 'mta-sts',
      };
    },
  };
}
