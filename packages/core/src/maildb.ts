/** One place that opens mail.db (accounts, mailboxes, messages) for any app. */
import { join } from 'node:path';
import { Accounts } from './accounts.js';
import type { Config } from './config.js';
import { openDatabase, type Db } from './sqlite.js';
import { ImportState, MAIL_MIGRATIONS, MailStore } from './store/index.js';

export interface MailDb {
  db: Db;
  accounts: Accounts;
  store: MailStore;
  /** Where `postern import` stopped, per source folder. */
  imports: ImportState;
  close(): void;
}

export function mailDbPath(config: Pick<Config, 'dataDir'>): string {
  return join(config.dataDir, 'mail.db');
}

/** With `hostname` (and `admin`), the host name's own accounts reach the administrator (accounts.ts). */
export function openMailDb(config: Pick<Config, 'dataDir' | 'limits'> & Partial<Pick<Config, 'hostname' | 'admin'>>): MailDb {
  const db = openDatabase(mailDbPath(config), MAIL_MIGRATIONS);
  return {
    db,
    accounts: new Accounts(db, config.hostname ? { hostname: config.hostname, admin: config.admin ?? '' } : null),
    store: new MailStore(db, { defaultQuotaBytes: config.limits.mailbox_quota }),
    imports: new ImportState(db),
    close: () => db.close(),
  };
}
