/**
 * @postern/delivery: the delivery agent (MDA). It serves the message store (@postern/core's
 * store, the one owner of mail.db) over the LMTP server through which the transfer app delivers
 * and the retrieval service (IMAP, POP3) that serves the stored mail to logged-in users, all in
 * one process so IDLE sees deliveries at once. It speaks no SQL (scripts/check-store-wall.mjs).
 */
import { ByteBudget, ensureCertificate, openMailDb, QueueStore, TlsMaterial, createLogger, type Config, type Logger } from '@postern/core';
import { cleanSpool } from '@postern/smtp';
import { startLmtpServer } from './lmtp.js';
import { SieveDelivery } from './sieve-delivery.js';
import { startRetrieval } from './retrieval.js';
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
  // Delivery keys only need to outlive the transfer queue's retry window.
  const prune = (): void => {
    mail.store.pruneDeliveryKeys().catch((err: unknown) => logger.warn({ err }, 'pruning delivery keys failed'));
    void mail.sieve.prune().catch((err: unknown) => logger.warn({ err }, 'pruning sieve records failed'));
  };
  prune();
  const pruner = setInterval(prune, 3_600_000);
  pruner.unref();
  const pool = new IndexPool({ size: config.limits.index_threads || defaultIndexThreads(), logger });
  // the substring index is completed in the background, its text made on the pool's threads
  const stopIndexing = mail.store.startSubstringIndexing({ logger, indexer: async (raw) => (await pool.index(raw)).index });
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
      const lmtp = await startLmtpServer({
        config,
        accounts: mail.accounts,
        store: mail.store,
        logger,
        listen: config.listen.lmtp,
        inFlight,
        indexer: pool,
        sieve,
      });
      ports['lmtp'] = lmtp.port;
      closers.push(lmtp.close);
    }
    // One throttle for IMAP, POP3 and the other processes: failures anywhere count together.
    const throttle = mail.loginThrottle(config.auth);
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
    stopIndexing();
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
      stopIndexing();
      await Promise.all(closers.map((c) => c()));
      await pool.close();
      queue?.close();
      mail.close();
    },
  };
}
