/**
 * Response serialization (RFC 9051 §7): the one place that turns server data into bytes.
 *
 * Every function returns bytes ready for the socket. Small responses come as one Buffer;
 * FETCH responses come as a list of Buffers in which message data is passed through uncopied,
 * so a 25 MB body is never turned into a string. Text that the server supplies for a response
 * line has CR and LF replaced, so no caller can inject a line.
 */
import type { BodySection, StatusItem } from './command.js';
import { formatImapDateTime } from './datetime.js';
import type { FramingError, ImapParseError } from './errors.js';
import { encodeMailboxName } from './mailbox.js';
import { formatResponseCode, formatUidSet, type ResponseCode, type UidSetLike } from './response-code.js';
import { formatSection } from './section.js';
import { imapAString, imapNString, imapString } from './string.js';

const CRLF = '\r\n';

export interface ResponseOptions {
  /** UTF8=ACCEPT is enabled: mailbox names go out as UTF-8 (RFC 6855 §3), else modified UTF-7. */
  readonly utf8Accept?: boolean;
}

export type ResponseStatus = 'OK' | 'NO' | 'BAD';

const DEFAULT_TEXT: Record<string, string> = { OK: 'completed', NO: 'failed', BAD: 'error', BYE: 'closing', PREAUTH: 'ready' };

/** Response text: one line, never empty (RFC 3501 `text = 1*TEXT-CHAR`). */
function lineText(text: string, status: string): string {
  const clean = text.replace(/[\r\n\0]+/g, ' ').trim();
  return clean.length > 0 ? clean : (DEFAULT_TEXT[status] ?? 'done');
}

function respText(status: string, text: string, code: ResponseCode | null | undefined): string {
  const t = lineText(text, status);
  return code ? `${formatResponseCode(code)} ${t}` : t;
}

function line(text: string): Buffer {
  return Buffer.from(text + CRLF, 'utf8');
}

/** `* <text>`: an untagged response from ready-made text (no CRLF in `text`). */
export function untagged(text: string): Buffer {
  return line(`* ${text}`);
}

/** `<tag> OK|NO|BAD [code] text`: completes a command. */
export function taggedResponse(tag: string, status: ResponseStatus, text: string, code?: ResponseCode | null): Buffer {
  return line(`${tag} ${status} ${respText(status, text, code)}`);
}

/** `* OK|NO|BAD|BYE|PREAUTH [code] text`: greetings, warnings, BYE and state data. */
export function untaggedStatus(status: ResponseStatus | 'BYE' | 'PREAUTH', text: string, code?: ResponseCode | null): Buffer {
  return line(`* ${status} ${respText(status, text, code)}`);
}

/**
 * `+ text`: a continuation request (RFC 9051 §7.5). For AUTHENTICATE pass the base64
 * challenge, or nothing for an empty one (`+ ` with the space the grammar requires).
 */
export function continuation(text = ''): Buffer {
  return line(`+ ${text.replace(/[\r\n]+/g, ' ')}`);
}

/**
 * The reply to a command the parser rejected: `<tag> BAD <message>` (or `NO [BADCHARSET ...]`),
 * untagged `* BAD` when no tag could be read.
 */
export function parseErrorResponse(error: ImapParseError): Buffer {
  if (error.tag === null) return untaggedStatus('BAD', error.message, error.code);
  return taggedResponse(error.tag, error.status, error.message, error.code);
}

/**
 * The reply to a framing error. A literal over the size limit is `NO [TOOBIG]` (RFC 7889
 * APPENDLIMIT, RFC 9051 §7.1); an overlong line or a non-synchronizing literal over the
 * LITERAL- limit is `BAD [TOOBIG]` (RFC 7888 §4). Without a tag the reply is untagged; a fatal
 * error gets `* BYE` (the caller then closes the connection).
 */
export function framingErrorResponse(error: FramingError): Buffer {
  if (error.fatal) return untaggedStatus('BYE', error.message, { code: 'TOOBIG' });
  if (error.tag === null) return untaggedStatus('BAD', error.message, { code: 'TOOBIG' });
  const status = error.code === 'LITERAL_TOO_BIG' || error.code === 'COMMAND_TOO_BIG' ? 'NO' : 'BAD';
  return taggedResponse(error.tag, status, error.message, { code: 'TOOBIG' });
}

/** `(\Seen \Answered)` */
export function formatFlags(flags: readonly string[]): string {
  return `(${flags.join(' ')})`;
}

export function capabilityResponse(capabilities: readonly string[]): Buffer {
  return untagged(`CAPABILITY ${capabilities.join(' ')}`);
}

/** RFC 5161 §3.2: `* ENABLED` lists only what was newly enabled (may be empty). */
export function enabledResponse(capabilities: readonly string[]): Buffer {
  return untagged(capabilities.length > 0 ? `ENABLED ${capabilities.join(' ')}` : 'ENABLED');
}

export function existsResponse(count: number): Buffer {
  return untagged(`${count} EXISTS`);
}

/** IMAP4rev1 only (RFC 3501 §7.3.2). */
export function recentResponse(count: number): Buffer {
  return untagged(`${count} RECENT`);
}

export function expungeResponse(seq: number): Buffer {
  return untagged(`${seq} EXPUNGE`);
}

/** RFC 7162 §3.2.10: `* VANISHED (EARLIER) 1:5`. */
export function vanishedResponse(uids: UidSetLike, earlier: boolean): Buffer {
  return untagged(`VANISHED ${earlier ? '(EARLIER) ' : ''}${formatUidSet(uids)}`);
}

export function flagsResponse(flags: readonly string[]): Buffer {
  return untagged(`FLAGS ${formatFlags(flags)}`);
}

/** A mailbox name on the wire (`mailbox = "INBOX" / astring`). */
export function formatMailbox(name: string, options: ResponseOptions = {}): string {
  const utf8 = options.utf8Accept === true;
  return imapAString(encodeMailboxName(name, utf8), utf8);
}

/** The hierarchy delimiter: a quoted character or NIL. */
function formatDelimiter(delimiter: string | null): string {
  return delimiter === null ? 'NIL' : imapString(delimiter);
}

export interface ListEntry {
  /** Name attributes: `\HasNoChildren`, `\Sent`, `\Subscribed`, `\NonExistent`, ... */
  readonly attributes: readonly string[];
  readonly delimiter: string | null;
  /** The Unicode name (encoded on the way out). */
  readonly name: string;
  /** RFC 5258 §4 CHILDINFO extended data, e.g. `['SUBSCRIBED']`. */
  readonly childInfo?: readonly string[];
  /** RFC 9051 §6.3.9.7 OLDNAME after a rename. */
  readonly oldName?: string;
}

/** `* LIST (\HasNoChildren \Sent) "/" Sent` (or `* LSUB ...`). */
export function listResponse(entry: ListEntry, options: ResponseOptions & { readonly command?: 'LIST' | 'LSUB' } = {}): Buffer {
  let text = `${options.command ?? 'LIST'} ${formatFlags(entry.attributes)} ${formatDelimiter(entry.delimiter)} ${formatMailbox(entry.name, options)}`;
  const ext: string[] = [];
  if (entry.childInfo && entry.childInfo.length > 0) ext.push(`"CHILDINFO" (${entry.childInfo.map((c) => imapString(c)).join(' ')})`);
  if (entry.oldName !== undefined) ext.push(`"OLDNAME" (${formatMailbox(entry.oldName, options)})`);
  if (ext.length > 0) text += ` (${ext.join(' ')})`;
  return untagged(text);
}

/** STATUS values; MAILBOXID (RFC 8474) is a string, the rest numbers. */
export type StatusValues = Partial<Record<StatusItem, number | string>>;

/** `* STATUS blurdybloop (MESSAGES 231 UIDNEXT 44292)`, items in the order given. */
export function statusResponse(mailbox: string, values: StatusValues, options: ResponseOptions = {}): Buffer {
  const parts: string[] = [];
  for (const [item, value] of Object.entries(values)) {
    if (value === undefined) continue;
    parts.push(item === 'MAILBOXID' ? `${item} (${value})` : `${item} ${value}`);
  }
  return untagged(`STATUS ${formatMailbox(mailbox, options)} (${parts.join(' ')})`);
}

/** `* SEARCH 1 2 3` with an optional `(MODSEQ n)` (RFC 7162 §3.1.5). */
export function searchResponse(numbers: Iterable<number>, modseq?: number | null): Buffer {
  let text = 'SEARCH';
  for (const n of numbers) text += ` ${n}`;
  if (modseq !== undefined && modseq !== null) text += ` (MODSEQ ${modseq})`;
  return untagged(text);
}

export interface EsearchResult {
  /** The command's tag (RFC 4731 §3.1 `search-correlator`). */
  readonly tag: string | null;
  readonly uid: boolean;
  readonly min?: number | null;
  readonly max?: number | null;
  readonly count?: number | null;
  /** Left out when empty (RFC 4731 §3.1: ALL is not returned for no matches). */
  readonly all?: UidSetLike | null;
  readonly modseq?: number | null;
}

/** `* ESEARCH (TAG "a") UID MIN 1 MAX 3 COUNT 3 ALL 1:3 MODSEQ 5` */
export function esearchResponse(r: EsearchResult): Buffer {
  let text = 'ESEARCH';
  if (r.tag !== null) text += ` (TAG ${imapString(r.tag)})`;
  if (r.uid) text += ' UID';
  if (r.min !== undefined && r.min !== null) text += ` MIN ${r.min}`;
  if (r.max !== undefined && r.max !== null) text += ` MAX ${r.max}`;
  if (r.count !== undefined && r.count !== null) text += ` COUNT ${r.count}`;
  if (r.all !== undefined && r.all !== null) {
    const all = formatUidSet(r.all);
    if (all.length > 0) text += ` ALL ${all}`;
  }
  if (r.modseq !== undefined && r.modseq !== null) text += ` MODSEQ ${r.modseq}`;
  return untagged(text);
}

export interface NamespaceEntry {
  readonly prefix: string;
  readonly delimiter: string | null;
}

/** `* NAMESPACE (("" "/")) NIL NIL` (RFC 2342, RFC 9051 §7.3.4). */
export function namespaceResponse(
  personal: readonly NamespaceEntry[] | null,
  otherUsers: readonly NamespaceEntry[] | null,
  shared: readonly NamespaceEntry[] | null,
  options: ResponseOptions = {},
): Buffer {
  const utf8 = options.utf8Accept === true;
  const fmt = (list: readonly NamespaceEntry[] | null): string =>
    list === null || list.length === 0
      ? 'NIL'
      : `(${list.map((n) => `(${imapString(encodeMailboxName(n.prefix, utf8), utf8)} ${formatDelimiter(n.delimiter)})`).join('')})`;
  return untagged(`NAMESPACE ${fmt(personal)} ${fmt(otherUsers)} ${fmt(shared)}`);
}

/** `* ID ("name" "Postern" ...)` or `* ID NIL` (RFC 2971). */
export function idResponse(params: ReadonlyArray<readonly [string, string | null]> | null): Buffer {
  if (params === null || params.length === 0) return untagged('ID NIL');
  return untagged(`ID (${params.map(([k, v]) => `${imapString(k)} ${imapNString(v)}`).join(' ')})`);
}

// --- FETCH ------------------------------------------------------------------------------------

/** One item of a FETCH response. ENVELOPE and BODY(STRUCTURE) come precomputed from the store. */
export type FetchResponseItem =
  | { readonly kind: 'UID' | 'RFC822.SIZE' | 'MODSEQ'; readonly value: number }
  | { readonly kind: 'FLAGS'; readonly flags: readonly string[] }
  | { readonly kind: 'INTERNALDATE'; readonly date: Date; readonly offsetMinutes?: number }
  /** Ready-made `envelope` / `body` text, sent as is. */
  | { readonly kind: 'ENVELOPE' | 'BODYSTRUCTURE' | 'BODY'; readonly value: string }
  | { readonly kind: 'RFC822' | 'RFC822.HEADER' | 'RFC822.TEXT'; readonly data: Buffer | null }
  /** `BODY[section]<origin>`: name it as requested, without PEEK, origin only when partial. */
  | { readonly kind: 'BODY[]'; readonly section: BodySection; readonly origin?: number | null; readonly data: Buffer | null }
  /** RFC 3516: sent as literal8 `~{n}` when the data holds NUL. */
  | { readonly kind: 'BINARY[]'; readonly part: readonly number[]; readonly origin?: number | null; readonly data: Buffer | null }
  | { readonly kind: 'BINARY.SIZE'; readonly part: readonly number[]; readonly size: number };

/** Accumulates text and passes data Buffers through, for responses holding literals. */
class ChunkWriter {
  private readonly chunks: Buffer[] = [];
  private text = '';

  write(s: string): void {
    this.text += s;
  }

  literal(data: Buffer, binary: boolean): void {
    this.write(`${binary ? '~' : ''}{${data.length}}\r\n`);
    this.flush();
    if (data.length > 0) this.chunks.push(data);
  }

  private flush(): void {
    if (this.text.length > 0) this.chunks.push(Buffer.from(this.text, 'utf8'));
    this.text = '';
  }

  finish(): Buffer[] {
    this.flush();
    return this.chunks;
  }
}

function writeData(w: ChunkWriter, data: Buffer | null, binary: boolean): void {
  if (data === null) w.write('NIL');
  else w.literal(data, binary && data.includes(0));
}

/** The FETCH items that carry no message data: their whole response is text. */
const TEXT_KINDS = ['UID', 'RFC822.SIZE', 'MODSEQ', 'FLAGS', 'INTERNALDATE', 'ENVELOPE', 'BODYSTRUCTURE', 'BODY', 'BINARY.SIZE'] as const;
const TEXT_KIND_SET: ReadonlySet<string> = new Set(TEXT_KINDS);

export type FetchTextItem = Extract<FetchResponseItem, { kind: (typeof TEXT_KINDS)[number] }>;

/** True when a FETCH item of this kind, asked for or answered, is text only (no literal). */
export function isFetchTextKind(kind: string): boolean {
  return TEXT_KIND_SET.has(kind);
}

function itemText(item: FetchTextItem): string {
  switch (item.kind) {
    case 'UID':
    case 'RFC822.SIZE':
      return `${item.kind} ${item.value}`;
    case 'MODSEQ':
      return `MODSEQ (${item.value})`;
    case 'FLAGS':
      return `FLAGS ${formatFlags(item.flags)}`;
    case 'INTERNALDATE':
      return `INTERNALDATE "${formatImapDateTime(item.date, item.offsetMinutes ?? 0)}"`;
    case 'ENVELOPE':
    case 'BODYSTRUCTURE':
    case 'BODY':
      return `${item.kind} ${item.value}`;
    case 'BINARY.SIZE':
      return `BINARY.SIZE[${item.part.join('.')}] ${item.size}`;
  }
}

/**
 * `* 12 FETCH (UID 5 FLAGS (\Seen))\r\n` as text, for items without message data: a FETCH of
 * many messages can then make one Buffer per page instead of one per message.
 */
export function fetchResponseText(seq: number, items: readonly FetchTextItem[]): string {
  let out = `* ${seq} FETCH (`;
  for (let i = 0; i < items.length; i++) out += (i > 0 ? ' ' : '') + itemText(items[i]!);
  return `${out})\r\n`;
}

/**
 * `* 12 FETCH (UID 5 FLAGS (\Seen) BODY[HEADER] {342}\r\n...)`. Returns Buffers to write in
 * order; message data Buffers are included as they are, without copying.
 */
export function fetchResponse(seq: number, items: readonly FetchResponseItem[]): Buffer[] {
  const w = new ChunkWriter();
  w.write(`* ${seq} FETCH (`);
  items.forEach((item, i) => {
    if (i > 0) w.write(' ');
    switch (item.kind) {
      case 'UID':
      case 'RFC822.SIZE':
      case 'MODSEQ':
      case 'FLAGS':
      case 'INTERNALDATE':
      case 'ENVELOPE':
      case 'BODYSTRUCTURE':
      case 'BODY':
      case 'BINARY.SIZE':
        w.write(itemText(item));
        break;
      case 'RFC822':
      case 'RFC822.HEADER':
      case 'RFC822.TEXT':
        w.write(`${item.kind} `);
        writeData(w, item.data, false);
        break;
      case 'BODY[]': {
        const origin = item.origin !== undefined && item.origin !== null ? `<${item.origin}>` : '';
        w.write(`BODY[${formatSection(item.section)}]${origin} `);
        writeData(w, item.data, false);
        break;
      }
      case 'BINARY[]': {
        const origin = item.origin !== undefined && item.origin !== null ? `<${item.origin}>` : '';
        w.write(`BINARY[${item.part.join('.')}]${origin} `);
        writeData(w, item.data, true);
        break;
      }
    }
  });
  w.write(')\r\n');
  return w.finish();
}
