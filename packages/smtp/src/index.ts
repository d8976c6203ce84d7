/**
 * @postern/smtp: what every Postern server built on smtp-server shares (submission, the MX,
 * LMTP in the delivery agent).
 *
 * Invariants: every refusal carries its own RFC 3463 enhanced status code and that code is the
 * one the client sees; message size and line length are checked in one place; connection limits
 * are counted before the greeting, which comes after the configured delay (0: at once); the
 * MX and submission hold every session to deadlines a trickling client cannot stretch, and count
 * the bytes of arriving messages against the process's budget (spooled past 1 MiB).
 */
export { SmtpReply, installEnhancedCodes, ENHANCED_CODE, isDiskFull, storageFailure } from './reply.js';
export { readMessage, SPOOL_AFTER, type InFlight, type ReadMessage } from './read-message.js';
export { cleanSpool, SyncSpoolFile } from './spool.js';
export { ConnectionLimits } from './connection-limits.js';
export { authenticateSmtp, type SmtpAuthDeps } from './auth.js';
export { createSmtpServer } from './greeting.js';
export { sharedServerOptions, type ServerOptionsDeps } from './server-options.js';
export { queuedEnvelope, type QueuedEnvelope } from './envelope.js';
export { logMail, receive, receivedField, type ReceiveDeps } from './receive.js';
export { logServerError } from './server-errors.js';
