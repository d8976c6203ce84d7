/**
 * What smtp-server's 'error' event means for the log: a client that went away before or
 * during the TLS handshake (a health check's connect-and-close on port 465, a scanner), or
 * whose handshake failed (it refused our certificate, or offered no cipher we allow), is an
 * ordinary event, one info line; anything else is an error worth its stack.
 */
import type { Logger } from '@postern/core';

interface SmtpServerError extends Error {
  code?: string;
  /** smtp-server sets false on errors that are the normal end of a connection. */
  report?: boolean;
  meta?: { remoteAddress?: string; stage?: string };
  /** OpenSSL's reason, on a failed handshake ("tlsv1 alert unknown ca", "no shared cipher"). */
  reason?: string;
}

const CLIENT_GONE = new Set(['SocketError', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ERR_TLS_HANDSHAKE_TIMEOUT']);

export function logServerError(log: Logger, listener: string, raw: Error): void {
  const err = raw as SmtpServerError;
  if (err.report === false || (err.code !== undefined && CLIENT_GONE.has(err.code))) {
    log.info({ listener, remote: err.meta?.remoteAddress, code: err.code }, `${listener}: client left before the session began (${err.message})`);
    return;
  }
  if (err.code?.startsWith('ERR_SSL_')) {
    log.info({ listener, remote: err.meta?.remoteAddress, code: err.code }, `${listener}: TLS handshake with the client failed (${err.reason ?? err.message})`);
    return;
  }
  log.error({ err, listener }, `${listener} server error`);
}
