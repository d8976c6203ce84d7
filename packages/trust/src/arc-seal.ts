/**
 * ARC sealing (RFC 8617 §5.1) of mail we forward: the Authentication-Results our MX computed on
 * arrival become the ARC-Authentication-Results of a new ARC set, signed with the forwarding
 * domain's RSA key, so a receiver that honours ARC can see the message passed DMARC here even
 * though forwarding broke SPF alignment (and perhaps DKIM).
 *
 * The chain validation status cv= (§5.1.2) comes from the arc= result in those same
 * Authentication-Results: "none" when the message had no ARC sets, "pass" when it had a valid
 * chain, "fail" otherwise (a failed chain is sealed as failed and ends there, §5.1.2).
 */
import { sealMessage } from 'mailauth';
import { loadDomainKeys, type KeyConfig } from './dkim-keys.js';
import { headerSection, unfoldedValue } from '@postern/header';

export interface ArcSealOptions {
  config: KeyConfig;
  /** The sealing domain (d=): the forwarding user's domain, one of ours with keys. */
  domain: string;
  /** Our host name: the authserv-id of the Authentication-Results field our MX wrote. */
  hostname: string;
}

/** The ARC sets already on the message (the highest i=). */
function arcInstances(fields: ReadonlyArray<{ name: string }>): number {
  return fields.filter((f) => f.name.toLowerCase() === 'arc-seal').length;
}

/**
 * The message with a new ARC set prepended; the message unchanged when the domain has no RSA
 * key (a seal nobody can verify would only be noise) or the chain already has 50 sets (§4.2.1).
 */
export async function arcSeal(raw: Buffer, o: ArcSealOptions): Promise<Buffer> {
  const key = loadDomainKeys(o.config, o.domain).find((k) => k.algorithm === 'rsa-sha256');
  if (!key) return raw;
  const section = headerSection(raw);
  const existing = arcInstances(section.fields);
  if (existing >= 50) return raw;
  const host = o.hostname.toLowerCase();
  const ours = section.fields
    .filter((f) => f.name.toLowerCase() === 'authentication-results')
    .map((f) =>
      unfoldedValue(f)
        .replace(/\r?\n[ \t]*/g, ' ')
        .trim(),
    )
    .find((v) => v.split(';')[0]!.trim().toLowerCase() === host);
  const results = ours ? ours.slice(ours.indexOf(';') + 1).trim() : 'none';
  const arc = /\barc=(\w+)/i.exec(results)?.[1]?.toLowerCase();
  const cv = existing === 0 ? 'none' : arc === 'pass' ? 'pass' : 'fail';
  const seal = await sealMessage(raw, {
    signingDomain: o.domain,
    selector: key.selector,
    privateKey: key.privateKeyPem,
    authResults: `${host}; ${results || 'none'}`,
    cv,
  });
  return Buffer.concat([seal, raw]);
}
