/**
 * The POP3 listeners (RFC 1939 on `listen.pop3` with STLS, RFC 8314 implicit TLS on
 * `listen.pop3s`): accepts connections, applies the per-IP and total connection limits, and
 * hands each socket to a Pop3Connection.
 */
import { createServer, isIPv4, type Socket } from 'node:net';
import { once } from 'node:events';
import type { SecureContext } from 'node:tls';
import {
  LoginThrottle,
  newId,
  sleep,
  splitHostPort,
  type Accounts,
  type Config,
  type Logger,
  type MailStore,
  type TlsMaterial,
  passwordAllowed,
  ConnectionCounter,
} from '@postern/core';
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
  store: MailStore;
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

export interface Pop3Server {
  /** The bound port. */
  port: number;
  close(): Promise<void>;
}


export async function startPop3Server(opts: Pop3ServerOptions): Promise<Pop3Server> {
  const { config, logger } = opts;
  const throttle =
    opts.throttle ??
    LoginThrottle.fromConfig(config.auth);
  const idleTimeoutMs = opts.idleTimeoutMs ?? Math.max(MIN_IDLE_TIMEOUT_MS, config.limits.command_timeout);
  const locks = MaildropLocks.of(opts.store);
  const counter = new ConnectionCounter(config.limits.connections_per_ip, config.limits.connections_total);
  const connections = new Set<Pop3Connection>();

  // The current certificate for each new TLS session (re-read when its files change).
  const secureContext = (): SecureContext => opts.tls.secureContext();

  const onConnection = (socket: Socket): void => {
    const ip = socket.remoteAddress ?? 'unknown';
    const log = logger.child({ cid: newId(), proto: opts.implicitTls ? 'pop3s' : 'pop3', ip });
    const session = new Pop3Session({
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
    const conn = new Pop3Connection(socket, {
      session,
      logger: log,
      maxLine: MAX_COMMAND_LINE,
      idleTimeoutMs,
      implicitTls: opts.implicitTls,
      secureContext,
      sniCallback: opts.tls.sniCallback,
    });
    const admission = counter.admit(ip);
    connections.add(conn);
    conn.onClosed(() => {
      connections.delete(conn);
      if (admission.ok) admission.release();
      log.debug('pop3 disconnected');
    });
    log.debug('pop3 connected');
    if (!admission.ok) {
      log.warn({ reason: admission.reason }, 'pop3 connection refused: too many connections');
      // On the pop3s port a plaintext refusal would be noise inside a TLS handshake: just close.
      if (opts.implicitTls) conn.destroy();
      else void conn.refuse('too many connections, try again later');
      return;
    }
    void conn.start().catch((e: unknown) => {
      log.error({ err: e }, 'pop3 connection failed to start');
      conn.destroy();
    });
  };

  const server = createServer(onConnection);
  const { host, port } = splitHostPort(opts.listen);
  server.listen(port, host);
  await once(server, 'listening');
  const address = server.address();
  const bound = typeof address === 'object' && address ? address.port : port;
  logger.info({ listen: `${host}:${bound}`, implicitTls: opts.implicitTls }, 'pop3 listening');

  return {
    port: bound,
    close: async (): Promise<void> => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const c of connections) c.destroy();
      await closed;
    },
  };
}
