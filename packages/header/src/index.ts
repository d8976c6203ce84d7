/**
 * @postern/header: the header section of a message (RFC 5322 §2.2) read on its raw bytes: where
 * it ends, its fields, their values. The one definition every package uses (core's queue and
 * local injection, trust's checks and signing, the MIME indexer, the IMAP server): so that
 * "which field is this" and "where does the body start" have one answer along the mail path.
 *
 * Invariants:
 * - Pure and dependency-free: no I/O, no state. core, trust and mime all depend on it.
 * - Offsets are byte offsets into the Buffer given; a message is never decoded whole.
 * - Linear on any input: a field's colon is looked for in its own line only; headerEnd uses
 *   native searches alone (a header of millions of short lines costs milliseconds); the
 *   scanner allocates nothing per line and takes a budget for hostile headers.
 * - CRLF and bare LF line ends are both accepted; nothing is lost: a line without a colon is a
 *   field with an empty name.
 */
export { COLON, CR, LF, SP, TAB, headerBytesToString } from './bytes.js';
export {
  bodyStart,
  emptyLineIn,
  fieldValue,
  firstField,
  hasField,
  headerEnd,
  headerFields,
  headerSection,
  headerText,
  lastField,
  scanFields,
  splitFields,
  unfoldedValue,
  withoutFields,
  type FieldSpan,
  type HeaderBudget,
  type HeaderField,
  type HeaderSection,
  type RawField,
} from './fields.js';
