/**
 * POP3 retrieval (RFC 1939, RFC 2449 CAPA, RFC 2595 STLS, RFC 5034 SASL PLAIN) over the user's
 * INBOX in the message store.
 *
 * Invariants:
 * - Logins only over TLS (STLS or the pop3s listener), except the development profile on
 *   loopback; failed logins are throttled.
 * - The maildrop is the INBOX as it was at login; deletions happen only at QUIT (UPDATE state),
 *   as one transaction that expunges exactly the deleted UIDs. A dropped connection deletes nothing.
 * - Layers: framer (lines) → parser (typed commands) → session (state table, handlers) →
 *   writer (the only code that writes replies).
 */
export { startPop3Server, MIN_IDLE_TIMEOUT_MS, MAX_COMMAND_LINE, type Pop3Server, type Pop3ServerOptions } from './server.js';
export { parseCommand, type Pop3Command, type ParseResult } from './command.js';
