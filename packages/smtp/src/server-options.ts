/**
 * The smtp-server options our two internet-facing servers (the MX and submission) share: the
 * TLS material, the extensions we announce, size and timeouts, connection limits counted before
 * the greeting (421 when over), and AUTH as authenticateSmtp does it, not even offered before
 * TLS (RFC 4954 §4; the development profile offers it on loopback too). A server with
 * `auth: false` (the MX) offers no AUTH at all and answers it `503 5.5.1`.
 */
import type { TLSSocket } from 'node:tls';
import type { SMTPServerOptions } from 'smtp-server';
import { metrics, passwordAllowed, SERVER_TLS, type Config, type TlsMaterial } from '@postern/core';
import { authenticateSmtp, type SmtpAuthDeps } from './auth.js';
import type { ConnectionLimits } from './connection-limits.js';
import { SmtpReply } from './reply.js';

export interface ServerOptionsDeps extends SmtpAuthDeps {
  config: Config;
  tls: TlsMaterial;
  limits: ConnectionLimits;
  /** Whether this server offers AUTH at all (submission: yes; the MX: no, as Postfix on 25). */
  auth: boolean;
}

export function sharedServerOptions(deps: ServerOptionsDeps): SMTPServerOptions {
  const { config, log } = deps;
  return {
    name: config.hostname,
    key: deps.tls.current.key,
    cert: deps.tls.current.cert,
    SNICallback: deps.tls.sniCallback,
    ...SERVER_TLS,
    size: config.limits.message_size,
    rejectOversized: true,
    // [] is createSmtpServer's "no AUTH on this server"
    authMethods: deps.auth ? ['PLAIN', 'LOGIN'] : [],
    // AUTH before TLS is refused in authenticateSmtp except on loopback in development
    allowInsecureAuth: config.profile === 'development',
    hideENHANCEDSTATUSCODES: false,
    hideDSN: false,
    hidePIPELINING: false,
    hide8BITMIME: false,
    hideSMTPUTF8: false,
    disableReverseLookup: true,
    socketTimeout: config.limits.command_timeout,
    closeTimeout: 5_000,
    logger: false,
    onConnect(session, cb) {
      try {
        deps.limits.open(session);
        if (deps.auth && !session.secure && !passwordAllowed(config, false, session.remoteAddress)) session.disabledCommands = ['AUTH'];
        cb();
      } catch (err) {
        log.info({ cid: session.id, ip: session.remoteAddress }, 'connection refused: limit');
        cb(err as Error);
      }
    },
    onSecure(socket, session, cb) {
      metrics.tls.inc({ protocol: deps.auth ? 'submission' : 'smtp', version: (socket as TLSSocket).getProtocol?.() ?? 'unknown' });
      session.disabledCommands = [];
      cb();
    },
    onClose(session) {
      deps.limits.close(session.id);
    },
    onAuth(auth, session, cb) {
      // RFC 4616 §2: acting as another user (an authzid other than the authcid) is not offered,
      // as IMAP and POP3 refuse it; smtp-server would drop the authzid without a word
      if (auth.authzid && auth.authzid.toLowerCase() !== (auth.username ?? '').toLowerCase()) {
        log.warn({ cid: session.id, ip: session.remoteAddress, user: auth.username }, 'auth refused: foreign authorization identity');
        return cb(new SmtpReply(535, '5.7.8', 'Authorization identity not allowed'));
      }
      void authenticateSmtp(deps, auth.username ?? '', auth.password ?? '', session).then(
        (user) => cb(null, { user }),
        (err: Error) => cb(err),
      );
    },
  };
}
