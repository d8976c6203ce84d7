import { afterEach, describe, expect, it } from 'vitest';
import { AuthCache, authCache } from './auth-cache.js';
import { Accounts } from './accounts.js';
import { openDatabase } from './sqlite.js';
import { MAIL_MIGRATIONS } from './store/schema.js';
import { LoginThrottle } from './throttle.js';

describe('AuthCache', () => {
  it('answers the password it verified, against the same stored hash, until it expires', () => {
    let now = 1_000;
    const c = new AuthCache(60_000, () => now);
    c.remember('alice@example.org', '$scrypt$one', 'correct horse');
    expect(c.verified('alice@example.org', '$scrypt$one', 'correct horse')).toBe(true);
    expect(c.verified('alice@example.org', '$scrypt$one', 'correct horsE')).toBe(false);
    expect(c.verified('bob@example.org', '$scrypt$one', 'correct horse')).toBe(false);
    // a new password was set (by any process): the stored hash differs
    expect(c.verified('alice@example.org', '$scrypt$two', 'correct horse')).toBe(false);
    expect(c.verified('alice@example.org', '$scrypt$one', 'correct horse')).toBe(false);
    c.remember('alice@example.org', '$scrypt$one', 'correct horse');
    now += 60_000;
    expect(c.verified('alice@example.org', '$scrypt$one', 'correct horse')).toBe(false);
  });

  it('forget() drops the entry: the next login takes the full check', () => {
    const c = new AuthCache(60_000);
    c.remember('alice@example.org', 'h', 'pw');
    c.forget('alice@example.org');
    expect(c.verified('alice@example.org', 'h', 'pw')).toBe(false);
  });

  it('lifetime 0 keeps nothing', () => {
    const c = new AuthCache(0);
    c.remember('a@b.example', 'h', 'pw');
    expect(c.verified('a@b.example', 'h', 'pw')).toBe(false);
  });
});

describe('Accounts.authenticate with the cache', () => {
  afterEach(() => authCache.setLifetime(0));

  it('a second login with the same password is answered from the cache; a wrong one, a new password or a lockout take the full check', async () => {
    authCache.setLifetime(60_000);
    const db = openDatabase(':memory:', MAIL_MIGRATIONS);
    const a = new Accounts(db);
    a.addDomain('example.org');
    await a.addUser('alice@example.org', 'correct horse');
    const hits = (): number => authCache.stats.hits;
    const before = hits();
    expect(await a.authenticate('alice@example.org', 'correct horse')).not.toBeNull();
    expect(hits()).toBe(before);
    expect(await a.authenticate('Alice@EXAMPLE.org.', 'correct horse')).not.toBeNull();
    expect(hits()).toBe(before + 1);
    // a failure never enters the cache, and does not drop the good entry
    expect(await a.authenticate('alice@example.org', 'wrong horse')).toBeNull();
    expect(await a.authenticate('alice@example.org', 'wrong horse')).toBeNull();
    expect(hits()).toBe(before + 1);
    // postern user passwd (from any process: the row is read at every login)
    await a.setPassword('alice@example.org', 'new password!');
    expect(await a.authenticate('alice@example.org', 'correct horse')).toBeNull();
    expect(await a.authenticate('alice@example.org', 'new password!')).not.toBeNull();
    expect(await a.authenticate('alice@example.org', 'new password!')).not.toBeNull();
    expect(hits()).toBe(before + 2);
    // the account reaches its lockout (counted by any process in mail.db's throttle tables)
    const throttle = new LoginThrottle({ maxFailuresPerIp: 100, maxFailuresPerAccount: 2, lockoutMs: 60_000, failureDelayMs: 0 }, db);
    for (let i = 0; i < 2; i++) throttle.begin('192.0.2.9', 'alice@example.org')?.failed();
    expect(throttle.begin('192.0.2.1', 'alice@example.org')).toBeNull(); // an unknown source, locked out
    // the owner's own address got in before: still let in, but the password is checked in full
    const known = new LoginThrottle({ maxFailuresPerIp: 100, maxFailuresPerAccount: 2, lockoutMs: 60_000, failureDelayMs: 0 }, db);
    db.prepare('INSERT INTO login_sources (account, ip, last) VALUES (?, ?, ?)').run('alice@example.org', '192.0.2.7', Date.now());
    expect(known.begin('192.0.2.7', 'alice@example.org')).not.toBeNull();
    expect(await a.authenticate('alice@example.org', 'new password!')).not.toBeNull();
    expect(hits()).toBe(before + 2);
  });
});
