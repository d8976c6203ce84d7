/**
 * @postern/mime: the MIME indexer the delivery agent runs once per message, so that the IMAP
 * server never parses a message again.
 *
 * Invariants:
 * - Pure: no I/O, no clock, no global state. The same bytes always give the same index.
 * - Offsets are byte offsets into the raw Buffer as stored; the message is never decoded to
 *   one string. For every part 0 <= headerStart <= bodyStart <= bodyEnd <= raw.length, parts
 *   are listed in pre-order, and a child lies inside its parent's body.
 * - indexMessage never throws and is bounded on any input: nesting by maxDepth, part count by
 *   maxParts, indexed text by maxTextBytes; boundary search is indexOf-based, linear in size
 *   per nesting level.
 * - ENVELOPE / BODYSTRUCTURE / BODY are complete IMAP values ready to send, built with
 *   @postern/imap's string rules, and follow RFC 9051 §7.5.2 as Dovecot renders it.
 */
export type { MimePart, IndexedMessage, IndexLimits } from './message.js';
export { DEFAULT_INDEX_LIMITS, indexMessage, decodePartBody, decodeText } from './message.js';
export { UnknownEncodingError } from './transfer-encoding.js';
export { headerFields } from './header.js';
export { parseMailDate } from './date.js';
