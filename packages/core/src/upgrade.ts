/**
 * Upgrades that cannot hurt: before migrations are applied to mail.db and queue.db, both are
 * copied (the online backup API, as `postern backup` does); if any migration fails, the copies
 * are put back and the error says what happened and where the copies are. `postern start` runs
 * this before any app opens a database; `postern migrate --status` lists what is pending.
 */
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { snapshotDatabase } from './backup.js';
import type { Config } from './config.js';
import { mailDbPath } from './maildb.js';
import { QUEUE_MIGRATIONS } from './queue/schema.js';
import { queueDbPath } from './queue/store.js';
import { openDatabase, type Migration } from './sqlite.js';
import { MAIL_MIGRATIONS } from './store/schema.js';

export interface DatabaseStatus {
  name: 'mail.db' | 'queue.db';
  file: string;
  exists: boolean;
  current: number;
  latest: number;
  pending: Array<{ number: number; summary: string }>;
}

export class UpgradeError extends Error {
  constructor(
    message: string,
    readonly backupDir: string,
  ) {
    super(message);
    this.name = 'UpgradeError';
  }
}

/** What a migration does, from its SQL: "creates import_progress, import_seen". */
export function migrationSummary(m: Migration): string {
  if (typeof m !== 'string') return 'a data migration (code)';
  const made = [...m.matchAll(/\b(CREATE|ALTER|DROP)\s+(?:VIRTUAL\s+)?(?:TABLE|INDEX|TRIGGER)\s+(?:IF\s+(?:NOT\s+)?EXISTS\s+)?(\w+)/gi)].map(
    (x) => `${x[1]!.toUpperCase() === 'CREATE' ? '+' : x[1]!.toUpperCase() === 'DROP' ? '-' : '~'}${x[2]}`,
  );
  return made.length ? made.join(' ') : (m.trim().split('\n')[0] ?? '').slice(0, 80);
}

function versionOf(file: string): number {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return db.pragma('user_version', { simple: true }) as number;
  } finally {
    db.close();
  }
}

export interface MigrationLists {
  mail: readonly Migration[];
  queue: readonly Migration[];
}

const DEFAULT_LISTS: MigrationLists = { mail: MAIL_MIGRATIONS, queue: QUEUE_MIGRATIONS };

export function migrationStatus(config: Pick<Config, 'dataDir'>, lists: MigrationLists = DEFAULT_LISTS): DatabaseStatus[] {
  return (
    [
      ['mail.db', mailDbPath(config), lists.mail],
      ['queue.db', queueDbPath(config), lists.queue],
    ] as const
  ).map(([name, file, list]) => {
    const exists = existsSync(file);
    const current = exists ? versionOf(file) : 0;
    return {
      name,
      file,
      exists,
      current,
      latest: list.length,
      pending: list.slice(current).map((m, i) => ({ number: current + i + 1, summary: migrationSummary(m) })),
    };
  });
}

async function putBack(copy: string, file: string): Promise<void> {
  for (const f of [file, `${file}-wal`, `${file}-shm`, `${file}-journal`]) await rm(f, { force: true });
  await copyFile(copy, file);
}

/**
 * Applies pending migrations of existing databases with a backup first (a new installation's
 * empty databases need none: the apps create them). Returns the backup directory, or null when
 * nothing was pending. Throws UpgradeError after putting the databases back when one fails.
 */
export async function upgradeWithBackup(config: Pick<Config, 'dataDir' | 'backup'>, lists: MigrationLists = DEFAULT_LISTS): Promise<string | null> {
  const status = migrationStatus(config, lists).filter((s) => s.exists && s.pending.length > 0);
  for (const s of migrationStatus(config, lists)) {
    if (s.exists && s.current > s.latest)
      throw new UpgradeError(
        `${s.file} has schema version ${s.current}, newer than this Postern (${s.latest}): run the newer Postern, or restore a backup`,
        '',
      );
  }
  if (status.length === 0) return null;
  const stamp = new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  const dir = join(config.backup.dir, `pre-upgrade-${stamp}`);
  await mkdir(dir, { recursive: true });
  // every database with something pending is copied before any is touched
  for (const s of status) await snapshotDatabase(s.file, join(dir, s.name));
  let step = '';
  try {
    for (const s of status) {
      step = `${s.name} from schema ${s.current} to ${s.latest}`;
      openDatabase(s.file, s.name === 'mail.db' ? lists.mail : lists.queue).close();
    }
  } catch (err) {
    for (const s of status) await putBack(join(dir, s.name), s.file);
    const now = status.map((s) => `${s.name} schema ${versionOf(s.file)}`).join(', ');
    throw new UpgradeError(
      `upgrading ${step} failed: ${(err as Error).message}. The databases were put back as they were before the upgrade (${now}), from the copies in ${dir}. Nothing started; run the earlier Postern, or report this with the message above.`,
      dir,
    );
  }
  return dir;
}
