/**
 * DKIM signing keys (RFC 6376 §3.6, RFC 8463), one pair of keys per local domain:
 *
 *   <dataDir>/dkim/<domain>/<selector>.rsa.pem      RSA 2048, selector `<selector>`
 *   <dataDir>/dkim/<domain>/<selector>.ed25519.pem  Ed25519,  selector `<selector>-ed25519`
 *
 * Both are PKCS#8 PEM, mode 0600 in a 0700 directory. Every message is signed with both: RSA is
 * what every verifier understands, Ed25519 the short modern key (RFC 8463 §4 asks signers to
 * keep an RSA signature beside it). A new `dkim.selector` in the config means new keys (that is
 * how keys are rotated: publish the new records, then switch the selector).
 *
 * Creating is safe against a second process creating the same key at the same moment: the key
 * is written to a private temporary file and hard-linked into place, so exactly one wins and
 * everybody reads the winner's key.
 */
import { generateKeyPairSync, createPrivateKey, createPublicKey, randomBytes, type KeyObject } from 'node:crypto';
import { chmodSync, linkSync, mkdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { normalizeDomain, type Config } from '@postern/core';

export type DkimKeyType = 'rsa' | 'ed25519';

export interface DkimKey {
  domain: string;
  /** The DNS selector: the key is published at `<selector>._domainkey.<domain>`. */
  selector: string;
  type: DkimKeyType;
  /** The a= tag of the signatures made with it. */
  algorithm: 'rsa-sha256' | 'ed25519-sha256';
  /** PKCS#8 PEM. */
  privateKeyPem: string;
  /** The p= value of the DNS record (base64). */
  publicKey: string;
  path: string;
}

export type KeyConfig = Pick<Config, 'dataDir' | 'dkim'>;

const TYPES: readonly DkimKeyType[] = ['rsa', 'ed25519'];

/** The directory holding a domain's keys; the domain is normalised first (never a path trick). */
export function dkimKeyDir(config: KeyConfig, domain: string): string {
  return join(config.dataDir, 'dkim', normalizeDomain(domain));
}

/** The DNS selector of each key type under the configured base selector. */
export function selectorFor(config: KeyConfig, type: DkimKeyType): string {
  return type === 'rsa' ? config.dkim.selector : `${config.dkim.selector}-ed25519`;
}

function keyPath(config: KeyConfig, domain: string, type: DkimKeyType): string {
  return join(dkimKeyDir(config, domain), `${config.dkim.selector}.${type}.pem`);
}

/**
 * The p= value for a public key: RSA as the DER SubjectPublicKeyInfo (RFC 6376 §3.6.1), Ed25519
 * as the bare 32-byte key (RFC 8463 §4.2), both base64.
 */
function publicKeyValue(pub: KeyObject): string {
  const der = pub.export({ type: 'spki', format: 'der' });
  // An Ed25519 SubjectPublicKeyInfo is a fixed 12-byte prefix and the 32-byte key.
  return (pub.asymmetricKeyType === 'ed25519' ? der.subarray(der.length - 32) : der).toString('base64');
}

function toKey(config: KeyConfig, domain: string, type: DkimKeyType, pem: string, path: string): DkimKey {
  const priv = createPrivateKey(pem);
  if (priv.asymmetricKeyType !== type) throw new Error(`${path}: expected a ${type} key, found ${priv.asymmetricKeyType ?? 'unknown'}`);
  return {
    domain,
    selector: selectorFor(config, type),
    type,
    algorithm: type === 'rsa' ? 'rsa-sha256' : 'ed25519-sha256',
    privateKeyPem: pem,
    publicKey: publicKeyValue(createPublicKey(priv)),
    path,
  };
}

function readIfExists(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/**
 * Parsed keys by path, kept while the file's mtime and size stay the same: signing every
 * submitted message must not re-read and re-parse two PEM files, and a replaced key file is
 * still picked up at once.
 */
const cache = new Map<string, { stamp: string; key: DkimKey }>();

function loadKey(config: KeyConfig, domain: string, type: DkimKeyType, path: string): DkimKey | null {
  let stamp: string;
  try {
    const st = statSync(path);
    stamp = `${st.mtimeMs}:${st.size}:${st.ino}`;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const hit = cache.get(path);
  if (hit && hit.stamp === stamp) return hit.key;
  const pem = readIfExists(path);
  if (pem === null) return null;
  const key = toKey(config, domain, type, pem, path);
  cache.set(path, { stamp, key });
  return key;
}

/** The domain's keys that exist (RSA first); empty when none were made yet. */
export function loadDomainKeys(config: KeyConfig, domain: string): DkimKey[] {
  const d = normalizeDomain(domain);
  const keys: DkimKey[] = [];
  for (const type of TYPES) {
    const key = loadKey(config, d, type, keyPath(config, d, type));
    if (key) keys.push(key);
  }
  return keys;
}

function generate(type: DkimKeyType): string {
  const pair = type === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 0x10001 }) : generateKeyPairSync('ed25519');
  return pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/** Writes `pem` at `path` unless a file is there already; returns the PEM that is there now. */
function installOnce(path: string, pem: string): string {
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  writeFileSync(tmp, pem, { mode: 0o600, flag: 'wx' });
  try {
    linkSync(tmp, path);
    return pem;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return readFileSync(path, 'utf8');
  } finally {
    unlinkSync(tmp);
  }
}

export interface EnsureResult {
  keys: DkimKey[];
  /** The key types made by this call (empty when all existed). */
  created: DkimKeyType[];
}

/** Loads the domain's RSA and Ed25519 keys, making whichever is missing. */
export function ensureDomainKeys(config: KeyConfig, domain: string): EnsureResult {
  const d = normalizeDomain(domain);
  const dir = dkimKeyDir(config, d);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const keys: DkimKey[] = [];
  const created: DkimKeyType[] = [];
  for (const type of TYPES) {
    const path = keyPath(config, d, type);
    let key = loadKey(config, d, type, path);
    if (!key) {
      const mine = generate(type);
      if (installOnce(path, mine) === mine) created.push(type);
      key = loadKey(config, d, type, path);
      if (!key) throw new Error(`${path}: the key just written is gone`);
    }
    keys.push(key);
  }
  return { keys, created };
}

/** The TXT record text of a key (RFC 6376 §3.6.1; k=ed25519 from RFC 8463 §4.2). */
export function dkimTxtValue(key: Pick<DkimKey, 'type' | 'publicKey'>): string {
  return `v=DKIM1; k=${key.type}; p=${key.publicKey}`;
}
