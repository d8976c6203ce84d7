/**
 * @postern/transfer: the MTA. The inbound MX server on `listen.smtp` and the queue runner that
 * delivers what is in queue.db (locally over LMTP, remotely by MX, routes or smarthost).
 *
 * Invariants:
 * - "250" after DATA only once the message is committed: in every recipient's mailbox (direct
 *   delivery over LMTP, each recipient's LMTP 250) or in queue.db.
 * - Only local recipients are accepted on port 25 (which offers no AUTH) unless the client is in
 *   `transfer.trusted_networks`: no open relay.
 * - A recipient that the next hop accepted is recorded delivered and never sent again.
 */
import type { AddressInfo } from 'node:net';
import {
  ByteBudget,
  createLogger,
  createResolver,
  openMailDb,
  QueueStore,
  retryPolicyOf,
  splitHostPort,
  TlsMaterial,
  reloadTlsOnConnection,
  type Config,
  type DnsResolver,
  type Logger,
} from '@postern/core';
import { cleanSpool, logServerError } from '@postern/smtp';
import { DirectDelivery } from './direct-delivery.js';
import { LmtpPool } from './lmtp.js';
import { createMxServer } from './mx-server.js';
import { noticeBuilder } from './notices.js';
import { Pickup } from './pickup.js';
import { QueueRunner } from './runner.js';
import { smarthostOf } from './routing.js';
import { outboundTlsPolicy } from './tls-policy.js';
import { MtaSts, createDnsLookup, validatingResolverOf } from '@postern/trust';

/** LMTP connections to the delivery agent, for the runner and direct delivery together. */
const LMTP_CONNECTIONS = 16;

export interface StartOptions {
  logger?: Logger;
  /** DNS resolver for MX lookups (tests); default: `dns.servers` or the system's. */
  resolver?: DnsResolver;
  /** Port of remote MX hosts; 25 unless a test runs its "internet" on loopback. */
  mxPort?: number;
  /** Don't run the queue runner (tests of the MX server alone). */
  noRunner?: boolean;
  /** Port of MTA-STS policy servers (443) and extra trust anchors for verified TLS: tests. */
  mtaStsPort?: number;
  ca?: string[];
}

export interface TransferApp {
  /** The port the MX server listens on (when it listens). */
  smtpPort: number | null;
  queue: QueueStore;
  close(): Promise<void>;
  /** `postern start` relays another app's readiness: the delivery agent's means its backlog is
   * retried now. */
  peerReady(app: string): void;
}

export async function start(config: Config, options: StartOptions = {}): Promise<TransferApp> {
  const log = options.logger ?? createLogger('transfer', config.log_level);
  smarthostOf(config); // its CA and credentials files are read now: a bad one stops the start
  const queue = QueueStore.open(config);
  const mail = openMailDb(config);
  const resolver = options.resolver ?? createResolver(config);
  const lmtp = config.listen.lmtp ? new LmtpPool(config.listen.lmtp, config.hostname, LMTP_CONNECTIONS, log) : null;
  const runner = options.noRunner
    ? null
    : new QueueRunner({
        config,
        queue,
        accounts: mail.accounts,
        resolver,
        log,
        lmtp,
        ...(options.mxPort ? { mxPort: options.mxPort } : {}),
        tls: {
          tlsPolicy: outboundTlsPolicy({
            mtaSts: new MtaSts({
              lookup: createDnsLookup(config),
              ...(options.mtaStsPort ? { httpsPort: options.mtaStsPort } : {}),
              ...(options.ca ? { ca: options.ca } : {}),
            }),
            // DANE only through a validating resolver on this machine (a loopback dns.servers entry)
            dane: validatingResolverOf(config.dns.servers, config.dns.timeout),
            log,
          }),
          ...(options.ca ? { ca: options.ca } : {}),
        },
      });

  let server: ReturnType<typeof createMxServer> | null = null;
  let smtpPort: number | null = null;
  if (config.listen.smtp) {
    const tls = new TlsMaterial(config.tlsCert, config.tlsKey);
    const throttle = mail.loginThrottle(config.auth);
    const handOver = new DirectDelivery({
      config,
      accounts: mail.accounts,
      queue,
      // tests of the MX alone (noRunner) look at what it queued
      lmtp: runner ? lmtp : null,
      policy: retryPolicyOf(config),
      notices: noticeBuilder(config),
      log,
      onQueued: (agentDown) => {
        runner?.wake();
        if (agentDown) runner?.probeAgent();
      },
    });
    const inFlight = new ByteBudget(config.limits.data_in_flight);
    cleanSpool(config.dataDir);
    server = createMxServer({ config, accounts: mail.accounts, handOver, tls, throttle, inFlight, log });
    const { host, port } = splitHostPort(config.listen.smtp);
    const s = server;
    reloadTlsOnConnection(s, tls);
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, host, () => {
        s.off('error', reject);
        resolve();
      });
    });
    s.on('error', (err: Error) => logServerError(log, 'smtp', err));
    smtpPort = (s.server.address() as AddressInfo).port;
    log.info({ listener: 'smtp', address: `${host}:${smtpPort}` }, `smtp (MX) listening on ${host}:${smtpPort}`);
  }
  runner?.start();
  log.info({ queue: queue.counts() }, 'queue runner started');
  const pickup = runner ? new Pickup({ config, queue, log, onQueued: () => runner.wake() }) : null;
  pickup?.start();

  return {
    smtpPort,
    queue,
    peerReady(app: string): void {
      if (app === 'delivery') runner?.agentReady('supervisor');
    },
    async close(): Promise<void> {
      if (server) {
        const s = server;
        await new Promise<void>((resolve) => s.close(() => resolve()));
      }
      pickup?.stop();
      await runner?.stop();
      lmtp?.close();
      queue.close();
      mail.close();
    },
  };
}
