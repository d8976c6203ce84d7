/** The store conformance suite (./__tests__/conformance.ts) against the SQLite backend. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Accounts } from '../accounts.js';
import { openDatabase, type Db } from '../sqlite.js';
import { storeConformance } from './__tests__/conformance.js';
import { MAIL_MIGRATIONS } from './schema.js';
import { MailStore } from './store.js';

storeConformance('SQLite', async ({ quotaBytes }) => {
  const dir = mkdtempSync(join(tmpdir(), 'postern-store-'));
  const file = join(dir, 'mail.db');
  const dbs: Db[] = [openDatabase(file, MAIL_MIGRATIONS)];
  const accounts = new Accounts(dbs[0]!);
  accounts.addDomain('example.org');
  const alice = (await accounts.addUser('alice@example.org', 'long enough')).id;
  const bob = (await accounts.addUser('bob@example.org', 'long enough')).id;
  const options = { defaultQuotaBytes: quotaBytes ?? 0, externalPollMs: 20 };
  return {
    store: new MailStore(dbs[0]!, options),
    alice,
    bob,
    otherProcess: async () => {
      const db = openDatabase(file, MAIL_MIGRATIONS);
      dbs.push(db);
      return new MailStore(db, options);
    },
    close: async () => {
      for (const db of dbs) db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
