import { generateSync } from 'otplib';
import { describe, expect, it } from 'vitest';
import { Accounts } from './accounts.js';
import { authCache } from './auth-cache.js';
import { LoginThrottle } from './throttle.js';
import { openDatabase } from './sqlite.js';
import { MAIL_MIGRATIONS } from './store/schema.js';

async function setup(): Promise<{ a: Accounts; id: number }> {
  const a = new Accounts(openDatabase(':memory:', MAIL_MIGRATIONS));
  a.addDomain('example.org');
  const u = await a.addUser('alice@example.org', 'correct horse');
  return { a, id: u.id };
}

describe('app passwords', () => {
  it('work for the protocols they name, in any case and grouping, until revoked', async () => {
    const { a, id } = await setup();
    const { secret, appPassword } = await a.credentials.addAppPassword(id, 'phone', ['imap', 'smtp']);
    expect(secret).toMatch(/^[a-z]{4} [a-z]{4} [a-z]{4} [a-z]{4}$/);
    const typed = secret.toUpperCase().replace(/ /g, '-');
    expect((await a.authenticate('alice@example.org', typed, { protocol: 'imap' }))?.address).toBe('alice@example.org');
    expect(await a.authenticate('alice@example.org', secret, { protocol: 'smtp' })).not.toBeNull();
    expect(await a.authenticate('alice@example.org', secret, { protocol: 'pop3' })).toBeNull();
    expect(await a.authenticate('alice@example.org', secret, { protocol: 'webmail' })).toBeNull();
    expect(await a.authenticate('alice@example.org', secret)).toBeNull();
    expect(a.credentials.listAppPasswords(id)).toEqual([{ id: appPassword.id, name: 'phone', protocols: ['imap', 'smtp'], created: appPassword.created }]);
    expect(a.credentials.revokeAppPassword(id, 'phone')).toBe(1);
    expect(await a.authenticate('alice@example.org', secret, { protocol: 'imap' })).toBeNull();
    // the account password still works while two-factor login is off
    expect(await a.authenticate('alice@example.org', 'correct horse', { protocol: 'imap' })).not.toBeNull();
  });

  it('keep working from the authentication cache, and stop when revoked', async () => {
    const { a, id } = await setup();
    authCache.setLifetime(60_000);
    try {
      const { secret } = await a.credentials.addAppPassword(id, 'laptop', []);
      expect(await a.authenticate('alice@example.org', secret, { protocol: 'pop3' })).not.toBeNull();
      const hits = authCache.stats.hits;
      expect(await a.authenticate('alice@example.org', secret, { protocol: 'managesieve' })).not.toBeNull();
      expect(authCache.stats.hits).toBe(hits + 1);
      a.credentials.revokeAppPassword(id, 'laptop');
      expect(await a.authenticate('alice@example.org', secret, { protocol: 'pop3' })).toBeNull();
    } finally {
      authCache.setLifetime(0);
    }
  });

  it('are the only way in for devices once two-factor login is on', async () => {
    const { a, id } = await setup();
    const { secret: totpSecret } = a.credentials.beginTotp(id, 'alice@example.org', 'Postern');
    expect(a.credentials.totpEnabled(id)).toBe(false);
    expect(await a.credentials.confirmTotp(id, '000000')).toBeNull();
    const codes = await a.credentials.confirmTotp(id, generateSync({ secret: totpSecret }));
    expect(codes).toHaveLength(10);
    expect(a.credentials.totpEnabled(id)).toBe(true);
    expect(await a.authenticate('alice@example.org', 'correct horse', { protocol: 'imap' })).toBeNull();
    expect(await a.authenticate('alice@example.org', 'correct horse', { protocol: 'webmail' })).not.toBeNull();
    const { secret } = await a.credentials.addAppPassword(id, 'phone', []);
    expect(await a.authenticate('alice@example.org', secret, { protocol: 'imap' })).not.toBeNull();
    a.credentials.disableTotp(id);
    expect(await a.authenticate('alice@example.org', 'correct horse', { protocol: 'imap' })).not.toBeNull();
  });

  it('session credentials expire and are never listed', async () => {
    const { a, id } = await setup();
    const { secret } = await a.credentials.addAppPassword(id, 'webmail', ['imap', 'smtp'], 'session', Date.now() - 1);
    expect(a.credentials.listAppPasswords(id)).toEqual([]);
    expect(await a.authenticate('alice@example.org', secret, { protocol: 'imap' })).toBeNull();
  });
});

describe('TOTP and recovery codes', () => {
  it('accepts a code once, and each recovery code once', async () => {
    const { a, id } = await setup();
    const { secret, uri } = a.credentials.beginTotp(id, 'alice@example.org', 'Postern');
    expect(uri).toMatch(/^otpauth:\/\/totp\/Postern:alice%40example\.org\?/);
    const codes = (await a.credentials.confirmTotp(id, generateSync({ secret })))!;
    // the code that confirmed enrolment is used up (RFC 6238 §5.2)
    expect(a.credentials.useTotpCode(id, generateSync({ secret }))).toBe(false);
    expect(a.credentials.useTotpCode(id, 'abcdef')).toBe(false);
    expect(await a.credentials.useRecoveryCode(id, codes[0]!.toUpperCase())).toBe(true);
    expect(await a.credentials.useRecoveryCode(id, codes[0]!)).toBe(false);
    expect(await a.credentials.useRecoveryCode(id, 'aaaa bbbb cccc')).toBe(false);
    expect(a.credentials.recoveryCodesLeft(id)).toBe(9);
  });
});

describe('last logins', () => {
  it('are written with each success the throttle hears of, per protocol and source', async () => {
    const db = openDatabase(':memory:', MAIL_MIGRATIONS);
    const a = new Accounts(db);
    a.addDomain('example.org');
    await a.addUser('alice@example.org', 'correct horse');
    const throttle = new LoginThrottle({ maxFailuresPerIp: 10, maxFailuresPerAccount: 10, lockoutMs: 60_000, failureDelayMs: 0 }, db);
    throttle.begin('::ffff:192.0.2.1', 'Alice@example.org', 'imap')!.succeeded();
    throttle.begin('192.0.2.2', 'alice@example.org', 'pop3')!.failed();
    throttle.begin('192.0.2.3', 'alice@example.org', 'webmail')!.succeeded(undefined, { remember: false });
    expect(a.lastLogins('alice@example.org').map((l) => [l.protocol, l.ip])).toEqual([['imap', '192.0.2.1']]);
  });
});
