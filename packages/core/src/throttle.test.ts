import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { MAIL_MIGRATIONS } from './store/schema.js';
import { openDatabase } from './sqlite.js';
import { LoginThrottle } from './throttle.js';

const limits = { maxFailuresPerIp: 10, maxFailuresPerAccount: 3, lockoutMs: 60_000, failureDelayMs: 1 };

describe('LoginThrottle', () => {
  it('counts every spelling of one account against one key', () => {
    const th = new LoginThrottle(limits);
    const spellings = ['u@dom.test', '"u"@dom.test', 'u@dom.test.', ' u@dom.test', 'U@DOM.TEST.'];
    const admitted = spellings.map((name, i) => {
      const a = th.begin(`192.0.2.${i}`, name);
      a?.failed();
      return a !== null;
    });
    expect(admitted).toEqual([true, true, true, false, false]);
  });

  it('reserves before the check: parallel attempts beyond the limit are refused at once', () => {
    const th = new LoginThrottle(limits);
    const attempts = Array.from({ length: 20 }, () => th.begin('192.0.2.1', 'u@dom.test'));
    expect(attempts.filter((a) => a !== null)).toHaveLength(3);
  });

  it('locks out unknown sources of a locked account, not one that logged in before', () => {
    const th = new LoginThrottle(limits);
    th.begin('198.51.100.1', 'u@dom.test')!.succeeded();
    for (let i = 0; i < 3; i++) th.begin('192.0.2.1', 'u@dom.test')!.failed();
    expect(th.begin('192.0.2.1', 'u@dom.test')).toBeNull();
    expect(th.begin('203.0.113.5', 'u@dom.test')).toBeNull();
    const owner = th.begin('::ffff:198.51.100.1', 'U@dom.test');
    expect(owner).not.toBeNull();
    owner!.succeeded();
    // the owner's success gives the attacker no fresh guesses
    expect(th.begin('192.0.2.1', 'u@dom.test')).toBeNull();
  });

  it('remembers the webmail that relayed a login as a known source too', () => {
    const th = new LoginThrottle(limits);
    th.begin('198.51.100.1', 'u@dom.test')!.succeeded('::ffff:127.0.0.1');
    for (let i = 0; i < 3; i++) th.begin('192.0.2.1', 'u@dom.test')!.failed();
    expect(th.begin('127.0.0.1', 'u@dom.test')).not.toBeNull();
    expect(th.begin('127.0.0.2', 'u@dom.test')).toBeNull();
  });

  it('still refuses a source past its own limit, whatever account it names', () => {
    const th = new LoginThrottle({ ...limits, maxFailuresPerIp: 4 });
    th.begin('192.0.2.9', 'a@dom.test')!.succeeded();
    for (const u of ['b', 'c', 'd', 'e']) th.begin('192.0.2.9', `${u}@dom.test`)!.failed();
    expect(th.begin('192.0.2.9', 'a@dom.test')).toBeNull();
  });

  it('forgets failures after the lockout and known sources after their lifetime', () => {
    let now = 1_000_000;
    const th = new LoginThrottle({ ...limits, knownSourceMs: 120_000, now: () => now });
    th.begin('198.51.100.1', 'u@dom.test')!.succeeded();
    for (let i = 0; i < 3; i++) th.begin('192.0.2.1', 'u@dom.test')!.failed();
    expect(th.begin('192.0.2.1', 'u@dom.test')).toBeNull();
    now += 60_001;
    expect(th.begin('192.0.2.1', 'u@dom.test')).not.toBeNull();
    for (let i = 0; i < 3; i++) th.begin('192.0.2.2', 'u@dom.test')?.failed();
    now += 60_000;
    expect(th.begin('198.51.100.1', 'u@dom.test')).toBeNull();
  });

  it('still decides, without reserving, when mail.db cannot be written (a full disk must not stop logins)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'postern-throttle-'));
    const file = join(dir, 'mail.db');
    const rw = openDatabase(file, MAIL_MIGRATIONS);
    const ro = new Database(file, { readonly: true });
    try {
      for (let i = 0; i < 3; i++) new LoginThrottle(limits, rw).begin('192.0.2.1', 'u@dom.test')!.failed();
      const th = new LoginThrottle(limits, ro);
      expect(th.begin('192.0.2.1', 'u@dom.test')).toBeNull();
      const other = th.begin('192.0.2.2', 'v@dom.test');
      expect(other).not.toBeNull();
      expect(() => other!.failed()).not.toThrow();
      expect(() => th.begin('192.0.2.2', 'v@dom.test')!.succeeded()).not.toThrow();
    } finally {
      ro.close();
      rw.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('shares one state between two connections to one database (two processes)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'postern-throttle-'));
    const dbs = [openDatabase(join(dir, 'mail.db'), MAIL_MIGRATIONS), openDatabase(join(dir, 'mail.db'), MAIL_MIGRATIONS)];
    try {
      const [one, two] = dbs.map((db) => new LoginThrottle(limits, db)) as [LoginThrottle, LoginThrottle];
      for (let i = 0; i < 3; i++) (i % 2 ? one : two).begin('192.0.2.1', 'u@dom.test')!.failed();
      expect(one.begin('192.0.2.1', 'u@dom.test')).toBeNull();
      expect(two.begin('192.0.2.1', 'u@dom.test')).toBeNull();
    } finally {
      for (const db of dbs) db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
