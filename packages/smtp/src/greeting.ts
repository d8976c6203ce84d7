/**
 * When a session gets its 220 greeting (RFC 5321 §3.1: the opening message).
 *
 * smtp-server holds every greeting back by a fixed 100 ms to catch clients that talk before it
 * (`SMTPConnection.init()`), and has no option to change that. A sender that opens one
 * connection per message (Postfix's smtp-source, many MTAs) is then capped near 9 messages/s
 * per connection. Postfix's smtpd greets at once; the pregreet test lives in postscreen, off by
 * default, with its own wait (`postscreen_greet_wait`).
 *
 * `createSmtpServer(options, greetingDelay)` returns an SMTPServer whose connections greet after
 * `greetingDelay` ms instead: 0 greets at once, more makes a client that talks before the
 * greeting get `421 You talk too soon` (smtp-server's own early-talker check, which refuses any
 * command that arrives before the session is ready).
 *
 * How: `connect()` is smtp-server's `SMTPServer.prototype.connect` with `connection.init()`
 * replaced by `greet()`, which is `SMTPConnection.prototype.init` with our delay instead of the
 * hard-coded 100 ms. Both lean on smtp-server internals (`_setListeners`, `_onError`,
 * `_onClientConnect`, `connectionReady`, the `SMTPConnection` class from its `lib/` path).
 * smtp-server's own .d.ts declares them, so no cast is needed, but they are not documented API:
 * greeting.test.ts pins the source of the two originals, so an upgrade that changes them fails
 * a test instead of silently losing a check (maxClients, the early-talker 421, reverse DNS).
 *
 * The same hook on each new connection serves a server that offers no AUTH at all (the MX, as
 * Postfix's smtpd on port 25 without `smtpd_sasl_auth_enable`): `authMethods: []` in the
 * options. smtp-server would read an empty list as "the defaults" (PLAIN, LOGIN); here EHLO then
 * lists no AUTH and the command gets Postfix's `503 5.5.1 Error: authentication not enabled`.
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { SMTPConnection, type SMTPConnectionOptions } from 'smtp-server/lib/smtp-connection.js';
import type { Deadlines } from '@postern/core';
import { watchDeadlines } from './deadlines.js';

class GreetingServer extends SMTPServer {
  readonly #greetingDelay: number;
  readonly #authRefused: boolean;
  readonly #deadlines: Deadlines | null;

  constructor(options: SMTPServerOptions, greetingDelay: number, authRefused: boolean, deadlines: Deadlines | null) {
    super(options);
    this.#greetingDelay = greetingDelay;
    this.#authRefused = authRefused;
    this.#deadlines = deadlines;
    // EHLO lists AUTH only while authMethods is non-empty (the constructor filled in its defaults)
    if (authRefused) this.options.authMethods = [];
  }

  /** smtp-server 3.21.6's connect(), with `greet()` in place of `connection.init()`. */
  override connect(socket: Socket | TLSSocket, socketOptions?: SMTPConnectionOptions | null): void {
    const connection = new SMTPConnection(this, socket, socketOptions);
    this.connections.add(connection);
    connection.on('error', (err: Error) => this._onError(err));
    connection.on('connect', (data: Parameters<SMTPServer['_onClientConnect']>[0]) => this._onClientConnect(data));
    if (this.#authRefused) connection.handler_AUTH = refuseAuth;
    if (this.#deadlines) watchDeadlines(connection, this.#deadlines);
    greet(this, connection, this.#greetingDelay);
  }
}

/** AUTH on a server without it, in Postfix's words when `smtpd_sasl_auth_enable = no`. */
function refuseAuth(this: SMTPConnection, _command: Buffer, callback: () => void): void {
  this.send(503, '5.5.1 Error: authentication not enabled');
  callback();
}

/**
 * smtp-server 3.21.6's SMTPConnection.init() with our delay: socket listeners (and the implicit
 * TLS upgrade when one is pending), the maxClients check, then connectionReady() (reverse DNS,
 * onConnect, onSecure, the greeting) after `delay` ms. Until connectionReady() has run its
 * course the connection is not ready, and a command gets `421 You talk too soon`.
 */
function greet(server: SMTPServer, connection: SMTPConnection, delay: number): void {
  connection._setListeners(() => {
    const max = server.options.maxClients;
    if (max && server.connections.size > max) {
      return connection.send(421, `${connection.name} Too many connected clients, try again in a moment`, false);
    }
    // Synchronously, so that with disableReverseLookup and an onConnect that calls back at once
    // the session is ready before the first byte from the client can be read.
    if (delay <= 0) return connection.connectionReady();
    const timer = setTimeout(() => connection.connectionReady(), delay);
    // as smtp-server: a pending greeting does not keep the process alive
    timer.unref();
    // connectionReady() would return early for a closed connection anyway; don't keep it for `delay`
    connection._socket.once('close', () => clearTimeout(timer));
  });
}

/**
 * An SMTPServer whose connections are greeted `greetingDelay` ms after they open (0: at once),
 * and held to `deadlines` (deadlines.ts) when given.
 */
export function createSmtpServer(options: SMTPServerOptions, greetingDelay: number, deadlines: Deadlines | null = null): SMTPServer {
  // read before smtp-server's constructor replaces an empty list (in `options` itself) by its defaults
  return new GreetingServer(options, greetingDelay, options.authMethods?.length === 0, deadlines);
}
