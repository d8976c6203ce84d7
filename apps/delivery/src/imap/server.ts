/**
 * The IMAP listeners (RFC 9051 on `listen.imap` with STARTTLS, RFC 8314 implicit TLS on
 * `listen.imaps`): accepts connections, applies the per-IP and total limits, and gives each
 * socket an ImapConnection and an ImapSession.
 */
import type { SecureContext } from 'node:tls';
import { ByteBudget, LoginThrottle, passwordAllowed, sleep, type Accounts, type Config, type Logger, type MessageStore, type TlsMaterial } from '@postern/core';
import { untaggedStatus } from '@postern/imap';
import { capabilities } from './capabilities.js';
import { ImapConnection } from './connection.js';
import { ImapSession, type UserConnections } from './session.js';
import { listen, type Listener } from '../listener.js';
import type { MessageIndexer } from '../index-pool.js';

/** Literals accepted before login: enough for LOGIN with a literal password, no more. */
export const PREAUTH_LITERAL_MAX = 8 * 1024;

export interface ImapServerOptions {
  config: Config;
  accounts: Accounts;
  store: MessageStore;
  tls: TlsMaterial;
  logger: Logger;
  /** "host:port"; port 0 picks a free one. */
  listen: string;
  implicitTls: boolean;
  /** Shared with the other login services of the process; one of our own otherwise. */
  throttle?: LoginThrottle;
  /** Shared by the imap and imaps listeners, so the per-user limit covers both. */
  userConnections?: UserConnections;
  /** Overrides the autologout timer (tests). */
  idleTimeoutMs?: number;
  /** The process's bytes in flight (shared with LMTP); one of our own otherwise. */
  inFlight?: ByteBudget;
  /** Where APPEND indexes messages (the agent's thread pool). */
  indexer?: MessageIndexer;
}

export type ImapServer = Listener;

/** Counts logged-in sessions per user against `imap_connections_per_user`. */
export function userConnectionLimit(max: number): UserConnections {
  const counts = new Map<number, number>();
  return {
    acquire(userId) {
      const n = counts.get(userId) ?? 0;
      if (n >= max) return false;
      counts.set(userId, n + 1);
      return true;
    },
    release(userId) {
      const n = (counts.get(userId) ?? 1) - 1;
      if (n <= 0) counts.delete(userId);
      else counts.set(userId, n);
    },
  };
}

export async function startImapServer(opts: ImapServerOptions): Promise<ImapServer> {
  const { config } = opts;
  const limits = config.limits;
  const throttle = opts.throttle ?? LoginThrottle.fromConfig(config.auth);
  const userConnections = opts.userConnections ?? userConnectionLimit(limits.imap_connections_per_user);
  const idleTimeoutMs = opts.idleTimeoutMs ?? limits.imap_idle_timeout;
  const inFlight = opts.inFlight ?? new ByteBudget(limits.data_in_flight);
  // The current certificate for each new TLS session (re-read when its files change).
  const secureContext = (): SecureContext => opts.tls.secureContext();

  const proto = opts.implicitTls ? 'imaps' : 'imap';
  return listen({ proto, listen: opts.listen, implicitTls: opts.implicitTls, limits, logger: opts.logger }, (socket, ip, log) => {
    const conn = new ImapConnection(socket, {
      logger: log,
      limits: {
        maxLineLength: limits.imap_line_length,
        maxLiteralSize: PREAUTH_LITERAL_MAX,
        maxCommandSize: limits.imap_line_length + PREAUTH_LITERAL_MAX,
      },
      preAuthTimeoutMs: Math.min(idleTimeoutMs, limits.command_timeout),
      idleTimeoutMs,
      implicitTls: opts.implicitTls,
      secureContext,
      sniCallback: opts.tls.sniCallback,
      inFlight,
      dataDir: config.dataDir,
    });
    const plaintextLoginAllowed = passwordAllowed(config, false, ip);
    const session = new ImapSession({
      accounts: opts.accounts,
      store: opts.store,
      throttle,
      logger: log,
      remoteAddress: ip,
      plaintextLoginAllowed,
      tls: opts.implicitTls,
      appendLimit: limits.message_size,
      userConnections,
      sleep,
      io: conn,
      channelBindings: () => conn.channelBindings(),
      maxSearchKeys: limits.imap_search_keys,
      ...(opts.indexer ? { indexer: opts.indexer } : {}),
    });
    conn.attach(session);
    const caps = capabilities({
      tls: opts.implicitTls,
      loginAllowed: opts.implicitTls || plaintextLoginAllowed,
      authenticated: false,
      appendLimit: limits.message_size,
    });
    const greeting = untaggedStatus('OK', 'Postern IMAP4rev1 server ready', { code: 'CAPABILITY', capabilities: caps });
    return { conn, start: () => conn.start(greeting) };
  });
}
