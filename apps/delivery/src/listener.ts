/**
 * The TCP side shared by the retrieval listeners (IMAP, POP3): accept a socket, give it a
 * connection id in the log, count it against the connection limits (core's ConnectionCounter:
 * per IP, per /24 or /64, in total, and the share kept for sessions that logged in), refuse it in
 * the protocol's own words when over (on an implicit-TLS port just close it: a plaintext refusal
 * would be noise inside a TLS handshake), hold every connection that has not logged in to the
 * command and session deadlines (core's DeadlineClock), and on close end every connection still
 * open. Also the TLS upgrade both protocols make the same way.
 */
import { createServer, type Socket } from 'node:net';
import { once } from 'node:events';
import { TLSSocket, type SecureContext, type TlsOptions } from 'node:tls';
import {
  ConnectionCounter,
  metrics,
  connectionCaps,
  DeadlineClock,
  deadlinesOf,
  deadlineTick,
  newId,
  SERVER_TLS,
  splitHostPort,
  type Config,
  type Logger,
  type Phase,
} from '@postern/core';

/** Logged in yet; commands received so far; handling one now. */
export interface Progress {
  authenticated: boolean;
  commands: number;
  busy: boolean;
}

/** What a listener needs of a protocol connection (ImapConnection, Pop3Connection). */
export interface ListenedConnection {
  onClosed(handler: () => void): void;
  destroy(): void;
  /** Says the server is busy in the protocol's own words, then closes. */
  refuse(text: string): Promise<void>;
  progress(): Progress;
  /** A deadline passed: says so in the protocol's own words, then closes. */
  expire(text: string): void;
}

export interface Listener {
  /** The bound port. */
  port: number;
  close(): Promise<void>;
}

export interface ListenerOptions {
  /** "imap", "imaps", "pop3", "pop3s": the log's `proto`. */
  proto: string;
  /** "host:port"; port 0 picks a free one. */
  listen: string;
  implicitTls: boolean;
  limits: Pick<
    Config['limits'],
    | 'connections_per_ip'
    | 'connections_per_subnet'
    | 'connections_total'
    | 'connections_unauthenticated_percent'
    | 'command_deadline'
    | 'data_deadline'
    | 'session_lifetime'
  >;
  logger: Logger;
}

/**
 * Listens on `opts.listen`; `accept` builds the protocol connection for each socket and returns
 * it with what starts it (the greeting), which runs only for an admitted connection.
 */
export async function listen<C extends ListenedConnection>(
  opts: ListenerOptions,
  accept: (socket: Socket, ip: string, log: Logger) => { conn: C; start: () => Promise<void> },
): Promise<Listener> {
  const { proto, logger } = opts;
  const counter = new ConnectionCounter(connectionCaps(opts.limits), protocolOf(proto));
  const deadlines = deadlinesOf(opts.limits);
  const connections = new Set<C>();
  /** The admitted ones, each with its deadlines. */
  const admitted = new Map<C, { clock: DeadlineClock; release: () => void }>();
  const phaseOf = (p: Progress): Phase => (p.authenticated ? 'free' : p.busy ? 'busy' : 'command');

  const watchdog = setInterval(() => {
    for (const [conn, { clock }] of admitted) {
      const p = conn.progress();
      const expired = clock.check(phaseOf(p), p.commands);
      if (!expired) continue;
      admitted.delete(conn);
      logger.info({ proto, expired }, `${proto} deadline passed`);
      conn.expire(expired === 'session' ? 'login took too long' : 'command took too long');
    }
  }, deadlineTick(deadlines));
  watchdog.unref();

  const unauthenticated = (): number => {
    let n = 0;
    for (const c of admitted.keys()) if (!c.progress().authenticated) n++;
    return n;
  };
  /**
   * When the slots for connections not logged in (or all slots) are taken, a new client
   * displaces the oldest such connection that is only waiting for a command: a slow client
   * holding a slot for minutes cannot keep out one that logs in within a second.
   */
  const displaceOldest = (): boolean => {
    for (const [conn, { release }] of admitted) {
      const p = conn.progress();
      if (p.authenticated || p.busy) continue;
      admitted.delete(conn);
      release();
      logger.info({ proto }, `${proto} oldest connection not logged in displaced by a new one`);
      conn.expire('too many connections, this one was the oldest waiting');
      return true;
    }
    return false;
  };

  const server = createServer((socket) => {
    const ip = socket.remoteAddress ?? 'unknown';
    const log = logger.child({ cid: newId(), proto, ip });
    const { conn, start } = accept(socket, ip, log);
    let admission = counter.admit(ip, unauthenticated());
    if (!admission.ok && (admission.reason === 'unauthenticated' || admission.reason === 'total') && displaceOldest()) {
      admission = counter.admit(ip, unauthenticated());
    }
    connections.add(conn);
    if (admission.ok) admitted.set(conn, { clock: new DeadlineClock(deadlines), release: admission.release });
    conn.onClosed(() => {
      connections.delete(conn);
      admitted.delete(conn);
      if (admission.ok) admission.release();
      log.debug(`${proto} disconnected`);
    });
    if (!admission.ok) {
      log.warn({ reason: admission.reason }, `${proto} connection refused: too many connections`);
      if (opts.implicitTls) conn.destroy();
      else void conn.refuse('too many connections, try again later');
      return;
    }
    log.debug(`${proto} connected`);
    void start().catch((e: unknown) => {
      log.error({ err: e }, `${proto} connection failed to start`);
      conn.destroy();
    });
  });
  const { host, port } = splitHostPort(opts.listen);
  server.listen(port, host);
  await once(server, 'listening');
  const address = server.address();
  const bound = typeof address === 'object' && address ? address.port : port;
  logger.info({ listen: `${host}:${bound}`, implicitTls: opts.implicitTls }, `${proto} listening`);
  return {
    port: bound,
    close: async (): Promise<void> => {
      clearInterval(watchdog);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const c of connections) c.destroy();
      await closed;
    },
  };
}

/** The metrics' protocol of a listener: imaps counts as imap, pop3s as pop3. */
function protocolOf(proto: string): string {
  return proto.replace(/s$/, '');
}

export interface TlsUpgrade {
  secureContext: () => SecureContext;
  sniCallback: TlsOptions['SNICallback'];
  /** The handshake must finish within this, or the socket is destroyed. */
  timeoutMs: number;
  logger: Logger;
  proto: string;
}

/**
 * Starts server-side TLS on an accepted socket (implicit TLS, or after STARTTLS/STLS); the
 * caller swaps its socket for `secure` at once and awaits `handshake`: false, and the socket
 * destroyed, when the handshake fails or takes longer than `timeoutMs`.
 */
export function upgradeToTls(plain: Socket, opts: TlsUpgrade): { secure: TLSSocket; handshake: Promise<boolean> } {
  plain.setTimeout(0);
  const secure = new TLSSocket(plain, { isServer: true, secureContext: opts.secureContext(), SNICallback: opts.sniCallback, ...SERVER_TLS });
  const handshake = new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => secure.destroy(), opts.timeoutMs);
    secure.once('secure', () => {
      clearTimeout(timer);
      metrics.tls.inc({ protocol: protocolOf(opts.proto), version: secure.getProtocol() ?? 'unknown' });
      resolve(true);
    });
    secure.on('error', (e) => {
      clearTimeout(timer);
      opts.logger.debug({ err: e.message }, `${opts.proto} TLS error`);
      secure.destroy();
      resolve(false);
    });
  });
  return { secure, handshake };
}
