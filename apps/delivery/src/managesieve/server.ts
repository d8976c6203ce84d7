/**
 * The ManageSieve listener (RFC 5804, `listen.managesieve`, port 4190): accepts connections
 * under the shared connection limits and deadlines (../listener.ts) and hands each socket to a
 * ManageSieveConnection.
 */
import { LoginThrottle, passwordAllowed, sleep, type Accounts, type Config, type Logger, type SieveScripts, type TlsMaterial } from '@postern/core';
import { listen, type Listener } from '../listener.js';
import { sieveLimits, sieveQuota } from '../sieve-limits.js';
import { ManageSieveConnection } from './connection.js';
import { ManageSieveSession } from './session.js';

/** Longest command line outside literals; a SASL PLAIN response with a long password fits. */
export const MAX_COMMAND_LINE = 8192;

export interface ManageSieveServerOptions {
  config: Config;
  accounts: Accounts;
  scripts: SieveScripts;
  tls: TlsMaterial;
  logger: Logger;
  /** "host:port"; port 0 picks a free one. */
  listen: string;
  throttle?: LoginThrottle;
  idleTimeoutMs?: number;
}

export async function startManageSieveServer(opts: ManageSieveServerOptions): Promise<Listener> {
  const { config } = opts;
  const throttle = opts.throttle ?? LoginThrottle.fromConfig(config.auth);
  const limits = sieveLimits(config);
  const quota = sieveQuota(config);
  const idleTimeoutMs = opts.idleTimeoutMs ?? config.limits.command_timeout;
  return listen({ proto: 'managesieve', listen: opts.listen, implicitTls: false, limits: config.limits, logger: opts.logger }, (socket, ip, log) => {
    const session = new ManageSieveSession({
      accounts: opts.accounts,
      scripts: opts.scripts,
      throttle,
      logger: log,
      remoteAddress: ip,
      plaintextLoginAllowed: passwordAllowed(config, false, ip),
      tls: false,
      limits,
      quota,
      sleep,
    });
    const conn = new ManageSieveConnection(socket, {
      session,
      logger: log,
      maxLine: MAX_COMMAND_LINE,
      // a PUTSCRIPT literal a little over the quota still reads whole, to be answered QUOTA/MAXSIZE
      maxLiteral: quota.maxScriptSize + 1024,
      idleTimeoutMs,
      secureContext: () => opts.tls.secureContext(),
      sniCallback: opts.tls.sniCallback,
    });
    return { conn, start: () => conn.start() };
  });
}
