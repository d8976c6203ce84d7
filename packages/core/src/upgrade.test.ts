import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase } from './sqlite.js';
import { migrationStatus, migrationSummary, UpgradeError, upgradeWithBackup } from './upgrade.js';

const V1 = ['CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)'];
const QUEUE = ['CREATE TABLE q (id INTEGER PRIMARY KEY)'];

function setup(): { dataDir: string; backup: { dir: string; every: ''; keep: number; passphrase_file: string } } {
  const dir = mkdtempSync(join(tmpdir(), 'postern-upgrade-'));
  const config = { dataDir: join(dir, 'data'), backup: { dir: join(dir, 'backups'), every: '' as const, keep: 7, passphrase_file: '' } };
  const db = openDatabase(join(config.dataDir, 'mail.db'), V1);
  db.prepare("INSERT INTO notes (text) VALUES ('kept')").run();
  db.close();
  openDatabase(join(config.dataDir, 'queue.db'), QUEUE).close();
  return config;
}

const rows = (dataDir: string): unknown[] => {
  const db = openDatabase(join(dataDir, 'mail.db'), V1);
  try {
    return db.prepare('SELECT * FROM notes').all();
  } finally {
    db.close();
  }
};

describe('upgradeWithBackup', () => {
  it('lists pending migrations with what they make', () => {
    const config = setup();
    const lists = { mail: [...V1, 'CREATE TABLE tags (id INTEGER); CREATE INDEX tags_id ON tags (id)'], queue: QUEUE };
    const [mail, queue] = migrationStatus(config, lists);
    expect(mail).toMatchObject({ name: 'mail.db', current: 1, latest: 2, pending: [{ number: 2, summary: '+tags +tags_id' }] });
    expect(queue!.pending).toEqual([]);
    expect(migrationSummary('ALTER TABLE x ADD COLUMN y')).toBe('~x');
  });

  it('applies them after a copy, and does nothing when nothing is pending', async () => {
    const config = setup();
    const lists = { mail: [...V1, 'ALTER TABLE notes ADD COLUMN tag TEXT'], queue: QUEUE };
    const dir = await upgradeWithBackup(config, lists);
    expect(dir).not.toBeNull();
    expect(existsSync(join(dir!, 'mail.db'))).toBe(true);
    expect(migrationStatus(config, lists)[0]!.current).toBe(2);
    expect(await upgradeWithBackup(config, lists)).toBeNull();
  });

  it('puts the databases back as they were when a migration fails, and says so', async () => {
    const config = setup();
    // the second step works, the third fails: without the rollback the file would be left at 2
    const lists = { mail: [...V1, 'ALTER TABLE notes ADD COLUMN tag TEXT', 'CREATE TABLE notes (x)'], queue: [...QUEUE, 'CREATE TABLE q2 (id INTEGER)'] };
    const err = await upgradeWithBackup(config, lists).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpgradeError);
    expect((err as Error).message).toMatch(/upgrading mail\.db from schema 1 to 3 failed: table notes already exists/);
    expect((err as Error).message).toMatch(/put back as they were/);
    const status = migrationStatus(config, lists);
    expect(status.map((s) => s.current)).toEqual([1, 1]);
    expect(rows(config.dataDir)).toEqual([{ id: 1, text: 'kept' }]);
    expect(readdirSync(config.backup.dir)).toHaveLength(1);
  });

  it('refuses a database newer than this program', async () => {
    const config = setup();
    await expect(upgradeWithBackup(config, { mail: [], queue: QUEUE })).rejects.toThrow(/newer than this Postern/);
  });
});
