/**
 * Failed-login throttling, shared by every protocol that takes a password (SMTP AUTH, IMAP,
 * POP3, webmail). Each failure adds a growing delay before the reply (failure_delay × 2^(n-1),
 * capped at 8 s); past the limit, the IP or the account is refused outright for `lockout`
 * (`454 4.7.0` in SMTP, `NO [UNAVAILABLE]` in IMAP, `-ERR [IN-USE]`-style in POP3). A success clears
 * the account's count. State is per process and in memory: an attacker cannot fill it without
 * bound because entries expire and the map is capped.
 */
export interface ThrottleOptions {
  maxFailuresPerIp: number;
  maxFailuresPerAccount: number;
  lockoutMs: number;
  failureDelayMs: number;
  now?: () => number;
}

interface Entry {
  failures: number;
  last: number;
}

const MAX_ENTRIES = 100_000;
const MAX_DELAY_MS = 8000;

export class LoginThrottle {
  /** The throttle that `[auth]` in the config describes. */
  static fromConfig(auth: { max_failures_per_ip: number; max_failures_per_account: number; lockout: number; failure_delay: number }): LoginThrottle {
    return new LoginThrottle({
      maxFailuresPerIp: auth.max_failures_per_ip,
      maxFailuresPerAccount: auth.max_failures_per_account,
      lockoutMs: auth.lockout,
      failureDelayMs: auth.failure_delay,
    });
  }

  private readonly byIp = new Map<string, Entry>();
  private readonly byAccount = new Map<string, Entry>();
  private readonly now: () => number;

  constructor(private readonly opts: ThrottleOptions) {
    this.now = opts.now ?? Date.now;
  }

  private live(map: Map<string, Entry>, key: string): Entry | undefined {
    const e = map.get(key);
    if (e && this.now() - e.last > this.opts.lockoutMs) {
      map.delete(key);
      return undefined;
    }
    return e;
  }

  /** Is this attempt refused without even checking the password? */
  isLocked(ip: string, account: string): boolean {
    const ipE = this.live(this.byIp, ip);
    const accE = this.live(this.byAccount, account.toLowerCase());
    return (ipE?.failures ?? 0) >= this.opts.maxFailuresPerIp || (accE?.failures ?? 0) >= this.opts.maxFailuresPerAccount;
  }

  /** Records a failure; returns how long to wait before answering. */
  fail(ip: string, account: string): number {
    const t = this.now();
    let n = 0;
    for (const [map, key] of [
      [this.byIp, ip],
      [this.byAccount, account.toLowerCase()],
    ] as const) {
      if (map.size >= MAX_ENTRIES) map.delete(map.keys().next().value as string);
      const e = this.live(map, key) ?? { failures: 0, last: t };
      e.failures++;
      e.last = t;
      map.set(key, e);
      n = Math.max(n, e.failures);
    }
    return Math.min(MAX_DELAY_MS, this.opts.failureDelayMs * 2 ** Math.max(0, n - 1));
  }

  succeed(account: string): void {
    this.byAccount.delete(account.toLowerCase());
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref?.());
