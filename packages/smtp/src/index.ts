/**
 * @postern/smtp: what every Postern SMTP/LMTP server built on smtp-server shares.
 *
 * Invariants: every refusal we make carries its own RFC 3463 enhanced status code
 * (`replyError(550, '5.1.1', 'unknown user')`), and that code is the one the client sees.
 */
export { replyError, ENHANCED_CODE, type SmtpReplyError } from './reply.js';
