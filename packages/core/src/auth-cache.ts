/**
 * The authentication cache, as Dovecot's `auth_cache`: after a successful password check (a
 * slow scrypt, ~50 ms), this process keeps an HMAC of the password under a random key of its own,
 * with the stored hash it was checked against, for `auth.cache_lifetime`. A client that logs in
 * again with the same password is answered without the hash; anything else takes the full check.
 *
 * Why it stays right across processes without messages between them:
 * - `postern user passwd` writes a new stored hash (a new salt): the entry no longer matches the
 *   row `authenticate` reads for every login, so it is not used. `user remove` leaves no row.
 * - a lockout: every login first asks the throttle, whose counts are in mail.db for every
 *   process; while the account's failures are at `max_failures_per_account`, the throttle has the
 *   process forget the account's entry before the password is looked at, so during a lockout each
 *   login to the account takes the full check, in whichever process it arrives.
 * - a failed login never enters the cache; the password itself is never kept.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

interface Entry {
  /** The stored hash the password was verified against. */
  stored: string;
  mac: Buffer;
  expires: number;
}

/** At most this many accounts are remembered (the oldest go first). */
const MAX_ENTRIES = 10_000;

export class AuthCache {
  private readonly key = randomBytes(32);
  private readonly entries = new Map<string, Entry>();
  /** Logins answered from the cache, and full checks it could not spare (for tests and metrics). */
  readonly stats = { hits: 0, misses: 0 };

  constructor(
    private lifetimeMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** `auth.cache_lifetime`; 0 turns the cache off (and empties it). */
  setLifetime(ms: number): void {
    this.lifetimeMs = ms;
    if (ms === 0) this.entries.clear();
  }

  /** True when `password` is the one last verified for `account` against this `stored` hash. */
  verified(account: string, stored: string, password: string): boolean {
    const e = this.entries.get(account);
    let hit = false;
    if (e && (e.expires <= this.now() || e.stored !== stored)) this.entries.delete(account);
    else if (e) hit = timingSafeEqual(e.mac, this.mac(password));
    if (hit) this.stats.hits++;
    else this.stats.misses++;
    return hit;
  }

  /** After a successful full check. */
  remember(account: string, stored: string, password: string): void {
    if (this.lifetimeMs === 0) return;
    this.entries.delete(account);
    this.entries.set(account, { stored, mac: this.mac(password), expires: this.now() + this.lifetimeMs });
    if (this.entries.size > MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value as string);
  }

  /** The account's next login takes the full check (its lockout was reached), with any of its app passwords. */
  forget(account: string): void {
    this.entries.delete(account);
    const prefix = appPasswordKey(account, '');
    for (const k of this.entries.keys()) if (k.startsWith(prefix)) this.entries.delete(k);
  }

  private mac(password: string): Buffer {
    return createHmac('sha256', this.key).update(password.normalize('NFC')).digest();
  }
}

/** The cache's key for one app password of an account (keyed by its row: revoking it leaves no row to match). */
export function appPasswordKey(account: string, id: number | ''): string {
  return `${account}\napp-password:${id}`;
}

/** The process's cache (every server of a process shares its logins, as Dovecot's auth process does). */
export const authCache = new AuthCache(0);
