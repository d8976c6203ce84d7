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
 * - The browser holds a session cookie (HttpOnly, SameSite=Strict, Secure over HTTPS) and
 *   nothing else; every write needs the session's CSRF token; logins are throttled by the one
 *   throttle of every process (against a foreign server: by the IMAP server, told the browser's
 *   address).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LoginThrottle, openMailDb, splitHostPort, type Config, type Logger } from '@postern/core';
import { loadAssets } from './assets.js';
import { imapEndpoint, smtpEndpoint } from './endpoints.js';
import { authRoutes } from './routes/auth.js';
import { composeRoutes } from './routes/compose.js';
import { eventRoutes } from './routes/events.js';
import { mailboxRoutes } from './routes/mailbox.js';
import { messageRoutes } from './routes/message.js';
import { staticRoutes } from './routes/static.js';
import { createHandler } from './server.js';
import { settingsRoutes } from './routes/settings.js';
import { LoginForms, PendingLogins, SessionStore } from './session.js';
import type { LocalAccounts, UserResources, WebmailState } from './state.js';

export interface RunningWebmail {
  port: number;
  close(): Promise<void>;
}

export async function start(config: Config, options: { logger: Logger }): Promise<RunningWebmail> {
  const { logger } = options;
  if (!config.listen.webmail) throw new Error('listen.webmail is not set');
  loadAssets();
  let local: LocalAccounts | null = null;
  if (!config.webmail.imap) {
    const m = openMailDb(config);
    local = { accounts: m.accounts, throttle: LoginThrottle.fromConfig(config.auth, m.db), close: () => m.close() };
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
    ...settingsRoutes,
    ...staticRoutes(['app.css', 'app.js', 'icon.svg']),
  ];
  const server: Server = createServer({ requestTimeout: 5 * 60_000, headersTimeout: 30_000 }, createHandler(state, routes));
  server.keepAliveTimeout = 30_000;
  const { host, port } = splitHostPort(config.listen.webmail);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  logger.info(
    { listen: `${host}:${bound}`, imap: `${state.imap.host}:${state.imap.port}`, smtp: `${state.smtp.host}:${state.smtp.port}` },
    'webmail listening',
  );
  return {
    port: bound,
    async close(): Promise<void> {
      // Sessions first: that ends the event streams, whose responses would keep the server open.
      await state.sessions.closeAll();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      state.local?.close();
    },
  };
}
