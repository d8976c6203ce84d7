/**
 * @postern/mime: the MIME indexer the delivery agent runs once per message, so that the IMAP
 * server never parses a message again.
 *
 * Invariants:
 * - Pure: no I/O, no clock, no global state. The same bytes always give the same index.
 * - Offsets are byte offsets into the raw Buffer as stored; the message is never decoded to
 *   one string. For every part 0 <= headerStart <= bodyStart <= bodyEnd <= raw.length, parts
 *   are listed in pre-order, and a child lies inside its parent's body.
 * - indexMessage never throws and is linear on any input, with hard caps (IndexLimits): nesting
 *   by maxDepth, part count by maxParts, header bytes per header by maxHeaderBytes, header lines
 *   per message by maxHeaderLines, decoded text bytes by maxDecodedBytes, indexed text by
 *   maxTextBytes. Past a cap the structure degrades (an opaque leaf, an unsplit rest, a part
 *   read as text/plain); the offsets still cover every byte. Boundary and colon searches stay
 *   within their line or region: a 25 MB message of any shape indexes in well under a second.
 * - ENVELOPE / BODYSTRUCTURE / BODY are complete IMAP values ready to send, built with
 *   @postern/imap's string rules, and follow RFC 9051 §7.5.2 as Dovecot renders it.
 */
export type { MimePart, IndexedMessage, IndexLimits } from './message.js';
export { DEFAULT_INDEX_LIMITS, indexMessage, decodePartBody, decodeText } from './message.js';
export { UnknownEncodingError } from './transfer-encoding.js';
export { headerFields } from './header.js';
export { htmlToText } from './html-text.js';
export { parseMailDate } from './date.js';
export { decodeEncodedWords } from './charset.js';
