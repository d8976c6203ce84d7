import { describe, expect, it } from 'vitest';
import { Accounts, AccountError } from './accounts.js';
import { parseAddress } from './address.js';
import { hashPassword, verifyPassword } from './password.js';
import { openDatabase } from './sqlite.js';
import { MAIL_MIGRATIONS } from './store/schema.js';

function accounts(): Accounts {
  return new Accounts(openDatabase(':memory:', MAIL_MIGRATIONS));
}

const users = (r: ReturnType<Accounts['resolve']>): string[] => (r.kind === 'local' ? r.users.map((u) => u.address) : [r.kind]);

describe('accounts', () => {
  it('resolves users, aliases, plus-addressing and catch-all', async () => {
    const a = accounts();
    a.addDomain('Example.org');
    await a.addUser('alice@example.org', 'correct horse');
    await a.addUser('bob@example.org', 'battery staple');
    a.addAlias('team@example.org', ['alice@example.org', 'bob@example.org']);
    a.addAlias('postmaster@example.org', ['alice@example.org']);
    const r = (s: string): string[] => users(a.resolve(parseAddress(s)));
    expect(r('alice@example.org')).toEqual(['alice@example.org']);
    expect(r('ALICE@EXAMPLE.ORG')).toEqual(['alice@example.org']);
    expect(r('alice+news@example.org')).toEqual(['alice@example.org']);
    expect(r('team@example.org')).toEqual(['alice@example.org', 'bob@example.org']);
    expect(r('team+x@example.org')).toEqual(['alice@example.org', 'bob@example.org']);
    expect(r('nobody@example.org')).toEqual(['unknown-user']);
    expect(r('alice@elsewhere.org')).toEqual(['not-local']);
    a.setCatchAll('example.org', 'bob@example.org');
    expect(r('nobody@example.org')).toEqual(['bob@example.org']);
    a.setCatchAll('example.org', null);
    expect(r('nobody@example.org')).toEqual(['unknown-user']);
    a.removeAlias('team@example.org', 'bob@example.org');
    expect(r('team@example.org')).toEqual(['alice@example.org']);
    expect(a.listAliases()).toEqual([
      { address: 'postmaster@example.org', targets: ['alice@example.org'] },
      { address: 'team@example.org', targets: ['alice@example.org'] },
    ]);
  });

  it('knows which addresses a user may send as', async () => {
    const a = accounts();
    a.addDomain('example.org');
    const alice = await a.addUser('alice@example.org', 'correct horse');
    a.addAlias('sales@example.org', ['alice@example.org']);
    expect(a.maySendAs(alice, 'alice@example.org')).toBe(true);
    expect(a.maySendAs(alice, 'Alice+lists@Example.org')).toBe(true);
    expect(a.maySendAs(alice, 'sales@example.org')).toBe(true);
    expect(a.maySendAs(alice, 'bob@example.org')).toBe(false);
    expect(a.maySendAs(alice, 'not an address')).toBe(false);
  });

  it('authenticates with salted slow hashes that never contain the password', async () => {
    const a = accounts();
    a.addDomain('example.org');
    await a.addUser('alice@example.org', 'correct horse');
    expect((await a.authenticate('alice@example.org', 'correct horse'))?.address).toBe('alice@example.org');
    expect(await a.authenticate('alice@example.org', 'wrong horse')).toBeNull();
    expect(await a.authenticate('nobody@example.org', 'correct horse')).toBeNull();
    expect(await a.authenticate('garbage', 'x')).toBeNull();
    const h1 = await hashPassword('correct horse');
    const h2 = await hashPassword('correct horse');
    expect(h1).not.toBe(h2);
    expect(h1).not.toContain('correct');
    expect(h1).toMatch(/^\$scrypt\$N=16384,r=8,p=1\$/);
    expect(await verifyPassword('correct horse', h1)).toBe(true);
    expect(await verifyPassword('correct horsE', h1)).toBe(false);
    expect(await verifyPassword('x', 'not a hash')).toBe(false);
    await a.setPassword('alice@example.org', 'new password!');
    expect(await a.authenticate('alice@example.org', 'correct horse')).toBeNull();
    expect(await a.authenticate('alice@example.org', 'new password!')).not.toBeNull();
  });

  it('refuses what does not make sense', async () => {
    const a = accounts();
    a.addDomain('example.org');
    await expect(a.addUser('alice@other.org', 'long enough')).rejects.toThrow(AccountError);
    await expect(a.addUser('alice@example.org', 'short')).rejects.toThrow(/8 characters/);
    await a.addUser('alice@example.org', 'long enough');
    await expect(a.addUser('ALICE@example.org', 'long enough')).rejects.toThrow(/exists/);
    expect(() => a.addDomain('EXAMPLE.org')).toThrow(/exists/);
    expect(() => a.addAlias('alice@example.org', ['alice@example.org'])).toThrow(/is a user/);
    expect(() => a.addAlias('x@example.org', ['ghost@example.org'])).toThrow(/not a local user/);
    expect(() => a.removeAlias('none@example.org')).toThrow(AccountError);
  });

  it('removes users with their mailboxes', async () => {
    const a = accounts();
    a.addDomain('example.org');
    await a.addUser('alice@example.org', 'long enough');
    a.removeUser('alice@example.org');
    expect(a.findUser('alice@example.org')).toBeNull();
    a.removeDomain('example.org');
    expect(a.listDomains()).toEqual([]);
  });
});

describe("the administrator's default aliases and the host name", () => {
  it('root, postmaster, abuse and MAILER-DAEMON reach the admin unless a user or alias takes them', async () => {
    const a = new Accounts(openDatabase(':memory:', MAIL_MIGRATIONS), { hostname: 'Mail.Example.org', admin: '' });
    a.addDomain('example.org');
    expect(users(a.resolve(parseAddress('postmaster@example.org')))).toEqual(['unknown-user']); // no user yet
    await a.addUser('alice@example.org', 'correct horse');
    await a.addUser('bob@example.org', 'battery staple');
    const r = (s: string): string[] => users(a.resolve(parseAddress(s)));
    for (const name of ['root', 'postmaster', 'Abuse', 'MAILER-DAEMON']) expect(r(`${name}@example.org`), name).toEqual(['alice@example.org']);
    a.addAlias('abuse@example.org', ['bob@example.org']);
    expect(r('abuse@example.org')).toEqual(['bob@example.org']);
    // the host name is local for the machine's accounts: cron's root@<hostname>, /etc/passwd names
    expect(a.isLocalDomain('mail.example.org')).toBe(true);
    expect(r('root@mail.example.org')).toEqual(['alice@example.org']);
    expect(r('nobody@MAIL.example.org')).toEqual(['alice@example.org']);
    expect(r('root@localhost')).toEqual(['alice@example.org']);
    expect(r('no-such-account-here@mail.example.org')).toEqual(['unknown-user']);
    expect(r('root@other.example.net')).toEqual(['not-local']);
  });

  it('a configured admin takes them instead of the first user', async () => {
    const a = new Accounts(openDatabase(':memory:', MAIL_MIGRATIONS), { hostname: 'mail.example.org', admin: 'bob@example.org' });
    a.addDomain('example.org');
    await a.addUser('alice@example.org', 'correct horse');
    await a.addUser('bob@example.org', 'battery staple');
    expect(users(a.resolve(parseAddress('root@mail.example.org')))).toEqual(['bob@example.org']);
    expect(users(a.resolve(parseAddress('postmaster@example.org')))).toEqual(['bob@example.org']);
  });
});
