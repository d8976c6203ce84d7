/**
 * @postern/imap: the IMAP4rev2 / IMAP4rev1 protocol codec (RFC 9051, RFC 3501), with no sockets.
 *
 * Invariants: nothing here touches the network or the store; every function is pure or a
 * stream transform with explicit limits, so the server and the tests share one codec.
 */
export { imapString, imapNString, imapAString } from './string.js';
