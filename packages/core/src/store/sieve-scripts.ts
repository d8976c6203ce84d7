/**
 * Sieve scripts in mail.db (RFC 5804's model: named scripts per user, at most one active), and
 * what their runs remember: vacation replies sent (RFC 5230 §4.2: one per sender per period),
 * duplicate ids (RFC 7352), and the last run-time error of the active script, for the user to see.
 *
 * Invariants:
 * - Every write is one IMMEDIATE transaction; quotas (script count, script size) are checked
 *   inside it, so two concurrent PUTSCRIPTs cannot pass them together.
 * - At most one script per user is active (a partial unique index says so).
 * - The API is async and returns camelCase records, the shape the store's other backends will serve.
 */
import { prepared, type Db } from '../sqlite.js';
import { StoreError } from './store.js';
export { SIEVE_SCHEMA } from './sieve-schema.js';

export interface SieveScriptInfo {
  name: string;
  active: boolean;
  size: number;
  updated: number;
  lastError: string | null;
  lastErrorAt: number | null;
}

export interface SieveScript extends SieveScriptInfo {
  content: string;
}

export interface SieveQuota {
  maxScripts: number;
  maxScriptSize: number;
}

interface Row {
  name: string;
  content?: string;
  active: number;
  size: number;
  updated: number;
  last_error: string | null;
  last_error_at: number | null;
}

const info = (r: Row): SieveScriptInfo => ({
  name: r.name,
  active: r.active === 1,
  size: r.size,
  updated: r.updated,
  lastError: r.last_error,
  lastErrorAt: r.last_error_at,
});

const COLUMNS = 'name, active, length(CAST(content AS BLOB)) AS size, updated, last_error, last_error_at';

export class SieveScripts {
  constructor(
    private readonly db: Db,
    private readonly now: () => number = Date.now,
  ) {}

  async list(userId: number): Promise<SieveScriptInfo[]> {
    return (prepared(this.db, `SELECT ${COLUMNS} FROM sieve_scripts WHERE user_id = ? ORDER BY name`).all(userId) as Row[]).map(info);
  }

  async get(userId: number, name: string): Promise<SieveScript | null> {
    const r = prepared(this.db, `SELECT ${COLUMNS}, content FROM sieve_scripts WHERE user_id = ? AND name = ?`).get(userId, name) as Row | undefined;
    return r ? { ...info(r), content: r.content! } : null;
  }

  async active(userId: number): Promise<SieveScript | null> {
    const r = prepared(this.db, `SELECT ${COLUMNS}, content FROM sieve_scripts WHERE user_id = ? AND active = 1`).get(userId) as Row | undefined;
    return r ? { ...info(r), content: r.content! } : null;
  }

  /** Whether a PUTSCRIPT of `size` bytes under `name` would fit (RFC 5804 HAVESPACE). */
  async haveSpace(userId: number, name: string, size: number, quota: SieveQuota): Promise<'ok' | 'maxsize' | 'maxscripts'> {
    if (size > quota.maxScriptSize) return 'maxsize';
    const exists = prepared(this.db, 'SELECT 1 FROM sieve_scripts WHERE user_id = ? AND name = ?').get(userId, name) !== undefined;
    const count = prepared(this.db, 'SELECT count(*) FROM sieve_scripts WHERE user_id = ?').pluck().get(userId) as number;
    return !exists && count >= quota.maxScripts ? 'maxscripts' : 'ok';
  }

  /** Stores (or replaces) a script; throws StoreError OVERQUOTA past the quota. */
  async put(userId: number, name: string, content: string, quota: SieveQuota): Promise<void> {
    this.db
      .transaction(() => {
        const size = Buffer.byteLength(content);
        if (size > quota.maxScriptSize) throw new StoreError('OVERQUOTA', `the script is ${size} bytes, more than ${quota.maxScriptSize}`);
        const exists = prepared(this.db, 'SELECT 1 FROM sieve_scripts WHERE user_id = ? AND name = ?').get(userId, name) !== undefined;
        if (!exists) {
          const count = prepared(this.db, 'SELECT count(*) FROM sieve_scripts WHERE user_id = ?').pluck().get(userId) as number;
          if (count >= quota.maxScripts) throw new StoreError('OVERQUOTA', `at most ${quota.maxScripts} scripts`);
        }
        prepared(
          this.db,
          `INSERT INTO sieve_scripts (user_id, name, content, updated) VALUES (?, ?, ?, ?)
           ON CONFLICT (user_id, name) DO UPDATE SET content = excluded.content, updated = excluded.updated, last_error = NULL, last_error_at = NULL`,
        ).run(userId, name, content, this.now());
      })
      .immediate();
  }

  /** Makes `name` the active script, or none with null; throws NONEXISTENT for an unknown name. */
  async setActive(userId: number, name: string | null): Promise<void> {
    this.db
      .transaction(() => {
        if (name !== null && prepared(this.db, 'SELECT 1 FROM sieve_scripts WHERE user_id = ? AND name = ?').get(userId, name) === undefined) {
          throw new StoreError('NONEXISTENT', `no script "${name}"`);
        }
        prepared(this.db, 'UPDATE sieve_scripts SET active = 0 WHERE user_id = ? AND active = 1').run(userId);
        if (name !== null) prepared(this.db, 'UPDATE sieve_scripts SET active = 1 WHERE user_id = ? AND name = ?').run(userId, name);
      })
      .immediate();
  }

  /** RFC 5804 §2.10: the active script cannot be deleted (StoreError CANNOT). */
  async delete(userId: number, name: string): Promise<void> {
    this.db
      .transaction(() => {
        const r = prepared(this.db, 'SELECT active FROM sieve_scripts WHERE user_id = ? AND name = ?').pluck().get(userId, name) as number | undefined;
        if (r === undefined) throw new StoreError('NONEXISTENT', `no script "${name}"`);
        if (r === 1) throw new StoreError('CANNOT', `"${name}" is the active script`);
        prepared(this.db, 'DELETE FROM sieve_scripts WHERE user_id = ? AND name = ?').run(userId, name);
      })
      .immediate();
  }

  async rename(userId: number, from: string, to: string): Promise<void> {
    this.db
      .transaction(() => {
        if (prepared(this.db, 'SELECT 1 FROM sieve_scripts WHERE user_id = ? AND name = ?').get(userId, from) === undefined) {
          throw new StoreError('NONEXISTENT', `no script "${from}"`);
        }
        if (prepared(this.db, 'SELECT 1 FROM sieve_scripts WHERE user_id = ? AND name = ?').get(userId, to) !== undefined) {
          throw new StoreError('ALREADYEXISTS', `a script "${to}" exists`);
        }
        prepared(this.db, 'UPDATE sieve_scripts SET name = ?, updated = ? WHERE user_id = ? AND name = ?').run(to, this.now(), userId, from);
      })
      .immediate();
  }

  /** The active script's run-time error (null clears it). */
  async recordError(userId: number, name: string, error: string | null): Promise<void> {
    prepared(this.db, 'UPDATE sieve_scripts SET last_error = ?, last_error_at = ? WHERE user_id = ? AND name = ?').run(
      error,
      error === null ? null : this.now(),
      userId,
      name,
    );
  }

  /** Whether a vacation reply with this key went out within its period. */
  async vacationAnswered(userId: number, key: string): Promise<boolean> {
    return prepared(this.db, 'SELECT 1 FROM sieve_vacation WHERE user_id = ? AND key = ? AND expires > ?').get(userId, key, this.now()) !== undefined;
  }

  async recordVacation(userId: number, key: string, seconds: number): Promise<void> {
    prepared(
      this.db,
      'INSERT INTO sieve_vacation (user_id, key, expires) VALUES (?, ?, ?) ON CONFLICT (user_id, key) DO UPDATE SET expires = excluded.expires',
    ).run(userId, key, this.now() + seconds * 1000);
  }

  /** RFC 7352: a duplicate id seen before and not expired. */
  duplicateSeen(userId: number, id: string): boolean {
    return prepared(this.db, 'SELECT 1 FROM sieve_duplicates WHERE user_id = ? AND id = ? AND expires > ?').get(userId, id, this.now()) !== undefined;
  }

  async recordDuplicates(userId: number, ids: ReadonlyArray<{ id: string; seconds: number }>): Promise<void> {
    if (ids.length === 0) return;
    this.db
      .transaction(() => {
        for (const d of ids) {
          prepared(
            this.db,
            'INSERT INTO sieve_duplicates (user_id, id, expires) VALUES (?, ?, ?) ON CONFLICT (user_id, id) DO UPDATE SET expires = excluded.expires',
          ).run(userId, d.id, this.now() + d.seconds * 1000);
        }
      })
      .immediate();
  }

  /** Drops expired vacation and duplicate records. */
  async prune(): Promise<void> {
    const now = this.now();
    prepared(this.db, 'DELETE FROM sieve_vacation WHERE expires <= ?').run(now);
    prepared(this.db, 'DELETE FROM sieve_duplicates WHERE expires <= ?').run(now);
  }
}
