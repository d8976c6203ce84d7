/**
 * @postern/webmail: the mail user agent in a browser.
 *
 * Invariants:
 * - It is a client like any other: it reads mail over IMAP and sends over SMTP submission
 *   (imapflow, nodemailer). Serving Postern's own accounts (no `webmail.imap`), it opens mail.db
 *   for the account itself only: the password and second-factor check (through the one login
 *   throttle), the user's security settings, and a session credential per session to log in
 *   with (state.ts LocalAccounts); mail is never read from the database.
 * - Pages are rendered on the server from escaped templates; message HTML is sanitized and
 *   shown only in a sandboxed frame with its own CSP; remote images stay blocked until asked.
 * - It reads no mail from mail.db; the web ports (front.ts) read only the list of local domains,
 *   for the names they answer and the certificates ACME keeps.
 * - The browser holds a session cookie (HttpOnly, SameSite=Strict, Secure over HTTPS) and
 *   nothing else; every write needs the session's CSRF token; logins are throttled by the one
 *   throttle of every process (against a foreign server: by the IMAP server, told the browser's
 *   address).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { openMailDb, splitHostPort, type Config, type Logger } from '@postern/core';
import { loadAssets } from './assets.js';
import { imapEndpoint, smtpEndpoint } from './endpoints.js';
import { authRoutes } from './routes/auth.js';
import { composeRoutes } from './routes/compose.js';
import { eventRoutes } from './routes/events.js';
import { startFront, type WebFront } from './front.js';
import { mailboxRoutes } from './routes/mailbox.js';
import { messageRoutes } from './routes/message.js';
import { staticRoutes } from './routes/static.js';
import { createHandler } from './server.js';
import { clientProfileRoutes } from './routes/client-profile.js';
import { settingsRoutes } from './routes/settings.js';
import { LoginForms, PendingLogins, SessionStore } from './session.js';
import type { LocalAccounts, UserResources, WebmailState } from './state.js';

export interface RunningWebmail {
  /** The port of `listen.webmail` (0 when that is off and only the web ports serve it). */
  port: number;
  /** `listen.https` / `listen.http` and ACME, when configured. */
  front: WebFront | null;
  close(): Promise<void>;
}

export async function start(config: Config, options: { logger: Logger; clock?: () => number }): Promise<RunningWebmail> {
  const { logger } = options;
  if (!config.listen.webmail && !config.listen.https && !config.listen.http) throw new Error('none of listen.webmail, listen.https, listen.http is set');
  loadAssets();
  let local: LocalAccounts | null = null;
  if (!config.webmail.imap) {
    const m = openMailDb(config);
    local = { accounts: m.accounts, throttle: m.loginThrottle(config.auth), close: () => m.close() };
  }
  const state: WebmailState = {
    config,
    logger,
    sessions: new SessionStore<UserResources>(config.webmail.session_lifetime),
    loginForms: new LoginForms(),
    imap: imapEndpoint(config),
    smtp: smtpEndpoint(config),
    local,
    pendingLogins: new PendingLogins(),
  };
  const routes = [
    ...authRoutes,
    ...mailboxRoutes,
    ...messageRoutes,
    ...composeRoutes,
    ...eventRoutes,
    ...clientProfileRoutes,
    ...settingsRoutes,
    ...staticRoutes(['app.css', 'app.js', 'icon.svg']),
  ];
  const handler = createHandler(state, routes);
  let server: Server | null = null;
  let bound = 0;
  if (config.listen.webmail) {
    const plain = createServer({ requestTimeout: 5 * 60_000, headersTimeout: 30_000 }, handler);
    server = plain;
    plain.keepAliveTimeout = 30_000;
    const { host, port } = splitHostPort(config.listen.webmail);
    await new Promise<void>((resolve, reject) => {
      plain.once('error', reject);
      plain.listen(port, host, () => {
        plain.off('error', reject);
        resolve();
      });
    });
    bound = (plain.address() as AddressInfo).port;
  }
  const front =
    config.listen.https || config.listen.http ? await startFront(config, handler, { logger, ...(options.clock ? { clock: options.clock } : {}) }) : null;
  logger.info(
    { listen: config.listen.webmail ?? null, port: bound, imap: `${state.imap.host}:${state.imap.port}`, smtp: `${state.smtp.host}:${state.smtp.port}` },
    'webmail listening',
  );
  return {
    port: bound,
    front,
    async close(): Promise<void> {
      // Sessions first: that ends the event streams, whose responses would keep the server open.
      await state.sessions.closeAll();
      await front?.close();
      if (server) {
        const s = server;
        s.closeAllConnections();
        await new Promise<void>((resolve) => s.close(() => resolve()));
      }
      state.local?.close();
    },
  };
}
