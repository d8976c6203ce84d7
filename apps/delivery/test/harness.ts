/** A delivery agent's LMTP server on 127.0.0.1:0 over a fresh mail.db, for conversation tests. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configFromObject, createLogger, openMailDb, type Config, type MailDb } from '@postern/core';
import { startLmtpServer, type LmtpServer } from '../src/lmtp.js';

export interface LmtpHarness {
  config: Config;
  mail: MailDb;
  lmtp: LmtpServer;
  close(): Promise<void>;
}

export async function lmtpHarness(limits: Record<string, number> = {}): Promise<LmtpHarness> {
  const dir = mkdtempSync(join(tmpdir(), 'postern-lmtp-'));
  const config = configFromObject({ hostname: 'mail.example.org', data_dir: 'data', listen: { lmtp: '127.0.0.1:0' }, limits }, join(dir, 'postern.toml'));
  const mail = openMailDb(config);
  mail.accounts.addDomain('example.org');
  await mail.accounts.addUser('alice@example.org', 'long enough');
  await mail.accounts.addUser('bob@example.org', 'long enough');
  mail.accounts.addAlias('team@example.org', ['alice@example.org', 'bob@example.org']);
  const lmtp = await startLmtpServer({
    config,
    accounts: mail.accounts,
    store: mail.store,
    logger: createLogger('delivery-test', 'silent'),
    listen: '127.0.0.1:0',
  });
  return {
    config,
    mail,
    lmtp,
    async close() {
      await lmtp.close();
      mail.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
