/**
 * @postern/delivery: the delivery agent (MDA). It owns mail.db's message store: the LMTP server
 * through which the transfer app delivers, and the retrieval service (IMAP, POP3) that serves the
 * stored mail to logged-in users, all in one process so IDLE sees deliveries at once.
 */
import { ByteBudget, ensureCertificate, LoginThrottle, openMailDb, QueueStore, TlsMaterial, createLogger, type Config, type Logger } from '@postern/core';
import { GroupCommit } from './group-commit.js';
import { cleanSpool } from '@postern/smtp';
import { startLmtpServer } from './lmtp.js';
import { SieveDelivery } from './sieve-delivery.js';
import { startRetrieval } from './retrieval.js';
import { SubstringIndexer } from './search-index.js';
import { defaultIndexThreads, IndexPool } from './index-pool.js';

export interface DeliveryAgent {
  /** Bound ports by listener name (lmtp, imap, imaps, pop3, pop3s). */
  ports: Record<string, number>;
  close(): Promise<void>;
}

export async function start(config: Config, options: { logger?: Logger } = {}): Promise<DeliveryAgent> {
  const logger = options.logger ?? createLogger('delivery', config.log_level);
  const mail = openMailDb(config);
  await ensureCertificate(config.tlsCert, config.tlsKey, config.hostname);
  const tls = new TlsMaterial(config.tlsCert, config.tlsKey);
  const stopWatching = mail.store.watchExternalChanges();
  // Delivery keys only need to outlive the transfer queue's retry window.
  mail.store.pruneDeliveryKeys();
  const pruner = setInterval(() => {
    mail.store.pruneDeliveryKeys();
    void mail.sieve.prune().catch((err: unknown) => logger.warn({ err }, 'pruning sieve records failed'));
  }, 3_600_000);
  pruner.unref();
  const commits = new GroupCommit(mail.store);
  const pool = new IndexPool({ size: config.limits.index_threads || defaultIndexThreads(), logger });
  const indexer = new SubstringIndexer(mail.store, logger, undefined, undefined, pool).start();
  // one budget for LMTP and IMAP APPEND together (limits.data_in_flight)
  const inFlight = new ByteBudget(config.limits.data_in_flight);
  // LMTP messages and IMAP APPEND literals past 1 MiB wait in the spool
  cleanSpool(config.dataDir);
  // Sieve's redirects and vacation replies are queued here, for the transfer app's queue runner.
  const queue = config.listen.lmtp ? QueueStore.open(config) : null;
  const sieve = new SieveDelivery({ config, logger, scripts: mail.sieve, store: mail.store, accounts: mail.accounts, queue, indexer: pool });
  const closers: Array<() => Promise<void>> = [];
  const ports: Record<string, number> = {};
  try {
    if (config.listen.lmtp) {
      const lmtp = await startLmtpServer({ config, accounts: mail.accounts, commits, logger, listen: config.listen.lmtp, inFlight, indexer: pool, sieve });
      ports['lmtp'] = lmtp.port;
      closers.push(lmtp.close);
    }
    // One throttle for IMAP, POP3 and the other processes: failures anywhere count together.
    const throttle = LoginThrottle.fromConfig(config.auth, mail.db);
    const retrieval = await startRetrieval({
      config,
      accounts: mail.accounts,
      store: mail.store,
      scripts: mail.sieve,
      tls,
      logger,
      inFlight,
      throttle,
      indexer: pool,
    });
    Object.assign(ports, retrieval.ports);
    closers.push(retrieval.close);
  } catch (err) {
    indexer.stop();
    await Promise.all(closers.map((c) => c()));
    await pool.close();
    queue?.close();
    mail.close();
    throw err;
  }
  return {
    ports,
    async close() {
      clearInterval(pruner);
      stopWatching();
      indexer.stop();
      await Promise.all(closers.map((c) => c()));
      await pool.close();
      queue?.close();
      mail.close();
    },
  };
}
