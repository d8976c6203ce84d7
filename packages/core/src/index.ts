/**
 * @postern/core: the shared model of every Postern app.
 *
 * Invariants:
 * - No protocol servers live here: config, logging, SQLite, accounts, addresses, the message
 *   store, login throttling and TLS material only.
 * - Every write that acknowledges mail commits with synchronous=FULL before returning.
 * - mail.db's mailboxes, messages and contents have one owner, ./store: apps call its
 *   MessageStore interface (./store/interface.ts) and speak no SQL (scripts/check-store-wall.mjs).
 * - Addresses are parsed and normalised only by ./address.ts; config only by ./config.ts.
 */
export * from './config.js';
export * from './log.js';
export * from './sqlite.js';
export * from './address.js';
export * from './password.js';
export * from './accounts.js';
export * from './unix-users.js';
export * from './sendmail.js';
export * from './store/index.js';
export * from './maildb.js';
export * from './throttle.js';
export * from './net.js';
export * from './endpoint.js';
export * from './connections.js';
export * from './limits.js';
export * from './deadlines.js';
export * from './tls.js';
export * from './app.js';
export * from './queue/index.js';
export * from './dsn/index.js';
export * from './dns/index.js';
export * from './srs.js';
export * from './backup.js';
export * from './upgrade.js';
export * from './credentials.js';
export * from './metrics.js';
export * from './scram.js';
