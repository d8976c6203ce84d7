/**
 * The Sender Rewriting Scheme (Shevek's SRS, as postsrsd and Postfix+postsrsd do it): mail we
 * forward to another domain leaves with an envelope sender of ours, so SPF at the receiver
 * checks our address, not the original sender's; a bounce to that address is turned back into
 * the original sender.
 *
 *   SRS0=HHHH=TT=orig-domain=orig-local@our.domain         forwarding a plain address
 *   SRS1=HHHH=first.domain==HHHH=TT=orig-domain=orig-local@our.domain   forwarding an SRS0 of someone else
 *
 * HHHH is a keyed hash (HMAC-SHA256, base32, 4 characters: compared case-insensitively, since
 * MTAs may fold local parts) and TT the day (base32, 2 characters, mod 1024). An address whose
 * hash does not verify, or whose day is older than `maxAgeDays`, is refused: nobody can use our
 * domain as a bounce relay. The secret lives in `<dataDir>/srs.secret` (made on first use, 0600).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';
const DAY_MS = 86_400_000;
/** The timestamp wraps every 1024 days (two base32 characters). */
const TT_PERIOD = 1024;

export class SrsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SrsError';
  }
}

export interface SrsOptions {
  secret: Buffer;
  /** How long a rewritten address may be bounced to (default 21 days, as postsrsd). */
  maxAgeDays?: number;
  now?: () => number;
}

/** Reads `<dataDir>/srs.secret`, making it (32 random octets, hex, mode 0600) when absent. */
export function loadSrsSecret(dataDir: string): Buffer {
  const file = join(dataDir, 'srs.secret');
  try {
    const text = readFileSync(file, 'utf8').trim();
    if (text.length >= 32) return Buffer.from(text, 'utf8');
  } catch {
    // made below
  }
  mkdirSync(dirname(file), { recursive: true });
  const secret = randomBytes(32).toString('hex');
  try {
    writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  } catch {
    // another process made it first: use theirs
    return Buffer.from(readFileSync(file, 'utf8').trim(), 'utf8');
  }
  chmodSync(file, 0o600);
  return Buffer.from(secret, 'utf8');
}

export class Srs {
  private readonly maxAgeDays: number;
  private readonly now: () => number;

  constructor(private readonly opts: SrsOptions) {
    this.maxAgeDays = opts.maxAgeDays ?? 21;
    this.now = opts.now ?? Date.now;
  }

  private hash(...parts: string[]): string {
    const mac = createHmac('sha256', this.opts.secret);
    for (const p of parts) mac.update(p.toLowerCase()).update('\0');
    const d = mac.digest();
    let out = '';
    for (let i = 0; i < 4; i++) out += BASE32[d[i]! & 31];
    return out;
  }

  private verify(expected: string, given: string): boolean {
    const a = Buffer.from(expected);
    const b = Buffer.from(given.toLowerCase());
    return a.length === b.length && timingSafeEqual(a, b);
  }

  private today(): number {
    return Math.floor(this.now() / DAY_MS) % TT_PERIOD;
  }

  private stamp(): string {
    const d = this.today();
    return BASE32[(d >> 5) & 31]! + BASE32[d & 31]!;
  }

  /** The envelope sender to forward with, for mail from `sender`; "" (the null sender) stays "". */
  forward(sender: string, ourDomain: string): string {
    if (sender === '') return '';
    const at = sender.lastIndexOf('@');
    if (at <= 0) return sender;
    const local = sender.slice(0, at);
    const domain = sender.slice(at + 1);
    if (domain.toLowerCase() === ourDomain.toLowerCase()) return sender; // ours already
    const srs0 = /^srs0([=+-])(.*)$/i.exec(local);
    if (srs0) {
      // §SRS1: keep the first forwarder's hash-protected part, add our own hash over it
      const rest = srs0[2]!;
      return `SRS1=${this.hash(domain, rest)}=${domain}==${rest}@${ourDomain}`;
    }
    const srs1 = /^srs1[=+-]([^=]+)=([^=]+)==(.*)$/i.exec(local);
    if (srs1) {
      const [, , first, rest] = srs1;
      return `SRS1=${this.hash(first!, rest!)}=${first}==${rest}@${ourDomain}`;
    }
    const tt = this.stamp();
    return `SRS0=${this.hash(tt, domain, local)}=${tt}=${domain}=${local}@${ourDomain}`;
  }

  /** Whether a local part is SRS (a bounce to a forward of ours, or forged). */
  static isSrs(local: string): boolean {
    return /^srs[01][=+-]/i.test(local);
  }

  /**
   * The address a bounce to `local@ourDomain` goes back to: the original sender (SRS0), or the
   * first forwarder's SRS0 address (SRS1). Throws SrsError when forged or expired.
   */
  reverse(local: string): string {
    const srs1 = /^srs1[=+-]([^=]+)=([^=]+)==(.*)$/i.exec(local);
    if (srs1) {
      const [, hh, first, rest] = srs1;
      if (!this.verify(this.hash(first!, rest!), hh!)) throw new SrsError('the SRS1 address does not verify');
      return `SRS0=${rest}@${first}`;
    }
    const srs0 = /^srs0[=+-]([^=]{4})=([^=]{2})=([^=]+)=(.+)$/i.exec(local);
    if (!srs0) throw new SrsError('not an SRS address');
    const [, hh, tt, domain, orig] = srs0;
    if (!this.verify(this.hash(tt!, domain!, orig!), hh!)) throw new SrsError('the SRS address does not verify');
    const t = tt!.toLowerCase();
    const day = BASE32.indexOf(t[0]!) * 32 + BASE32.indexOf(t[1]!);
    const age = (this.today() - day + TT_PERIOD) % TT_PERIOD;
    if (age > this.maxAgeDays) throw new SrsError(`the SRS address expired ${age - this.maxAgeDays} days ago`);
    return `${orig}@${domain}`;
  }
}
