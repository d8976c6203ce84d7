/**
 * ManageSieve (RFC 5804): users store, check and activate their Sieve scripts with
 * sieve-connect, Thunderbird's Sieve add-on or Roundcube's managesieve plugin.
 *
 * Invariants:
 * - Logins only over TLS (STARTTLS), except the development profile on loopback; failures are
 *   throttled with IMAP's and POP3's (one LoginThrottle per process, in mail.db).
 * - A script is stored only if it compiles; errors name the line and column.
 * - Layers: reader (lines and literals, bounded) → command parser (typed commands) → session
 *   (state table, handlers) → reply writer (the only code that writes).
 */
export { startManageSieveServer, MAX_COMMAND_LINE, type ManageSieveServerOptions } from './server.js';
export { CommandReader, type Frame, type Token } from './reader.js';
export { parseCommand, type SieveCommand } from './command.js';
