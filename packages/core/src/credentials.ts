/**
 * Credentials besides the account password: app passwords (one per device, named, revocable,
 * optionally limited to some protocols), the webmail's per-session credentials, the TOTP second
 * factor (RFC 6238) and its recovery codes. Accounts (accounts.ts) decides which of them a login
 * may use; this module stores and checks them.
 *
 * Invariants:
 * - A generated secret (app password, recovery code) is returned once, by the call that makes
 *   it, and stored only as a salted slow hash (password.ts). It is 16 (app password) or 12
 *   (recovery code) random letters; its first four are kept in clear as a *selector*, so a login
 *   finds the one row to verify instead of hashing against each of the user's rows (the
 *   split-token pattern). What is left unknown is 56 (app password) or 40 bits under scrypt,
 *   online guesses are throttled (throttle.ts).
 * - Letters are what a person types on a phone: case, spaces and dashes are ignored.
 * - The TOTP secret must be kept in clear (the server computes the same code): it is the one
 *   secret of mail.db that a copy of the file gives away. A code is accepted once: the time step
 *   it belongs to is stored and no step at or before it is accepted again (RFC 6238 §5.2).
 * - Session credentials (the webmail's, `kind = 'session'`) expire with their session and are
 *   never listed as app passwords.
 */
import { randomInt } from 'node:crypto';
import { generateSecret, generateURI, verifySync } from 'otplib';
import { hashPassword, verifyPassword } from './password.js';
import { prepared, type Db } from './sqlite.js';

/** The protocols an app password may be limited to (ManageSieve: RFC 5804). */
export const DEVICE_PROTOCOLS = ['imap', 'pop3', 'smtp', 'managesieve'] as const;
export type DeviceProtocol = (typeof DEVICE_PROTOCOLS)[number];
/** What a login is for: a device protocol, or the webmail's own login form. */
export type LoginProtocol = DeviceProtocol | 'webmail';

/** A request the user can correct (too many app passwords, enrolment in the wrong state). */
export class CredentialError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CredentialError';
  }
}

export interface AppPassword {
  id: number;
  name: string;
  /** Empty: every device protocol. */
  protocols: DeviceProtocol[];
  created: number;
}

/** Written by the login throttle with each success (throttle.ts), read by Accounts.lastLogins. */
export const LAST_LOGINS_SCHEMA = `
  CREATE TABLE last_logins (
    account TEXT NOT NULL,                  -- loginKey, as the throttle's tables
    protocol TEXT NOT NULL,
    ip TEXT NOT NULL,
    last INTEGER NOT NULL,
    PRIMARY KEY (account, protocol, ip)
  );
  CREATE INDEX last_logins_last ON last_logins (last);
`;

/** mail.db migration 5 (store/schema.ts): app passwords, TOTP, recovery codes, admins, last logins. */
export const CREDENTIALS_SCHEMA = `
  CREATE TABLE app_passwords (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('device', 'session')),
    name TEXT NOT NULL,
    selector TEXT NOT NULL,                 -- the secret's first 4 letters, to find its row
    hash TEXT NOT NULL,                     -- password.ts
    protocols TEXT NOT NULL,                -- space-separated DEVICE_PROTOCOLS; '' = all
    created INTEGER NOT NULL,
    expires INTEGER                         -- session credentials only
  );
  CREATE INDEX app_passwords_selector ON app_passwords (user_id, selector);
  CREATE TABLE totp (
    user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    secret TEXT NOT NULL,                   -- base32 (RFC 4648), as authenticator apps take it
    enabled INTEGER NOT NULL DEFAULT 0,     -- 0 while enrolment waits for a first code
    last_step INTEGER NOT NULL DEFAULT 0,   -- the last time step used: a code counts once
    created INTEGER NOT NULL
  );
  CREATE TABLE recovery_codes (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    selector TEXT NOT NULL,
    hash TEXT NOT NULL
  );
  CREATE INDEX recovery_codes_selector ON recovery_codes (user_id, selector);
  ALTER TABLE users ADD COLUMN admin INTEGER NOT NULL DEFAULT 0;
  -- SCRAM-SHA-256 StoredKey/ServerKey (scram.ts), derived when the password is set; NULL for
  -- passwords set before this migration (SCRAM then fails until the next postern user passwd)
  ALTER TABLE users ADD COLUMN scram_sha256 TEXT;
  ${LAST_LOGINS_SCHEMA}
`;

const LETTERS = 'abcdefghijklmnopqrstuvwxyz';
const SELECTOR_LENGTH = 4;
const APP_PASSWORD_LENGTH = 16;
const RECOVERY_CODE_LENGTH = 12;
const RECOVERY_CODES = 10;
/** A user's device app passwords; each login may try one row per selector, so this bounds nothing slow, only clutter. */
export const MAX_APP_PASSWORDS = 100;

function randomLetters(n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += LETTERS[randomInt(LETTERS.length)];
  return s;
}

/** The letters of a typed secret of `length` letters, or null if it is not shaped like one. */
function canonical(typed: string, length: number): string | null {
  const s = typed.replace(/[\s-]/g, '').toLowerCase();
  return s.length === length && /^[a-z]+$/.test(s) ? s : null;
}

/** As shown to the user: groups of four, as Gmail and Fastmail show theirs. */
function grouped(s: string): string {
  return s.replace(/(.{4})(?=.)/g, '$1 ');
}

function parseProtocols(s: string): DeviceProtocol[] {
  return s === '' ? [] : (s.split(' ') as DeviceProtocol[]);
}

interface SecretRow {
  id: number;
  hash: string;
  protocols: string;
}

export class Credentials {
  constructor(
    private readonly db: Db,
    private readonly now: () => number = Date.now,
  ) {}

  // --- app passwords -------------------------------------------------------------------------

  /** Makes an app password; the returned `secret` is shown once and never again. */
  async addAppPassword(
    userId: number,
    name: string,
    protocols: readonly DeviceProtocol[],
    kind: 'device' | 'session' = 'device',
    expires: number | null = null,
  ): Promise<{ appPassword: AppPassword; secret: string }> {
    const secret = randomLetters(APP_PASSWORD_LENGTH);
    const hash = await hashPassword(secret);
    const t = this.now();
    const list = [...new Set(protocols)].sort().join(' ');
    const id = this.db
      .transaction(() => {
        // expired session credentials go as new ones are made (a webmail restart forgets its sessions)
        prepared(this.db, 'DELETE FROM app_passwords WHERE expires IS NOT NULL AND expires <= ?').run(t);
        if (kind === 'device') {
          const n = prepared(this.db, "SELECT count(*) FROM app_passwords WHERE user_id = ? AND kind = 'device'").pluck().get(userId) as number;
          if (n >= MAX_APP_PASSWORDS) throw new CredentialError(`at most ${MAX_APP_PASSWORDS} app passwords per user: revoke some first`);
        }
        const info = prepared(
          this.db,
          'INSERT INTO app_passwords (user_id, kind, name, selector, hash, protocols, created, expires) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
        ).run(userId, kind, name, secret.slice(0, SELECTOR_LENGTH), hash, list, t, expires);
        return Number(info.lastInsertRowid);
      })
      .immediate();
    return { appPassword: { id, name, protocols: parseProtocols(list), created: t }, secret: grouped(secret) };
  }

  listAppPasswords(userId: number): AppPassword[] {
    const rows = prepared(this.db, "SELECT id, name, protocols, created FROM app_passwords WHERE user_id = ? AND kind = 'device' ORDER BY id").all(
      userId,
    ) as Array<{ id: number; name: string; protocols: string; created: number }>;
    return rows.map((r) => ({ id: r.id, name: r.name, protocols: parseProtocols(r.protocols), created: r.created }));
  }

  /** Revokes by id or by name; returns how many went. */
  revokeAppPassword(userId: number, which: number | string): number {
    return typeof which === 'number'
      ? prepared(this.db, 'DELETE FROM app_passwords WHERE user_id = ? AND id = ?').run(userId, which).changes
      : prepared(this.db, "DELETE FROM app_passwords WHERE user_id = ? AND kind = 'device' AND name = ?").run(userId, which).changes;
  }

  /**
   * The rows `typed` may be (same selector, unexpired, allowing `protocol`), for the caller to
   * verify; none when `typed` is not shaped like an app password.
   */
  appPasswordCandidates(userId: number, typed: string, protocol: DeviceProtocol | undefined): Array<{ id: number; hash: string; secret: string }> {
    const secret = canonical(typed, APP_PASSWORD_LENGTH);
    if (!secret) return [];
    const rows = prepared(this.db, 'SELECT id, hash, protocols FROM app_passwords WHERE user_id = ? AND selector = ? AND (expires IS NULL OR expires > ?)').all(
      userId,
      secret.slice(0, SELECTOR_LENGTH),
      this.now(),
    ) as SecretRow[];
    return rows
      .filter((r) => {
        const allowed = parseProtocols(r.protocols);
        // an app password limited to some protocols serves a caller that names none of them: never
        return allowed.length === 0 || (protocol !== undefined && allowed.includes(protocol));
      })
      .map((r) => ({ id: r.id, hash: r.hash, secret }));
  }

  // --- TOTP (RFC 6238) -----------------------------------------------------------------------

  totpEnabled(userId: number): boolean {
    return prepared(this.db, 'SELECT enabled FROM totp WHERE user_id = ?').pluck().get(userId) === 1;
  }

  /**
   * Starts (or restarts) enrolment: a new secret, not in force until `confirmTotp` sees a code
   * made from it. Returns the secret and the otpauth URI an authenticator app scans.
   */
  beginTotp(userId: number, label: string, issuer: string): { secret: string; uri: string } {
    if (this.totpEnabled(userId)) throw new CredentialError('two-factor login is on already: turn it off first');
    const secret = generateSecret(); // 20 random bytes, base32 (RFC 4226 §4 R6: at least 128 bits)
    prepared(
      this.db,
      'INSERT INTO totp (user_id, secret, enabled, last_step, created) VALUES (?, ?, 0, 0, ?) ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, enabled = 0, last_step = 0, created = excluded.created',
    ).run(userId, secret, this.now());
    return { secret, uri: generateURI({ issuer, label, secret }) };
  }

  /** The otpauth URI of an enrolment that waits for its first code (to show the QR code again), or null. */
  pendingTotpUri(userId: number, label: string, issuer: string): string | null {
    const secret = prepared(this.db, 'SELECT secret FROM totp WHERE user_id = ? AND enabled = 0').pluck().get(userId) as string | undefined;
    return secret ? generateURI({ issuer, label, secret }) : null;
  }

  /** Ends every webmail session credential of the user (their password changed). */
  revokeSessions(userId: number): void {
    prepared(this.db, "DELETE FROM app_passwords WHERE user_id = ? AND kind = 'session'").run(userId);
  }

  /** Ends enrolment with a first code; returns the recovery codes (shown once), or null for a wrong code. */
  async confirmTotp(userId: number, code: string): Promise<string[] | null> {
    const row = prepared(this.db, 'SELECT secret, enabled FROM totp WHERE user_id = ?').get(userId) as { secret: string; enabled: number } | undefined;
    if (!row || row.enabled === 1) return null;
    if (!this.useTotpCode(userId, code)) return null;
    const codes = await this.newRecoveryCodes(userId);
    prepared(this.db, 'UPDATE totp SET enabled = 1 WHERE user_id = ?').run(userId);
    return codes;
  }

  disableTotp(userId: number): void {
    this.db
      .transaction(() => {
        prepared(this.db, 'DELETE FROM totp WHERE user_id = ?').run(userId);
        prepared(this.db, 'DELETE FROM recovery_codes WHERE user_id = ?').run(userId);
      })
      .immediate();
  }

  /**
   * Checks a 6-digit code against the user's secret (enrolled or pending), allowing one step of
   * clock drift either way (RFC 6238 §5.2), and uses it up: the same code, or an older one, is
   * refused after.
   */
  useTotpCode(userId: number, code: string): boolean {
    const token = code.replace(/\s/g, '');
    if (!/^\d{6}$/.test(token)) return false;
    return this.db
      .transaction(() => {
        const row = prepared(this.db, 'SELECT secret, last_step FROM totp WHERE user_id = ?').get(userId) as { secret: string; last_step: number } | undefined;
        if (!row) return false;
        const result = verifySync({
          secret: row.secret,
          token,
          epoch: Math.floor(this.now() / 1000),
          epochTolerance: 30,
          afterTimeStep: row.last_step,
        });
        if (!result.valid || !('timeStep' in result)) return false;
        prepared(this.db, 'UPDATE totp SET last_step = ? WHERE user_id = ?').run(result.timeStep, userId);
        return true;
      })
      .immediate();
  }

  /** Replaces the user's recovery codes with ten new ones, returned once. */
  async newRecoveryCodes(userId: number): Promise<string[]> {
    const codes = Array.from({ length: RECOVERY_CODES }, () => randomLetters(RECOVERY_CODE_LENGTH));
    const hashes = await Promise.all(codes.map((c) => hashPassword(c)));
    this.db
      .transaction(() => {
        prepared(this.db, 'DELETE FROM recovery_codes WHERE user_id = ?').run(userId);
        const insert = prepared(this.db, 'INSERT INTO recovery_codes (user_id, selector, hash) VALUES (?, ?, ?)');
        for (const [i, c] of codes.entries()) insert.run(userId, c.slice(0, SELECTOR_LENGTH), hashes[i]);
      })
      .immediate();
    return codes.map(grouped);
  }

  recoveryCodesLeft(userId: number): number {
    return prepared(this.db, 'SELECT count(*) FROM recovery_codes WHERE user_id = ?').pluck().get(userId) as number;
  }

  /** A recovery code in place of a TOTP code: right ones work once. */
  async useRecoveryCode(userId: number, typed: string): Promise<boolean> {
    const code = canonical(typed, RECOVERY_CODE_LENGTH);
    if (!code) return false;
    const rows = prepared(this.db, 'SELECT id, hash FROM recovery_codes WHERE user_id = ? AND selector = ?').all(
      userId,
      code.slice(0, SELECTOR_LENGTH),
    ) as Array<{ id: number; hash: string }>;
    for (const r of rows) {
      if (await verifyPassword(code, r.hash)) {
        // two logins racing with one code: only the one that deletes the row gets in
        return prepared(this.db, 'DELETE FROM recovery_codes WHERE id = ?').run(r.id).changes === 1;
      }
    }
    return false;
  }
}
