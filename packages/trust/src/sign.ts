/**
 * DKIM signing (RFC 6376 §5): relaxed/relaxed canonicalization, one RSA-SHA256 and one
 * Ed25519-SHA256 signature (RFC 8463), the DKIM-Signature fields prepended; the message itself
 * is not changed.
 *
 * Built from mailauth's own pieces (header parsing, body hashing, header canonicalization,
 * signature formatting), called synchronously: the queue builds bounces in a synchronous
 * callback and they are signed there too. mailauth's stream signer is the same steps behind a
 * Writable.
 *
 * Over-signing (RFC 6376 §8.15): the fields a reader sees are listed in h= once more than they
 * occur, so a second From: (or Subject:, To: ...) added on the way fails verification instead
 * of being shown. A verifier finds no unused instance for the extra names and hashes nothing for
 * them (RFC 6376 §5.4.2), so they are appended to h= with no header data of their own.
 */
import { createHash, sign as cryptoSign } from 'node:crypto';
import { dkimBody } from 'mailauth/lib/dkim/body/index.js';
import { generateCanonicalizedHeader } from 'mailauth/lib/dkim/header/index.js';
import { formatSignatureHeaderLine, getSigningHeaderLines, parseHeaders } from 'mailauth/lib/tools.js';
import { ensureDomainKeys, loadDomainKeys, type DkimKey, type KeyConfig } from './dkim-keys.js';
import { bodyStart, headerEnd, headerFields, unfoldedValue } from '@postern/header';

/** What we sign: the originator and content-describing fields (RFC 6376 §5.4.1). */
export const SIGNED_FIELDS: readonly string[] = [
  'From',
  'Sender',
  'Reply-To',
  'Subject',
  'Date',
  'Message-ID',
  'To',
  'Cc',
  'MIME-Version',
  'Content-Type',
  'Content-Transfer-Encoding',
  'Content-ID',
  'Content-Description',
  'Resent-Date',
  'Resent-From',
  'Resent-Sender',
  'Resent-To',
  'Resent-Cc',
  'Resent-Message-ID',
  'In-Reply-To',
  'References',
  'List-Id',
  'List-Help',
  'List-Unsubscribe',
  'List-Unsubscribe-Post',
  'List-Subscribe',
  'List-Post',
  'List-Owner',
  'List-Archive',
];

/**
 * Signed once more than present: what a mail client displays as who sent it, to whom and what.
 * Not Sender or List-*: mailing lists add those, and our signature should survive that.
 */
export const OVERSIGNED_FIELDS: readonly string[] = ['From', 'Reply-To', 'Subject', 'Date', 'To', 'Cc', 'Content-Type'];

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

/** Header section and body, split at the first empty line; bare LF counted as CRLF (RFC 5322 §2.3). */
function split(raw: Buffer): { header: Buffer; body: Buffer } {
  const text = raw.includes(0x0a) && /(^|[^\r])\n/.test(raw.toString('latin1')) ? Buffer.from(raw.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1') : raw;
  const fieldsEnd = headerEnd(text);
  return { header: text.subarray(0, fieldsEnd), body: text.subarray(bodyStart(text, fieldsEnd)) };
}

/** The DKIM-Signature fields for `raw`, one per key (RSA first), each ending in CRLF. */
export function dkimSignaturesSync(raw: Buffer, opts: SignOptions): string {
  const keys = opts.keys ?? ensureDomainKeys(opts.config, opts.domain).keys;
  if (keys.length === 0) throw new DkimSignError(`no DKIM key for ${opts.domain}`);
  const { header, body } = split(raw);
  const hasher = dkimBody('relaxed', 'sha256', false);
  hasher.update(body);
  const bodyHash = hasher.digest('base64');
  const lines = getSigningHeaderLines(parseHeaders(header).parsed, SIGNED_FIELDS.join(':'));
  // Over-signing: the extra names come after every real instance in h= and add no header data.
  const signing = { keys: [lines.keys, ...OVERSIGNED_FIELDS].filter((k) => k !== '').join(': '), headers: lines.headers };
  const signTime = opts.signTime ?? new Date();
  const out: string[] = [];
  for (const key of keys) {
    const { canonicalizedHeader, dkimHeaderOpts } = generateCanonicalizedHeader('DKIM', signing, {
      signingDomain: key.domain,
      selector: key.selector,
      algorithm: key.algorithm,
      canonicalization: 'relaxed/relaxed',
      bodyHash,
      signTime,
    });
    let b: Buffer;
    try {
      // RFC 8463 §3: Ed25519 signs the SHA-256 hash of the canonicalized header (PureEdDSA over it)
      b =
        key.type === 'rsa'
          ? cryptoSign('RSA-SHA256', canonicalizedHeader, key.privateKeyPem)
          : cryptoSign(null, createHash('sha256').update(canonicalizedHeader).digest(), key.privateKeyPem);
    } catch (err) {
      throw new DkimSignError(`DKIM signing for ${key.domain} (selector ${key.selector}) failed: ${(err as Error).message}`);
    }
    out.push(`${formatSignatureHeaderLine('DKIM', { ...dkimHeaderOpts, b: b.toString('base64') }, true)}\r\n`);
  }
  return out.join('');
}

/** `raw` with its DKIM-Signature fields prepended (RSA-SHA256 first, then Ed25519-SHA256). */
export function signMessageSync(raw: Buffer, opts: SignOptions): Buffer {
  return Buffer.concat([Buffer.from(dkimSignaturesSync(raw, opts), 'latin1'), raw]);
}

/** As `signMessageSync`; async so that a streaming signer can take its place without API change. */
export async function signMessage(raw: Buffer, opts: SignOptions): Promise<Buffer> {
  return signMessageSync(raw, opts);
}

/**
 * The domain that signs mail from our host name itself (bounces come from MAILER-DAEMON@<host>):
 * the host name or its nearest parent that has keys, i.e. a local domain (keys are made by
 * `postern init` / `domain add`). DMARC's relaxed alignment (RFC 7489 §3.1.1) accepts a parent's
 * signature for mail.example.org. Null when none has keys: signing with a key published nowhere
 * would only add a failing signature.
 */
export function hostSigningDomain(config: KeyConfig, hostname: string): string | null {
  const labels = hostname.toLowerCase().replace(/\.$/, '').split('.');
  for (let i = 0; i < labels.length - 1; i++) {
    const candidate = labels.slice(i).join('.');
    try {
      if (loadDomainKeys(config, candidate).length > 0) return candidate;
    } catch {
      // not a domain name we could hold keys for (a garbled From:, say): look further up
    }
  }
  return null;
}

const FROM: ReadonlySet<string> = new Set(['from']);

/**
 * DKIM for a message injected on this machine (`postern sendmail`, the maildrop): signed as its
 * From: domain when that domain (or a parent) has keys. From a local user who is not trusted,
 * only when From: is their own envelope sender: our signature must not vouch for a From: they
 * chose freely.
 */
export function signLocalMessage(raw: Buffer, o: { config: KeyConfig; sender: string; trusted: boolean }): Buffer {
  const from = headerFields(raw, FROM)[0];
  const value = from ? unfoldedValue(from) : o.sender;
  const address = (/<([^<>]*)>/.exec(value)?.[1] ?? value).trim().toLowerCase();
  if (!o.trusted && address !== o.sender.toLowerCase()) return raw;
  const at = address.lastIndexOf('@');
  const domain = at > 0 ? hostSigningDomain(o.config, address.slice(at + 1)) : null;
  return domain ? signMessageSync(raw, { config: o.config, domain }) : raw;
}
