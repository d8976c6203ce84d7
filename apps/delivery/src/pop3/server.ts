/**
 * The POP3 listeners (RFC 1939 on `listen.pop3` with STLS, RFC 8314 implicit TLS on
 * `listen.pop3s`): accepts connections, applies the per-IP and total connection limits, and
 * hands each socket to a Pop3Connection.
 */
import type { SecureContext } from 'node:tls';
import { LoginThrottle, passwordAllowed, sleep, type Accounts, type Config, type Logger, type MessageStore, type TlsMaterial } from '@postern/core';
import { listen, type Listener } from '../listener.js';
import { Pop3Connection } from './connection.js';
import { MaildropLocks, Pop3Session } from './session.js';

/** RFC 1939 §3: the autologout timer is at least 10 minutes. */
export const MIN_IDLE_TIMEOUT_MS = 10 * 60_000;

/**
 * Longest command line we take, CR included. RFC 2449 §4 caps commands at 255 octets and
 * replies at 512; we take 512 plus room for an AUTH PLAIN initial response carrying a long
 * password (RFC 5034 §4 lifts the limit for SASL).
 */
export const MAX_COMMAND_LINE = 2048;

export interface Pop3ServerOptions {
  config: Config;
  accounts: Accounts;
  store: MessageStore;
  tls: TlsMaterial;
  logger: Logger;
  /** "host:port"; port 0 picks a free one. */
  listen: string;
  /** true: the pop3s listener (TLS from the first byte); false: plaintext with STLS. */
  implicitTls: boolean;
  /** Shared with the other login services of the process; one of our own otherwise. */
  throttle?: LoginThrottle;
  /** Overrides the idle timeout (never below RFC 1939's 10 minutes except in tests). */
  idleTimeoutMs?: number;
}

export type Pop3Server = Listener;

export async function startPop3Server(opts: Pop3ServerOptions): Promise<Pop3Server> {
  const { config } = opts;
  const throttle = opts.throttle ?? LoginThrottle.fromConfig(config.auth);
  const idleTimeoutMs = opts.idleTimeoutMs ?? Math.max(MIN_IDLE_TIMEOUT_MS, config.limits.command_timeout);
  const locks = MaildropLocks.of(opts.store);
  // The current certificate for each new TLS session (re-read when its files change).
  const secureContext = (): SecureContext => opts.tls.secureContext();

  const proto = opts.implicitTls ? 'pop3s' : 'pop3';
  return listen({ proto, listen: opts.listen, implicitTls: opts.implicitTls, limits: config.limits, logger: opts.logger }, (socket, ip, log) => {
    let conn: Pop3Connection | null = null;
    const session = new Pop3Session({
      channelBindings: () => conn?.channelBindings() ?? null,
      accounts: opts.accounts,
      store: opts.store,
      throttle,
      locks,
      logger: log,
      remoteAddress: ip,
      plaintextLoginAllowed: passwordAllowed(config, false, ip),
      tls: opts.implicitTls,
      sleep,
    });
    conn = new Pop3Connection(socket, {
      session,
      logger: log,
      maxLine: MAX_COMMAND_LINE,
      idleTimeoutMs,
      implicitTls: opts.implicitTls,
      secureContext,
      sniCallback: opts.tls.sniCallback,
    });
    return { conn, start: () => conn.start() };
  });
}
