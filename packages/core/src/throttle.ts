/**
 * Failed-login throttling, one state for every process that takes a password (SMTP AUTH on
 * submission and the MX, IMAP, POP3, and the webmail through its IMAP login): a table in mail.db,
 * so a failure anywhere counts everywhere.
 *
 * Invariants:
 * - An attempt is counted before its password is checked: `begin` reserves it synchronously in
 *   one write transaction (BEGIN IMMEDIATE, so processes cannot interleave), and only then may
 *   the caller start the slow hash. N parallel guesses get at most the limit checked.
 * - The account is the normalised address (core's `loginKey`): `"u"@dom`, `U@DOM.`, ` u@dom` are
 *   one account. The source is the client address without an IPv4-mapped prefix.
 * - Past `maxFailuresPerIp` the source is refused for every account. Past
 *   `maxFailuresPerAccount` only *unknown* sources are refused: a source that logged in to the
 *   account successfully within `knownSourceMs` keeps getting in (the lockout locks out the
 *   attacker, not the owner; mox and Dovecot's auth_penalty punish the source the same way).
 * - A failure adds a growing delay before the reply (failure_delay × 2^(n-1), capped at 8 s).
 *   Counts expire `lockoutMs` after their last failure. A success takes back its own reserved
 *   failure only: it never clears the account's count (else each of the owner's logins would
 *   hand the attacker fresh guesses).
 * - The tables stay bounded: expired rows are pruned, and past MAX_ROWS the oldest go.
 * - Its writes go through a connection of its own with `synchronous=NORMAL`: a count lost in a
 *   power cut costs nothing, and two fsyncs per login were most of a cached login's time. Mail
 *   is not weakened by it: every commit of mail (synchronous=FULL) syncs the shared WAL, these
 *   frames with it.
 * - While an account is at its lockout, each login to it first has the authentication cache
 *   (auth-cache.ts) forget it: every login then takes the full password check.
 */
import { loginKey } from './address.js';
import { plainIp } from './net.js';
import { authCache } from './auth-cache.js';
import { metrics } from './metrics.js';
import { LAST_LOGINS_SCHEMA, type LoginProtocol } from './credentials.js';
import { openDatabase, openSibling, prepared, type Db } from './sqlite.js';

/** mail.db migration 4 (store/schema.ts); also the schema of a throttle without a database. */
export const LOGIN_THROTTLE_SCHEMA = `
  CREATE TABLE login_failures (
    scope TEXT NOT NULL CHECK (scope IN ('ip', 'account')),
    key TEXT NOT NULL,
    failures INTEGER NOT NULL,
    last INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
  );
  CREATE INDEX login_failures_last ON login_failures (last);
  CREATE TABLE login_sources (
    account TEXT NOT NULL,
    ip TEXT NOT NULL,
    last INTEGER NOT NULL,
    PRIMARY KEY (account, ip)
  );
  CREATE INDEX login_sources_last ON login_sources (last);
`;

export interface ThrottleOptions {
  maxFailuresPerIp: number;
  maxFailuresPerAccount: number;
  lockoutMs: number;
  failureDelayMs: number;
  /** How long a successful login lets its source past the account's lockout (default 30 days). */
  knownSourceMs?: number;
  now?: () => number;
}

/** One login in progress: its failure is already counted; say how it ended. */
export interface LoginAttempt {
  /**
   * The password was right: the reserved failure is taken back and the source remembered; with
   * `relayedBy`, the proxy (a webmail) that relayed the login for that source is remembered too,
   * since it goes on to log in to the other services (SMTP submission) on the user's behalf.
   * `remember: false` takes back the reserved failure and nothing more: a first factor was right,
   * and the login is not over until the second is (the webmail's TOTP step begins its own attempt).
   */
  succeeded(relayedBy?: string, options?: { remember?: boolean }): void;
  /** The password was wrong: returns how long to wait before answering. */
  failed(): number;
}

const MAX_ROWS = 100_000;
const MAX_DELAY_MS = 8000;
const PRUNE_EVERY = 256;
const DEFAULT_KNOWN_SOURCE_MS = 30 * 86_400_000;

export class LoginThrottle {
  /**
   * The throttle that `[auth]` in the config describes, over mail.db's tables (`db`, every app);
   * without `db`, over a table in this process's memory (servers started alone in unit tests).
   */
  static fromConfig(
    auth: {
      max_failures_per_ip: number;
      max_failures_per_account: number;
      lockout: number;
      failure_delay: number;
      known_source_lifetime: number;
      cache_lifetime?: number;
    },
    db?: Db,
  ): LoginThrottle {
    // every app that takes passwords makes its throttle here: the process's cache follows [auth]
    if (auth.cache_lifetime !== undefined) authCache.setLifetime(auth.cache_lifetime);
    return new LoginThrottle(
      {
        maxFailuresPerIp: auth.max_failures_per_ip,
        maxFailuresPerAccount: auth.max_failures_per_account,
        lockoutMs: auth.lockout,
        failureDelayMs: auth.failure_delay,
        knownSourceMs: auth.known_source_lifetime,
      },
      db,
    );
  }

  private readonly db: Db;
  private readonly now: () => number;
  private readonly knownSourceMs: number;
  private writes = 0;

  /** Without `db`, a private in-memory table (one process only: unit tests). */
  constructor(
    private readonly opts: ThrottleOptions,
    db?: Db,
  ) {
    this.db = db && !db.memory ? openSibling(db, 'NORMAL') : (db ?? openDatabase(':memory:', [LOGIN_THROTTLE_SCHEMA, LAST_LOGINS_SCHEMA]));
    this.now = opts.now ?? Date.now;
    this.knownSourceMs = opts.knownSourceMs ?? DEFAULT_KNOWN_SOURCE_MS;
  }

  /**
   * Reserves one attempt for `login` from `ip`, or returns null when it is refused without
   * checking the password (the source is locked, or the account is and the source is unknown).
   * With `protocol`, a success is also the account's last login over it from `ip` (last_logins,
   * written in the same transaction as the success: no fsync of its own), unless it was relayed.
   */
  begin(ip: string, login: string, protocol?: LoginProtocol): LoginAttempt | null {
    const source = plainIp(ip);
    // a name that is no address cannot log in, but still counts (cut: a row per guess stays small)
    const account = loginKey(login) ?? login.trim().toLowerCase().slice(0, 320);
    const t = this.now();
    const decide = (reserve: boolean): { ip: number; account: number; known: boolean } | null => {
      const ipFailures = this.failures('ip', source, t);
      if (ipFailures >= this.opts.maxFailuresPerIp) return null;
      const accountFailures = this.failures('account', account, t);
      // locked: this login (if the source is known) takes the full password check (auth-cache.ts)
      if (accountFailures >= this.opts.maxFailuresPerAccount) authCache.forget(account);
      const known = this.isKnown(account, source, t);
      if (!known && accountFailures >= this.opts.maxFailuresPerAccount) return null;
      if (reserve) {
        this.count('ip', source, t, ipFailures + 1);
        this.count('account', account, t, accountFailures + 1);
      }
      return { ip: ipFailures + 1, account: accountFailures + 1, known };
    };
    let counts: ReturnType<typeof decide>;
    let reserved = true;
    try {
      counts = this.db.transaction(() => decide(true)).immediate();
    } catch (err) {
      // mail.db cannot be written (disk full, I/O error, locked past the busy timeout): the
      // decision is still made from what is recorded, but nothing is reserved. Refusing every
      // login instead would lock everyone out of reading their mail while the disk is full.
      if (!isSqliteError(err)) throw err;
      reserved = false;
      counts = decide(false);
    }
    const label = protocol ?? 'other';
    if (!counts) {
      metrics.logins.inc({ protocol: label, result: 'refused' });
      return null;
    }
    if (reserved) this.maybePrune(t);
    let settled = false;
    return {
      succeeded: (relayedBy?: string, options?: { remember?: boolean }) => {
        if (settled) return;
        settled = true;
        metrics.logins.inc({ protocol: label, result: options?.remember === false ? 'first_factor' : 'ok' });
        // a first factor alone (the webmail's password before its code) makes no source known
        const remember = options?.remember ?? true;
        const known = !remember ? [] : relayedBy === undefined ? [source] : [source, plainIp(relayedBy)];
        this.tryWrite(() => {
          const at = this.now();
          for (const [scope, key] of reserved
            ? ([
                ['ip', source],
                ['account', account],
              ] as const)
            : []) {
            prepared(this.db, 'UPDATE login_failures SET failures = failures - 1 WHERE scope = ? AND key = ? AND failures > 0').run(scope, key);
            prepared(this.db, 'DELETE FROM login_failures WHERE scope = ? AND key = ? AND failures = 0').run(scope, key);
          }
          for (const ip of known) {
            prepared(
              this.db,
              'INSERT INTO login_sources (account, ip, last) VALUES (?, ?, ?) ON CONFLICT (account, ip) DO UPDATE SET last = excluded.last',
            ).run(account, ip, at);
          }
          // a login relayed by the webmail is the webmail's, which records its own
          if (protocol && remember && relayedBy === undefined) {
            prepared(
              this.db,
              'INSERT INTO last_logins (account, protocol, ip, last) VALUES (?, ?, ?, ?) ON CONFLICT (account, protocol, ip) DO UPDATE SET last = excluded.last',
            ).run(account, protocol, source, at);
          }
        });
      },
      failed: () => {
        if (!settled) metrics.logins.inc({ protocol: label, result: 'failed' });
        if (!settled && !reserved) {
          // counted now, as before reservations existed (see begin)
          this.tryWrite(() => {
            this.count('ip', source, t, counts.ip);
            this.count('account', account, t, counts.account);
          });
        }
        settled = true;
        // A known source is slowed by its own failures only, an unknown one by the account's too.
        const n = counts.known ? counts.ip : Math.max(counts.ip, counts.account);
        return Math.min(MAX_DELAY_MS, this.opts.failureDelayMs * 2 ** Math.max(0, n - 1));
      },
    };
  }

  /** A write of the throttle's own; one mail.db cannot take (see begin) is given up. */
  private tryWrite(fn: () => void): void {
    try {
      this.db.transaction(fn).immediate();
    } catch (err) {
      if (!isSqliteError(err)) throw err;
    }
  }

  private failures(scope: 'ip' | 'account', key: string, t: number): number {
    const row = prepared(this.db, 'SELECT failures, last FROM login_failures WHERE scope = ? AND key = ?').get(scope, key) as
      | { failures: number; last: number }
      | undefined;
    return row && t - row.last <= this.opts.lockoutMs ? row.failures : 0;
  }

  private count(scope: 'ip' | 'account', key: string, t: number, failures: number): void {
    prepared(
      this.db,
      'INSERT INTO login_failures (scope, key, failures, last) VALUES (?, ?, ?, ?) ON CONFLICT (scope, key) DO UPDATE SET failures = excluded.failures, last = excluded.last',
    ).run(scope, key, failures, t);
  }

  private isKnown(account: string, ip: string, t: number): boolean {
    const last = prepared(this.db, 'SELECT last FROM login_sources WHERE account = ? AND ip = ?').pluck().get(account, ip) as number | undefined;
    return last !== undefined && t - last <= this.knownSourceMs;
  }

  private maybePrune(t: number): void {
    if (++this.writes % PRUNE_EVERY !== 0) return;
    this.tryWrite(() => {
      prepared(this.db, 'DELETE FROM login_failures WHERE last < ?').run(t - this.opts.lockoutMs);
      prepared(this.db, 'DELETE FROM login_sources WHERE last < ?').run(t - this.knownSourceMs);
      prepared(this.db, 'DELETE FROM last_logins WHERE last < ?').run(t - this.knownSourceMs);
      for (const table of ['login_failures', 'login_sources', 'last_logins'] as const) {
        const n = prepared(this.db, `SELECT count(*) FROM ${table}`).pluck().get() as number;
        if (n > MAX_ROWS) {
          prepared(this.db, `DELETE FROM ${table} WHERE rowid IN (SELECT rowid FROM ${table} ORDER BY last LIMIT ?)`).run(n - MAX_ROWS);
        }
      }
    });
  }
}

/** An error of SQLite itself (SQLITE_FULL, SQLITE_IOERR, SQLITE_BUSY ...), not of our code. */
function isSqliteError(err: unknown): boolean {
  return err instanceof Error && 'code' in err && typeof err.code === 'string' && err.code.startsWith('SQLITE_');
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref?.());
