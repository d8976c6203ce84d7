/** One place that opens mail.db (accounts, mailboxes, messages) for any app. */
import { join } from 'node:path';
import { Accounts } from './accounts.js';
import type { Config } from './config.js';
import { openDatabase, type Db } from './sqlite.js';
import { ImportState, MAIL_MIGRATIONS, MailStore, SieveScripts } from './store/index.js';
import { LoginThrottle } from './throttle.js';

export interface MailDb {
  /** For core's own stores on the same file (the login throttle); apps never speak SQL. */
  db: Db;
  accounts: Accounts;
  store: MailStore;
  /** Sieve scripts and what their runs remember. */
  sieve: SieveScripts;
  /** The login throttle every process shares, in this mail.db (./throttle.ts). */
  loginThrottle(auth: Config['auth']): LoginThrottle;
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
    sieve: new SieveScripts(db),
    loginThrottle: (auth) => LoginThrottle.fromConfig(auth, db),
    imports: new ImportState(db),
    close: () => db.close(),
  };
}
