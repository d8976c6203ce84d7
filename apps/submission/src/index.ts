/**
 * @postern/submission: the message submission agent (RFC 6409) on `listen.submission` and
 * `listen.submissions`. It queues into queue.db; the transfer app delivers.
 *
 * Invariants:
 * - No AUTH without TLS (except loopback in the development profile); no MAIL without AUTH.
 * - A user sends only as their own addresses and aliases.
 * - "250" after DATA only once the message is committed in queue.db.
 */
import { cleanSpool, ConnectionLimits, logServerError } from '@postern/smtp';
import type { AddressInfo } from 'node:net';
import type { SMTPServer } from 'smtp-server';
import {
  ByteBudget,
  connectionCaps,
  createLogger,
  openMailDb,
  QueueStore,
  splitHostPort,
  TlsMaterial,
  reloadTlsOnConnection,
  type Config,
  type Logger,
} from '@postern/core';
import { createSubmissionServer } from './server.js';

export interface StartOptions {
  logger?: Logger;
}

export interface SubmissionApp {
  ports: { submission: number | null; submissions: number | null };
  close(): Promise<void>;
}

export async function start(config: Config, options: StartOptions = {}): Promise<SubmissionApp> {
  const log = options.logger ?? createLogger('submission', config.log_level);
  const queue = QueueStore.open(config);
  const mail = openMailDb(config);
  const tls = new TlsMaterial(config.tlsCert, config.tlsKey);
  const throttle = mail.loginThrottle(config.auth);
  const limits = new ConnectionLimits(connectionCaps(config.limits), 'submission');
  const inFlight = new ByteBudget(config.limits.data_in_flight);
  cleanSpool(config.dataDir);
  const deps = { config, accounts: mail.accounts, queue, tls, throttle, limits, inFlight, log };
  const servers: SMTPServer[] = [];
  const ports: SubmissionApp['ports'] = { submission: null, submissions: null };

  for (const name of ['submission', 'submissions'] as const) {
    const address = config.listen[name];
    if (!address) continue;
    const server = createSubmissionServer(deps, name === 'submissions');
    reloadTlsOnConnection(server, tls);
    const { host, port } = splitHostPort(address);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err: Error) => logServerError(log, name, err));
    ports[name] = (server.server.address() as AddressInfo).port;
    servers.push(server);
    log.info({ listener: name, address: `${host}:${ports[name]}` }, `${name} listening on ${host}:${ports[name]}`);
  }

  return {
    ports,
    async close(): Promise<void> {
      await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
      queue.close();
      mail.close();
    },
  };
}
