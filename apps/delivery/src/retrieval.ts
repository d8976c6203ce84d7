/**
 * The retrieval service: IMAP (143 STARTTLS, 993 TLS), POP3 (110 STLS, 995 TLS) and ManageSieve
 * (4190 STARTTLS) listeners, each started when its `listen.*` key is set.
 */
import type { Accounts, ByteBudget, Config, Logger, LoginThrottle, MessageStore, SieveScripts, TlsMaterial } from '@postern/core';
import { startManageSieveServer } from './managesieve/index.js';
import { startImapServer, userConnectionLimit } from './imap/index.js';
import { startPop3Server } from './pop3/index.js';
import type { MessageIndexer } from './index-pool.js';

export interface RetrievalOptions {
  config: Config;
  accounts: Accounts;
  store: MessageStore;
  tls: TlsMaterial;
  logger: Logger;
  /** The process's bytes in flight, shared with LMTP (IMAP APPEND takes from it). */
  inFlight?: ByteBudget;
  /** mail.db's throttle, shared with the other processes that take passwords. */
  throttle: LoginThrottle;
  /** Where APPEND indexes messages. */
  indexer?: MessageIndexer;
  /** Sieve scripts (ManageSieve); ManageSieve is off without them. */
  scripts?: SieveScripts;
}

export async function startRetrieval(opts: RetrievalOptions): Promise<{ ports: Record<string, number>; close(): Promise<void> }> {
  const ports: Record<string, number> = {};
  const closers: Array<() => Promise<void>> = [];
  const { listen } = opts.config;
  const { throttle } = opts;
  const userConnections = userConnectionLimit(opts.config.limits.imap_connections_per_user);
  const imap = [
    ['imap', listen.imap, false],
    ['imaps', listen.imaps, true],
  ] as const;
  for (const [name, where, implicitTls] of imap) {
    if (!where) continue;
    const s = await startImapServer({ ...opts, throttle, userConnections, logger: opts.logger.child({ proto: name }), listen: where, implicitTls });
    ports[name] = s.port;
    closers.push(s.close);
  }
  const pop3 = [
    ['pop3', listen.pop3, false],
    ['pop3s', listen.pop3s, true],
  ] as const;
  for (const [name, where, implicitTls] of pop3) {
    if (!where) continue;
    const s = await startPop3Server({ ...opts, throttle, logger: opts.logger.child({ proto: name }), listen: where, implicitTls });
    ports[name] = s.port;
    closers.push(s.close);
  }
  if (listen.managesieve && opts.scripts) {
    const s = await startManageSieveServer({
      ...opts,
      scripts: opts.scripts,
      throttle,
      logger: opts.logger.child({ proto: 'managesieve' }),
      listen: listen.managesieve,
    });
    ports['managesieve'] = s.port;
    closers.push(s.close);
  }
  return { ports, close: async () => void (await Promise.all(closers.map((c) => c()))) };
}
