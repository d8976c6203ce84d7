import { describe, expect, it } from 'vitest';
import { Accounts } from '../accounts.js';
import { openDatabase } from '../sqlite.js';
import { MAIL_MIGRATIONS } from './schema.js';
import { SieveScripts } from './sieve-scripts.js';
import { StoreError } from './store.js';

async function setup(): Promise<{ sieve: SieveScripts; alice: number; clock: { t: number } }> {
  const db = openDatabase(':memory:', MAIL_MIGRATIONS);
  const accounts = new Accounts(db);
  accounts.addDomain('example.org');
  const alice = (await accounts.addUser('alice@example.org', 'pw-alice-123')).id;
  const clock = { t: 1_000_000 };
  return { sieve: new SieveScripts(db, () => clock.t), alice, clock };
}

const quota = { maxScripts: 2, maxScriptSize: 100 };

describe('sieve scripts in mail.db', () => {
  it('put, list, activate one at a time, rename, delete', async () => {
    const { sieve, alice } = await setup();
    await sieve.put(alice, 'a', 'keep;', quota);
    await sieve.put(alice, 'b', 'discard;', quota);
    await sieve.setActive(alice, 'a');
    await sieve.setActive(alice, 'b');
    expect((await sieve.list(alice)).map((s) => [s.name, s.active, s.size])).toEqual([
      ['a', false, 5],
      ['b', true, 8],
    ]);
    expect((await sieve.active(alice))?.content).toBe('discard;');
    await expect(sieve.delete(alice, 'b')).rejects.toMatchObject({ code: 'CANNOT' });
    await sieve.rename(alice, 'b', 'c');
    await expect(sieve.rename(alice, 'a', 'c')).rejects.toMatchObject({ code: 'ALREADYEXISTS' });
    expect((await sieve.active(alice))?.name).toBe('c');
    await sieve.setActive(alice, null);
    await sieve.delete(alice, 'c');
    expect((await sieve.list(alice)).map((s) => s.name)).toEqual(['a']);
    await expect(sieve.setActive(alice, 'zzz')).rejects.toBeInstanceOf(StoreError);
  });

  it('quotas on count and size', async () => {
    const { sieve, alice } = await setup();
    await sieve.put(alice, 'a', 'keep;', quota);
    await sieve.put(alice, 'b', 'keep;', quota);
    await expect(sieve.put(alice, 'c', 'keep;', quota)).rejects.toMatchObject({ code: 'OVERQUOTA' });
    await sieve.put(alice, 'b', 'discard;', quota); // replacing is not a new script
    await expect(sieve.put(alice, 'a', 'x'.repeat(101), quota)).rejects.toMatchObject({ code: 'OVERQUOTA' });
    expect(await sieve.haveSpace(alice, 'c', 10, quota)).toBe('maxscripts');
    expect(await sieve.haveSpace(alice, 'a', 101, quota)).toBe('maxsize');
    expect(await sieve.haveSpace(alice, 'a', 100, quota)).toBe('ok');
  });

  it('vacation and duplicate records expire', async () => {
    const { sieve, alice, clock } = await setup();
    expect(await sieve.vacationAnswered(alice, 'k')).toBe(false);
    await sieve.recordVacation(alice, 'k', 60);
    expect(await sieve.vacationAnswered(alice, 'k')).toBe(true);
    await sieve.recordDuplicates(alice, [{ id: 'd', seconds: 10 }]);
    expect(sieve.duplicateSeen(alice, 'd')).toBe(true);
    clock.t += 61_000;
    expect(await sieve.vacationAnswered(alice, 'k')).toBe(false);
    expect(sieve.duplicateSeen(alice, 'd')).toBe(false);
    await sieve.prune();
  });
});
