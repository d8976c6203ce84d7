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
  migrate(db, migrations);
  return db;
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
