/**
 * IMAP retrieval (RFC 9051 / RFC 3501 with IDLE, UIDPLUS, MOVE, LITERAL+, SASL-IR, SPECIAL-USE,
 * NAMESPACE, ID, ENABLE, UNSELECT, CHILDREN, LIST-EXTENDED, LIST-STATUS, STATUS=SIZE, ESEARCH,
 * SEARCHRES, CONDSTORE, QRESYNC, APPENDLIMIT, UTF8=ACCEPT, BINARY, MULTIAPPEND) over the store.
 *
 * Invariants:
 * - Layers: @postern/imap frames and parses (no sockets) -> session.ts dispatches through the
 *   state table (state.ts) to one handler per command group (handlers/) -> replies are written
 *   by the session's dispatcher through the connection's writer, with back-pressure.
 * - Answers come from what delivery precomputed: SELECT reads counters and the UID list;
 *   FETCH reads rows and ready-made ENVELOPE/BODYSTRUCTURE strings a page at a time; body
 *   sections read only their byte range, and one over 64 KiB streams chunk by chunk from the
 *   store (literal.ts), so no FETCH holds a large message; SEARCH is one store call (full-text
 *   indexes for TEXT/BODY: substrings, then words; packages/core/src/store/search.ts).
 * - Each session keeps its own sequence map; others' changes are reported in RFC order at the
 *   moments RFC 9051 §7.4.1 allows, and immediately while IDLE.
 * - Logins only over TLS (except development on loopback); failures throttled.
 */
export { startImapServer, userConnectionLimit, PREAUTH_LITERAL_MAX, type ImapServer, type ImapServerOptions } from './server.js';
