/**
 * @postern/trust: what makes mail from and to a Postern server trustworthy on the open internet.
 *
 * Invariants:
 * - Every DNS lookup goes through an injected `DnsLookup` (`createDnsLookup(config)` in
 *   production, a map or a loopback DNS server in tests): nothing here picks its own resolver.
 * - Signing never changes a byte of the message: DKIM-Signature fields are prepended.
 * - Inbound checks never throw for a DNS failure: a temperror is written down and decides nothing.
 * - DKIM private keys live only in `<dataDir>/dkim/<domain>/`, mode 0600.
 */
export * from './resolver.js';
export * from './dkim-keys.js';
export * from './sign.js';
export * from './inbound.js';
export * from './records.js';
export { arcSeal, type ArcSealOptions } from './arc-seal.js';
export * from './mta-sts.js';
export * from './dane.js';
export * from './doctor.js';
