import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase, prepared } from './sqlite.js';

describe('openDatabase', () => {
  it('runs migrations once when several processes open a new database together', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'postern-sqlite-')), 'race.db');
    // the built module: `npm test` builds before testing
    const sqlite = new URL('../dist/sqlite.js', import.meta.url).pathname;
    // Each child opens the database with the same two migrations, as `postern start` does.
    const child = (): Promise<number> =>
      new Promise((resolve) => {
        const p = spawn(
          process.execPath,
          [
            '--input-type=module',
            '-e',
            `
          import { openDatabase } from ${JSON.stringify(sqlite)};
          const db = openDatabase(${JSON.stringify(file)}, ['CREATE TABLE t (x INTEGER)', 'CREATE TABLE u (y INTEGER)']);
          db.close();`,
          ],
          { stdio: 'inherit' },
        );
        p.on('exit', (code) => resolve(code ?? -1));
      });
    const codes = await Promise.all(Array.from({ length: 6 }, child));
    expect(codes).toEqual([0, 0, 0, 0, 0, 0]);
    const db = openDatabase(file, ['CREATE TABLE t (x INTEGER)', 'CREATE TABLE u (y INTEGER)']);
    expect(db.pragma('user_version', { simple: true })).toBe(2);
    db.close();
  });
});

describe('prepared', () => {
  it('compiles a SQL text once and hands it out in plain-rows mode whatever the last caller chose', () => {
    const db = openDatabase(':memory:', ["CREATE TABLE t (a INTEGER, b TEXT); INSERT INTO t VALUES (1, 'x');"]);
    const sql = 'SELECT a, b FROM t';
    expect(prepared(db, sql).pluck().get()).toBe(1);
    expect(prepared(db, sql)).toBe(prepared(db, sql));
    expect(prepared(db, sql).get()).toEqual({ a: 1, b: 'x' });
    expect(prepared(db, sql).raw().get()).toEqual([1, 'x']);
    expect(prepared(db, sql).all()).toEqual([{ a: 1, b: 'x' }]);
    // Statements that return no data have no mode; they are cached as well.
    prepared(db, 'INSERT INTO t VALUES (?, ?)').run(2, 'y');
    expect(prepared(db, 'SELECT count(*) FROM t').pluck().get()).toBe(2);
    db.close();
  });
});
