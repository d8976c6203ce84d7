/**
 * SCRAM-SHA-256 and SCRAM-SHA-256-PLUS, the server side (RFC 5802, RFC 7677), with channel
 * binding `tls-exporter` (RFC 9266) and `tls-server-end-point` (RFC 5929 §4). The client proves
 * it knows the password without sending it; the server proves it holds the keys; with -PLUS both
 * sides also prove they see the same TLS connection, so a man in the middle who terminates TLS
 * with another certificate cannot relay the exchange.
 *
 * Invariants:
 * - Only StoredKey and ServerKey are kept (derived when the password is set, RFC 5802 §3):
 *   neither logs anyone in by itself, though both, like any password hash, allow guessing.
 * - An unknown user gets a salt made from its name under a per-process key (the same every time
 *   it asks), and fails at the proof like a wrong password: the exchange does not tell who exists.
 * - `y` from a client while the server offers -PLUS is a downgrade and fails (RFC 5802 §6).
 * - The password is prepared with NFKC normalisation, what SASLprep (RFC 4013) does to every
 *   password a person types; the rare prohibited characters are not refused here.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';

export const SCRAM_ITERATIONS = 10_000;
export type ChannelBindingType = 'tls-exporter' | 'tls-server-end-point';
/** What the TLS connection offers as channel binding data (none without TLS). */
export type ChannelBindings = Partial<Record<ChannelBindingType, Buffer>>;

export interface ScramKeys {
  iterations: number;
  salt: Buffer;
  storedKey: Buffer;
  serverKey: Buffer;
}

const hmac = (key: Buffer, data: string | Buffer): Buffer => createHmac('sha256', key).update(data).digest();
const sha256 = (data: Buffer): Buffer => createHash('sha256').update(data).digest();

/** The stored form (users.scram_sha256): `i,salt,storedKey,serverKey` (base64). */
export function scramKeysFor(password: string, iterations = SCRAM_ITERATIONS, salt = randomBytes(16)): string {
  const salted = pbkdf2Sync(password.normalize('NFKC'), salt, iterations, 32, 'sha256');
  const clientKey = hmac(salted, 'Client Key');
  return [iterations, salt.toString('base64'), sha256(clientKey).toString('base64'), hmac(salted, 'Server Key').toString('base64')].join(',');
}

export function parseScramKeys(stored: string | null | undefined): ScramKeys | null {
  const m = /^(\d+),([A-Za-z0-9+/=]+),([A-Za-z0-9+/=]+),([A-Za-z0-9+/=]+)$/.exec(stored ?? '');
  if (!m) return null;
  return { iterations: Number(m[1]), salt: Buffer.from(m[2]!, 'base64'), storedKey: Buffer.from(m[3]!, 'base64'), serverKey: Buffer.from(m[4]!, 'base64') };
}

const fakeKey = randomBytes(32);
/** Keys nobody's password matches, stable per name (see the invariants). */
function decoyKeys(username: string): ScramKeys {
  return { iterations: SCRAM_ITERATIONS, salt: hmac(fakeKey, `salt:${username}`).subarray(0, 16), storedKey: randomBytes(32), serverKey: randomBytes(32) };
}

/** RFC 5802 §5.1: "=2C" and "=3D" in a saslname. */
function decodeSaslName(s: string): string | null {
  if (/=(?!2C|3D)/.test(s)) return null;
  return s.replace(/=2C/g, ',').replace(/=3D/g, '=');
}

function attributes(s: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of s.split(',')) {
    const m = /^([A-Za-z])=(.*)$/s.exec(part);
    if (m && !out.has(m[1]!)) out.set(m[1]!, m[2]!);
  }
  return out;
}

export class ScramError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScramError';
  }
}

/**
 * One server-side exchange. `plus`: the client chose SCRAM-SHA-256-PLUS. `bindings`: what this
 * connection's TLS offers (null without TLS; then -PLUS is not advertised).
 */
export class ScramServer {
  private gs2Header = '';
  private clientFirstBare = '';
  private serverFirst = '';
  private nonce = '';
  private keys: ScramKeys | null = null;
  private binding: Buffer = Buffer.alloc(0);
  username = '';

  constructor(
    private readonly plus: boolean,
    private readonly bindings: ChannelBindings | null,
    /** The server's part of the nonce (random; fixed only by tests, for RFC 7677's example). */
    private readonly serverNonce = randomBytes(18).toString('base64'),
  ) {}

  /** Parses client-first-message (RFC 5802 §7); returns the user name to look up. */
  start(clientFirst: string): string {
    const m = /^([npy](?:=([A-Za-z0-9.-]+))?),(a=[^,]*)?,(.*)$/s.exec(clientFirst);
    if (!m) throw new ScramError('malformed client-first-message');
    const flag = m[1]![0];
    const type = m[2];
    if (m[3]) throw new ScramError('an authorization identity is not supported');
    if (this.plus) {
      if (flag !== 'p' || (type !== 'tls-exporter' && type !== 'tls-server-end-point'))
        throw new ScramError('SCRAM-SHA-256-PLUS needs channel binding tls-exporter or tls-server-end-point');
      const data = this.bindings?.[type];
      if (!data) throw new ScramError(`channel binding ${type} is not available on this connection`);
      this.binding = data;
    } else {
      if (flag === 'p') throw new ScramError('channel binding asked for with SCRAM-SHA-256 (use -PLUS)');
      // RFC 5802 §6: "y" says the client could bind but thinks we cannot; we can, so someone
      // stripped -PLUS from our mechanism list
      if (flag === 'y' && this.bindings && Object.keys(this.bindings).length > 0) throw new ScramError('downgrade: the server supports channel binding');
    }
    this.gs2Header = `${m[1]},${m[3] ?? ''},`;
    this.clientFirstBare = m[4]!;
    const attrs = attributes(this.clientFirstBare);
    if (attrs.has('m')) throw new ScramError('mandatory extension not supported');
    const name = decodeSaslName(attrs.get('n') ?? '');
    const cnonce = attrs.get('r') ?? '';
    if (!name || !/^[\x21-\x2b\x2d-\x7e]+$/.test(cnonce)) throw new ScramError('malformed client-first-message');
    this.username = name;
    this.nonce = cnonce + this.serverNonce;
    return name;
  }

  /** The server-first-message, with the user's keys (null: unknown, or no SCRAM keys: a decoy). */
  challenge(keys: ScramKeys | null): string {
    this.keys = keys ?? decoyKeys(this.username);
    this.serverFirst = `r=${this.nonce},s=${this.keys.salt.toString('base64')},i=${this.keys.iterations}`;
    return this.serverFirst;
  }

  /**
   * Checks client-final-message: the channel binding and the proof. Returns the
   * server-final-message (`v=`), or throws ScramError (the caller says only "failed").
   */
  finish(clientFinal: string, known: boolean): string {
    const m = /^(c=[^,]*),(r=[^,]*)((?:,[^p][^,]*)*),p=([A-Za-z0-9+/=]+)$/s.exec(clientFinal);
    if (!m || !this.keys) throw new ScramError('malformed client-final-message');
    const cbind = Buffer.from(m[1]!.slice(2), 'base64');
    const expected = Buffer.concat([Buffer.from(this.gs2Header), this.binding]);
    // RFC 5802 §5.1 c=: the GS2 header again and, with -PLUS, this connection's binding data
    if (cbind.length !== expected.length || !timingSafeEqual(cbind, expected)) throw new ScramError('channel binding mismatch');
    if (m[2]!.slice(2) !== this.nonce) throw new ScramError('nonce mismatch');
    const withoutProof = `${m[1]},${m[2]}${m[3] ?? ''}`;
    const authMessage = `${this.clientFirstBare},${this.serverFirst},${withoutProof}`;
    const proof = Buffer.from(m[4]!, 'base64');
    const signature = hmac(this.keys.storedKey, authMessage);
    if (proof.length !== signature.length) throw new ScramError('invalid proof');
    const clientKey = Buffer.alloc(proof.length);
    for (let i = 0; i < proof.length; i++) clientKey[i] = proof[i]! ^ signature[i]!;
    if (!timingSafeEqual(sha256(clientKey), this.keys.storedKey) || !known) throw new ScramError('invalid proof');
    return `v=${hmac(this.keys.serverKey, authMessage).toString('base64')}`;
  }
}

const SHA384_OIDS = [Buffer.from('06092a864886f70d01010c', 'hex'), Buffer.from('06082a8648ce3d040303', 'hex')];
const SHA512_OIDS = [Buffer.from('06092a864886f70d01010d', 'hex'), Buffer.from('06082a8648ce3d040304', 'hex')];

/**
 * The channel binding data of a server-side TLS socket. tls-exporter (RFC 9266) on TLS 1.3 only:
 * on 1.2 it is safe only with the extended master secret, which Node does not report.
 * (RFC 9266 §2: no context; in TLS 1.3 that is the same as an empty one, RFC 8446 §7.5.)
 * tls-server-end-point (RFC 5929 §4.1): our certificate hashed with its signature's hash,
 * SHA-256 for MD5, SHA-1 and SHA-256 (the signature OID is looked for in the DER).
 */
export function channelBindingsOf(socket: {
  getProtocol(): string | null;
  exportKeyingMaterial(length: number, label: string, context?: Buffer): Buffer;
  getCertificate(): object | null;
}): ChannelBindings {
  const out: ChannelBindings = {};
  if (socket.getProtocol() === 'TLSv1.3') out['tls-exporter'] = socket.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0));
  const raw = (socket.getCertificate() as { raw?: Buffer } | null)?.raw;
  if (raw) {
    const algorithm = SHA512_OIDS.some((o) => raw.includes(o)) ? 'sha512' : SHA384_OIDS.some((o) => raw.includes(o)) ? 'sha384' : 'sha256';
    out['tls-server-end-point'] = createHash(algorithm).update(raw).digest();
  }
  return out;
}
