/**
 * @postern/imap: the IMAP4rev2 / IMAP4rev1 protocol codec (RFC 9051, RFC 3501), with no sockets.
 *
 * Invariants: nothing here touches the network or the store; every function is pure or a
 * stream transform with explicit limits, so the server and the tests share one codec.
 *
 * - Three layers, kept apart: `ImapFramer` (bytes -> command units: lines and literals, limits),
 *   `parseCommand` (unit -> typed `Command`, pure), and the response serializers (data -> bytes).
 *   Handling commands is the server's business.
 * - The framer never throws from `push()` except a typed FramingError, never buffers past its
 *   limits, and never reads the octets of a literal it refused as commands.
 * - The parser throws only ImapParseError (with the tag when readable). Sequence sets stay
 *   ranges: nothing allocates per message unless `expandSequenceSet` is asked to.
 * - Responses are Buffers; message data is passed through uncopied. Mailbox names are Unicode
 *   in the API and encoded (modified UTF-7, or UTF-8 under UTF8=ACCEPT) only on the wire.
 */
export { imapString, imapNString, imapAString } from './string.js';

export { FramingError, ImapParseError, type FramingErrorCode } from './errors.js';

export {
  ImapFramer,
  DEFAULT_FRAMER_LIMITS,
  LITERAL_MINUS_MAX,
  extractTag,
  findLiteralMarker,
  type FramerLimits,
  type FrameEvent,
  type CommandUnit,
  type Literal,
  type LiteralSpool,
  type SpooledLiteral,
} from './framing.js';

export { parseCommand, type ParseOptions } from './parser.js';
export { mailboxPatternMatcher, MAX_MAILBOX_PATTERN } from './mailbox-pattern.js';
export { FETCH_MACROS } from './parse-fetch.js';
export { SEARCH_CHARSETS } from './parse-search.js';
export { formatCommand, type WriteOptions } from './command-writer.js';

export {
  STATUS_ITEMS,
  type Command,
  type CommandName,
  type CommandOf,
  type StatusItem,
  type BodySection,
  type FetchPartial,
  type FetchAttribute,
  type FetchMacro,
  type StoreAction,
  type SearchKey,
  type SearchReturnOption,
  type ModSeqEntry,
  type QresyncParams,
  type AppendMessage,
  type ListSelectOption,
  type ListReturnOptions,
} from './command.js';

export {
  MAX_SEQ_NUMBER,
  parseSequenceSet,
  formatSequenceSet,
  compactSequenceSet,
  sequenceSetFromNumbers,
  resolveSequenceSet,
  sequenceSetContains,
  iterateSequenceSet,
  expandSequenceSet,
  sequenceSetSize,
  sequenceSetHighest,
  type SequenceSet,
  type SeqRange,
  type SeqNumber,
} from './sequence.js';

export { encodeModifiedUtf7, decodeModifiedUtf7, ModifiedUtf7Error } from './utf7.js';
export { decodeMailboxBytes, normalizeMailboxName, encodeMailboxName, MailboxNameError } from './mailbox.js';
export {
  parseImapDate,
  formatImapDate,
  parseImapDateTime,
  formatImapDateTime,
  type ImapDate,
  type ImapDateTime,
} from './datetime.js';

export {
  formatResponseCode,
  formatUidSet,
  type ResponseCode,
  type SimpleResponseCode,
  type UidSetLike,
} from './response-code.js';
export { formatSection, formatFetchAttribute } from './section.js';
export {
  untagged,
  taggedResponse,
  untaggedStatus,
  continuation,
  parseErrorResponse,
  framingErrorResponse,
  formatFlags,
  formatMailbox,
  capabilityResponse,
  enabledResponse,
  existsResponse,
  recentResponse,
  expungeResponse,
  vanishedResponse,
  flagsResponse,
  listResponse,
  statusResponse,
  searchResponse,
  esearchResponse,
  namespaceResponse,
  idResponse,
  fetchResponse,
  fetchResponseText,
  isFetchTextKind,
  type FetchTextItem,
  type ResponseOptions,
  type ResponseStatus,
  type ListEntry,
  type StatusValues,
  type EsearchResult,
  type NamespaceEntry,
  type FetchResponseItem,
} from './response.js';
