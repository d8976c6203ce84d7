/**
 * Opening SQLite databases the one way Postern does: WAL, `synchronous=FULL` (a commit is on
 * disk before we acknowledge mail), foreign keys on, a busy timeout for the other processes, and
 * numbered migrations tracked in `PRAGMA user_version`.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

export type Db = Database.Database;

/** A migration is SQL (or a function) that moves the schema from version i to i+1. */
export type Migration = string | ((db: Db) => void);

export function openDatabase(file: string, migrations: readonly Migration[]): Db {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 10000');
  try {
    migrate(db, migrations);
  } catch (err) {
    // no connection left open on a file an upgrade's rollback replaces (upgrade.ts)
    db.close();
    throw err;
  }
  return db;
}

/**
 * A second connection to `db`'s file (already migrated) with a weaker `synchronous`: for state
 * whose loss in a power cut is harmless (the login throttle). WAL mode is the file's, shared.
 */
export function openSibling(db: Db, synchronous: 'NORMAL' | 'FULL'): Db {
  const sibling = new Database(db.name);
  sibling.pragma(`synchronous = ${synchronous}`);
  sibling.pragma('foreign_keys = ON');
  sibling.pragma('busy_timeout = 10000');
  return sibling;
}

const compiled = new WeakMap<Db, Map<string, Database.Statement>>();

/**
 * `db.prepare(sql)` compiled once per connection, for the hot paths (delivery, the queue):
 * compiling was 4-5 % of a 100 KB delivery in each app (bench/compare profiles). The statement
 * comes back in plain-rows mode whatever an earlier caller chose, so it must be used at once
 * (`prepared(db, sql).pluck().get(...)`), never held across another call that may ask for the
 * same SQL (a held statement would have its mode reset under it) and never `iterate()`d.
 * Only for fixed SQL texts: the cache is not bounded.
 */
export function prepared<R = unknown, P extends unknown[] = unknown[]>(db: Db, sql: string): Database.Statement<P, R> {
  return cachedStatement(db, sql) as unknown as Database.Statement<P, R>;
}

/**
 * The statement `prepared()` hands out, untyped. `prepared<Row>(...)` declares what a row of that
 * SQL is (after `.pluck()`: the value), the one place the store's row types meet better-sqlite3.
 */
function cachedStatement(db: Db, sql: string): Database.Statement {
  let cache = compiled.get(db);
  if (!cache) {
    cache = new Map();
    compiled.set(db, cache);
  }
  let stmt = cache.get(sql);
  if (!stmt) {
    stmt = db.prepare(sql);
    cache.set(sql, stmt);
  } else if (stmt.reader) stmt.pluck(false).expand(false).raw(false);
  return stmt;
}

/**
 * Applies what is missing. Several apps open the same database at the same moment (`postern
 * start`), so each step re-reads the version under the write lock (BEGIN IMMEDIATE) and does
 * nothing when another process got there first.
 */
function migrate(db: Db, migrations: readonly Migration[]): void {
  const version = (): number => db.pragma('user_version', { simple: true }) as number;
  const current = version();
  if (current > migrations.length) {
    throw new Error(`database ${db.name} has schema version ${current}, newer than this Postern (${migrations.length})`);
  }
  for (let v = current; v < migrations.length; v++) {
    const step = migrations[v]!;
    db.transaction(() => {
      if (version() > v) return;
      if (typeof step === 'string') db.exec(step);
      else step(db);
      db.pragma(`user_version = ${v + 1}`);
    }).immediate();
  }
}
