/**
 * Search criteria (./interface.ts) compiled to one SQL WHERE clause over `messages m JOIN
 * contents c`: flags, dates, sizes, UIDs and modseq are columns; address and subject keys read
 * the decoded columns computed at delivery; TEXT and BODY go through the full-text indexes
 * (below); any other header field is read from the stored header by a registered SQL function.
 *
 * TEXT and BODY: RFC 9051 §6.4.4 says a string matches as a substring ("ell" finds "hello",
 * "lo wo" finds "hello world"), case-insensitively. The word index (content_fts, unicode61)
 * cannot do that: it finds words and word prefixes, and a multi-word string became "every word
 * somewhere". So a string of 3 characters or more goes to content_trigram (schema migration 3),
 * an FTS5 trigram index over the same text, where a quoted string matches exactly where it
 * occurs as a substring (case and diacritics folded). Why an index and not a scan: a scan has
 * to decode every message's text (MIME, charsets) on each search, seconds per SEARCH at 100,000
 * messages. Measured with bench/imap at 100,000 messages (1.5 KB of text each), word index only
 * -> with the trigram index: a selective substring ("oken50000", inside a word) 9-11 ms with the
 * right answer (the word index found nothing); one every message matches ("ipsum dolor")
 * 210-300 ms instead of 120-130 ms; SELECT and SEARCH on header columns unchanged (within noise);
 * mail.db 645 -> 897 MB (+39%; the text is most of that bench's data, so real mailboxes with
 * attachments pay less); bulk delivery 20 -> 38-68 s per 100,000 (the trigram insert), which is
 * why delivery leaves the trigrams to the indexer (./trigram.ts): a search indexes the
 * mailbox's pending contents before it runs a query on content_trigram.
 * The word index stays: it serves the cases below and costs little.
 * Left to the word index: strings under 3 characters (a trigram index holds none shorter;
 * they match the decoded Subject/From/To/Cc/Bcc as substrings and body words by prefix), and
 * contents delivered while a search runs (content_trigram_pending).
 *
 * Other semantic notes: header string matching is case-insensitive for ASCII (SQLite LIKE).
 */
import { headerFields } from '@postern/mime';
import type { Db } from '../sqlite.js';
import type { SearchCriteria } from './interface.js';
import { FLAG_BITS } from './schema.js';

const COLUMN_OF: Record<string, string> = {
  subject: 'c.subject',
  from: 'c.from_text',
  to: 'c.to_text',
  cc: 'c.cc_text',
  bcc: 'c.bcc_text',
  'message-id': "COALESCE(c.message_id, '')",
  'in-reply-to': "COALESCE(c.in_reply_to, '')",
};

function likePattern(value: string): string {
  return `%${value.replace(/[\\%_]/g, (m) => `\\${m}`)}%`;
}

/** Words of a search string as FTS5 prefix phrases: `"hello"* AND "wor"*`; null when it has none. */
export function ftsQuery(value: string): string | null {
  const words = value.match(/[\p{L}\p{N}]+/gu);
  if (!words || words.length === 0) return null;
  return words.map((w) => `"${w}"*`).join(' AND ');
}

/** The trigram index answers strings of at least this many characters (code points). */
export const TRIGRAM_MIN = 3;

/** A search string as one FTS5 string (a substring query on the trigram index). */
export function trigramQuery(value: string): string {
  return `"${value.replace(/"/g, '""')}"`;
}

export interface CompiledSearch {
  readonly sql: string;
  readonly params: unknown[];
  /** The query reads content_trigram: the mailbox's pending contents must be indexed first. */
  readonly usesSubstringIndex: boolean;
  /** The query reads the contents row (c.*). */
  readonly usesContent: boolean;
  /** Header criteria on fields without a column: each parses stored headers, so the query runs in slices. */
  readonly headerKeys: number;
  /** Their field names, lowercase. */
  readonly headerFields: ReadonlySet<string>;
}

const HEADER_FN = 'postern_header_contains';
const HEADER_KNOWN_FN = 'postern_header_known';

/**
 * The header of the message being matched, parsed once: field name (lowercase) -> the unfolded,
 * lowercased values. SQLite evaluates every key of one row before the next row, so one entry
 * serves all the header criteria of a message: a SEARCH with 490 HEADER keys once parsed (and
 * copied out of SQLite) each 250 KB header 490 times, 17-36 s of one thread (issue 14).
 */
interface ParsedHeader {
  messageId: number;
  fields: Map<string, string[]>;
}

/** Reads the fields named in `wanted` (lowercase) of one message's header; no other field is built. */
function parseHeader(messageId: number, prefix: unknown, chunk: unknown, headerEnd: unknown, wanted: ReadonlySet<string>): ParsedHeader {
  const parts: Buffer[] = [];
  if (Buffer.isBuffer(prefix)) parts.push(prefix);
  if (Buffer.isBuffer(chunk)) parts.push(chunk.subarray(0, Math.min(chunk.length, Number(headerEnd))));
  const fields = new Map<string, string[]>();
  for (const f of headerFields(Buffer.concat(parts), wanted)) {
    const key = f.name.toLowerCase();
    const text = f.raw
      .toString('utf8')
      .slice(f.name.length + 1)
      .replace(/\r?\n[ \t]/g, ' ')
      .toLowerCase();
    const list = fields.get(key);
    if (list === undefined) fields.set(key, [text]);
    else list.push(text);
  }
  return { messageId, fields };
}

interface HeaderState {
  last: ParsedHeader | null;
  /** The field names the running search asks about (startHeaderSearch). */
  wanted: ReadonlySet<string>;
}

const cache = new WeakMap<Db, HeaderState>();

/**
 * Registers the header-matching functions on a connection. postern_header_known(id): is the
 * header of message `id` the one parsed last? postern_header_contains(id, prefix, chunk,
 * header_end, name, value): does any field `name` of the header (our prefix, then the content's
 * header, which lies in its first chunk) contain `value`? The SQL asks the first in a CASE so
 * that the header's bytes are read out of SQLite only for the first key of each message.
 */
export function registerSearchFunctions(db: Db): void {
  if (cache.has(db)) return;
  const state: HeaderState = { last: null, wanted: new Set() };
  cache.set(db, state);
  // not deterministic: both depend on the message parsed last
  db.function(HEADER_KNOWN_FN, { deterministic: false }, (id: unknown) => (state.last !== null && state.last.messageId === Number(id) ? 1 : 0));
  db.function(HEADER_FN, { deterministic: false }, (id: unknown, prefix: unknown, chunk: unknown, headerEnd: unknown, name: unknown, value: unknown) => {
    const messageId = Number(id);
    if (state.last === null || state.last.messageId !== messageId) state.last = parseHeader(messageId, prefix, chunk, headerEnd, state.wanted);
    const values = state.last.fields.get(String(name).toLowerCase());
    if (values === undefined) return 0;
    const needle = String(value).toLowerCase();
    if (needle === '') return 1;
    return values.some((v) => v.includes(needle)) ? 1 : 0;
  });
}

/**
 * Before each query of a search: the field names it asks about (CompiledSearch.headerFields),
 * and the header parsed last forgotten (a message id may be reused after an expunge, and
 * another session's search may have run in between).
 */
export function startHeaderSearch(db: Db, fields: ReadonlySet<string>): void {
  const state = cache.get(db);
  if (!state) return;
  state.last = null;
  state.wanted = fields;
}

function uidRangeSql(ranges: ReadonlyArray<readonly [number, number]>, params: unknown[]): string {
  if (ranges.length === 0) return '0';
  return `(${ranges
    .map(([lo, hi]) => {
      params.push(lo, hi);
      return 'm.uid BETWEEN ? AND ?';
    })
    .join(' OR ')})`;
}

export function compileSearch(criteria: SearchCriteria): CompiledSearch {
  const params: unknown[] = [];
  let usesSubstringIndex = false;
  let usesContent = false;
  let headerKeys = 0;
  const headerNames = new Set<string>();
  const column = (name: string): string => {
    usesContent = true;
    return name;
  };
  const walk = (k: SearchCriteria): string => {
    switch (k.type) {
      case 'all':
        return '1';
      case 'none':
        return '0';
      case 'flag':
        return `(m.flags & ${FLAG_BITS[k.flag]}) ${k.set ? '!=' : '='} 0`;
      case 'keyword':
        params.push(` ${k.keyword.toLowerCase()} `);
        return `instr(' ' || lower(m.keywords) || ' ', ?) ${k.set ? '>' : '='} 0`;
      case 'field':
        params.push(likePattern(k.value));
        return `${column(COLUMN_OF[k.field] as string)} LIKE ? ESCAPE '\\'`;
      case 'header': {
        const field = k.field.toLowerCase();
        const col = COLUMN_OF[field];
        if (col && k.value !== '') {
          params.push(likePattern(k.value));
          return `${column(col)} LIKE ? ESCAPE '\\'`;
        }
        headerKeys++;
        headerNames.add(field);
        params.push(field, k.value, field, k.value);
        return (
          `(CASE WHEN ${HEADER_KNOWN_FN}(m.id) THEN ${HEADER_FN}(m.id, NULL, NULL, NULL, ?, ?)` +
          ` ELSE ${HEADER_FN}(m.id, m.prefix, (SELECT data FROM content_chunks WHERE content_id = m.content_id AND seq = 0), ${column('c.header_end')}, ?, ?) END)`
        );
      }
      case 'body':
      case 'text': {
        if (k.value === '') return '1'; // the empty string is a substring of everything
        const prefix = k.type === 'body' ? 'body : ' : '';
        const words = ftsQuery(k.value);
        if ([...k.value].length >= TRIGRAM_MIN) {
          usesSubstringIndex = true;
          params.push(prefix + trigramQuery(k.value));
          const trigram = 'm.content_id IN (SELECT rowid FROM content_trigram WHERE content_trigram MATCH ?)';
          if (words === null) return trigram;
          // Contents not yet in the trigram index answer through the word index.
          params.push(prefix + `(${words})`);
          return (
            `(${trigram} OR (m.content_id IN (SELECT content_id FROM content_trigram_pending)` +
            ' AND m.content_id IN (SELECT rowid FROM content_fts WHERE content_fts MATCH ?)))'
          );
        }
        // One or two characters: substrings of the decoded header columns (TEXT), body words by prefix.
        const parts: string[] = [];
        if (k.type === 'text') {
          for (const col of ['c.subject', 'c.from_text', 'c.to_text', 'c.cc_text', 'c.bcc_text']) {
            params.push(likePattern(k.value));
            parts.push(`${column(col)} LIKE ? ESCAPE '\\'`);
          }
        }
        if (words !== null) {
          params.push(prefix + `(${words})`);
          parts.push('m.content_id IN (SELECT rowid FROM content_fts WHERE content_fts MATCH ?)');
        }
        return parts.length === 0 ? '0' : `(${parts.join(' OR ')})`;
      }
      case 'date': {
        const col = k.of === 'internal' ? 'm.internal_date' : `COALESCE(${column('c.sent_date')}, m.internal_date)`;
        const parts: string[] = [];
        if (k.from !== undefined) {
          params.push(k.from);
          parts.push(`${col} >= ?`);
        }
        if (k.before !== undefined) {
          params.push(k.before);
          parts.push(`${col} < ?`);
        }
        return parts.length === 0 ? '1' : `(${parts.join(' AND ')})`;
      }
      case 'larger':
        params.push(k.size);
        return 'm.size > ?';
      case 'smaller':
        params.push(k.size);
        return 'm.size < ?';
      case 'uids':
        return uidRangeSql(k.ranges, params);
      case 'modseq':
        params.push(k.min);
        return 'm.modseq >= ?';
      case 'not':
        return `NOT (${walk(k.criteria)})`;
      case 'or':
        return `((${walk(k.left)}) OR (${walk(k.right)}))`;
      case 'and':
        return k.criteria.length === 0 ? '1' : `(${k.criteria.map((x) => `(${walk(x)})`).join(' AND ')})`;
    }
  };
  const sql = walk(criteria);
  return { sql, params, usesSubstringIndex, usesContent, headerKeys, headerFields: headerNames };
}
