/**
 * The retrieval service: IMAP (143 STARTTLS, 993 TLS) and POP3 (110 STLS, 995 TLS) listeners,
 * each started when its `listen.*` key is set.
 */
import type { Accounts, ByteBudget, Config, Logger, LoginThrottle, MessageStore, TlsMaterial } from '@postern/core';
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
  return { ports, close: async () => void (await Promise.all(closers.map((c) => c()))) };
}
