/**
 * DKIM signing (RFC 6376 §5) with mailauth's signer: relaxed/relaxed canonicalization, one
 * RSA-SHA256 and one Ed25519-SHA256 signature (RFC 8463), the DKIM-Signature fields prepended.
 *
 * Over-signing (RFC 6376 §8.15): the fields a reader sees are listed in h= once more than they
 * occur, so a second From: (or Subject:, To: ...) added on the way fails verification instead
 * of being shown. mailauth 4.9.5 lists only the instances present, and builds h= from each
 * parsed header's `casedKey`; we append the extra names to the topmost signed field's
 * `casedKey`, which puts them after every real instance in h= while the canonicalized header
 * data (built from the field lines) stays exactly what mailauth computed. A verifier finds no
 * unused instance for the extra names and hashes nothing for them (RFC 6376 §5.4.2).
 */
import { DkimSigner, type ParsedHeader } from 'mailauth/lib/dkim/dkim-signer.js';
import { ensureDomainKeys, type DkimKey, type KeyConfig } from './dkim-keys.js';

/** What we sign: the originator and content-describing fields (RFC 6376 §5.4.1). */
export const SIGNED_FIELDS: readonly string[] = [
  'From', 'Sender', 'Reply-To', 'Subject', 'Date', 'Message-ID', 'To', 'Cc',
  'MIME-Version', 'Content-Type', 'Content-Transfer-Encoding', 'Content-ID', 'Content-Description',
  'Resent-Date', 'Resent-From', 'Resent-Sender', 'Resent-To', 'Resent-Cc', 'Resent-Message-ID',
  'In-Reply-To', 'References',
  'List-Id', 'List-Help', 'List-Unsubscribe', 'List-Unsubscribe-Post', 'List-Subscribe', 'List-Post', 'List-Owner', 'List-Archive',
];

/**
 * Signed once more than present: what a mail client displays as who sent it, to whom and what.
 * Not Sender or List-*: mailing lists add those, and their signature should survive that.
 */
export const OVERSIGNED_FIELDS: readonly string[] = ['From', 'Reply-To', 'Subject', 'Date', 'To', 'Cc', 'Content-Type'];

class OverSigningDkimSigner extends DkimSigner {
  override async messageHeaders(headers: { parsed: ParsedHeader[]; original: Buffer }): Promise<void> {
    const signed = new Set(SIGNED_FIELDS.map((f) => f.toLowerCase()));
    // mailauth walks the fields bottom-up, so the topmost signed field comes last in h=.
    const top = headers.parsed.find((h) => h.key !== null && signed.has(h.key));
    if (top) top.casedKey = [top.casedKey, ...OVERSIGNED_FIELDS].join(': ');
    await super.messageHeaders(headers);
  }
}

export class DkimSignError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DkimSignError';
  }
}

export interface SignOptions {
  config: KeyConfig;
  /** The signing domain (d=): the domain of the From: address, one of ours. */
  domain: string;
  /** Keys to sign with; default: the domain's keys, made when missing. */
  keys?: DkimKey[];
  /** The t= tag; default now. */
  signTime?: Date;
}

/** The DKIM-Signature fields for `raw`, one per key, each ending in CRLF. */
export async function dkimSignatures(raw: Buffer, opts: SignOptions): Promise<string> {
  const keys = opts.keys ?? ensureDomainKeys(opts.config, opts.domain).keys;
  if (keys.length === 0) throw new DkimSignError(`no DKIM key for ${opts.domain}`);
  const signer = new OverSigningDkimSigner({
    canonicalization: 'relaxed/relaxed',
    signTime: opts.signTime ?? new Date(),
    headerList: SIGNED_FIELDS.join(':'),
    signatureData: keys.map((k) => ({ signingDomain: k.domain, selector: k.selector, privateKey: k.privateKeyPem, algorithm: k.algorithm })),
  });
  await new Promise<void>((resolve, reject) => {
    signer.once('finish', resolve);
    signer.once('error', reject);
    signer.end(raw);
  });
  if (signer.errors.length > 0) {
    const e = signer.errors[0]!;
    throw new DkimSignError(`DKIM signing for ${opts.domain} (selector ${e.selector ?? '?'}) failed: ${e.err.message}`);
  }
  return signer.signatureHeaders.map((h) => `${h}\r\n`).join('');
}

/** `raw` with its DKIM-Signature fields prepended (RSA-SHA256 first, then Ed25519-SHA256). */
export async function signMessage(raw: Buffer, opts: SignOptions): Promise<Buffer> {
  const signatures = await dkimSignatures(raw, opts);
  return Buffer.concat([Buffer.from(signatures, 'latin1'), raw]);
}
