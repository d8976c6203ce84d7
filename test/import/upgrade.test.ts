/**
 * An upgrade whose migration fails: `postern migrate --status` lists what is pending, `postern
 * start` copies the databases, tries, puts them back, and refuses to start with a message that
 * says what failed and where the copies are. The data is as it was.
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IMPORT_STATE_SCHEMA, MAIL_MIGRATIONS, openDatabase } from '@postern/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInstance, type Instance } from '../lib/instance.js';

const bin = fileURLToPath(new URL('../../apps/cli/bin/postern.js', import.meta.url));
let a: Instance;
// the schema just before the import tables, with a table of that name made by hand: that migration must fail
const before = MAIL_MIGRATIONS.indexOf(IMPORT_STATE_SCHEMA);

function postern(args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [bin, '--config', a.configFile, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

const file = (): string => join(a.config.dataDir, 'mail.db');

beforeAll(async () => {
  a = await createInstance({ domain: 'c.test', apps: [] });
  await a.start();
  a.db().close();
  for (const suffix of ['', '-wal', '-shm']) rmSync(`${file()}${suffix}`, { force: true });
  const db = openDatabase(file(), MAIL_MIGRATIONS.slice(0, before));
  db.exec("INSERT INTO domains (name, created) VALUES ('kept.test', 1); CREATE TABLE import_progress (hand_made INTEGER)");
  db.close();
});
afterAll(async () => {
  await a?.stop();
});

describe('upgrades', () => {
  it('postern migrate --status lists the pending migrations', () => {
    const r = postern(['migrate', '--status']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(new RegExp(`mail\\.db\\s+${before}\\s+${MAIL_MIGRATIONS.length}\\s+${MAIL_MIGRATIONS.length - before}`));
    expect(r.out).toContain(`mail.db ${before + 1}: +import_progress +import_seen`);
  });

  it('a failing migration leaves the data as it was and postern start refusing, with the reason', () => {
    const r = postern(['start']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(new RegExp(`upgrading mail\\.db from schema ${before} to ${MAIL_MIGRATIONS.length} failed: table import_progress already exists`));
    expect(r.err).toMatch(/put back as they were before the upgrade .* from the copies in .*pre-upgrade-/);
    expect(r.out).not.toMatch(/Postern is running/);
    const db = openDatabase(file(), MAIL_MIGRATIONS.slice(0, before));
    try {
      expect(db.pragma('user_version', { simple: true })).toBe(before);
      expect(db.prepare("SELECT name FROM domains WHERE name = 'kept.test'").pluck().get()).toBe('kept.test');
      expect(db.prepare('SELECT name FROM pragma_table_info(?)').pluck().all('import_progress')).toEqual(['hand_made']);
    } finally {
      db.close();
    }
  });
});
