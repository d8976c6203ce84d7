/**
 * A DNS zone for tests as an injected lookup function (the shape mailauth and @postern/trust
 * take); the same zone is served by a real DNS server by @postern/testkit's `startDnsServer`.
 * Answers use node's `dns.resolve` shapes.
 */
import type { ZoneData } from '@postern/testkit';
import type { DnsLookup } from '../src/resolver.js';

export { addRecords, startDnsServer, type DnsServer, type ZoneData } from '@postern/testkit';

function dnsError(code: string, name: string): Error {
  return Object.assign(new Error(`${code} ${name}`), { code });
}

/** ENOTFOUND for an unknown name, ENODATA for a known name without that type. */
export function zoneLookup(zone: ZoneData, failing: readonly string[] = []): DnsLookup {
  return async (name: string, rrtype: string): Promise<unknown> => {
    const key = name.toLowerCase().replace(/\.$/, '');
    if (failing.includes(key)) throw dnsError('ESERVFAIL', key);
    const node = zone[key];
    if (!node) throw dnsError('ENOTFOUND', key);
    const answers = (node as Record<string, unknown[] | undefined>)[rrtype.toUpperCase()];
    if (!answers || answers.length === 0) throw dnsError('ENODATA', key);
    return answers;
  };
}
