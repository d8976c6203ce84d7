/**
 * SEARCH arguments (RFC 9051 §6.4.4, RFC 4731 ESEARCH RETURN options, RFC 5182 SAVE and `$`,
 * RFC 7162 §3.1.5 MODSEQ, RFC 5032 OLDER/YOUNGER).
 */
import type { ModSeqEntry, SearchKey, SearchReturnOption } from './command.js';
import { parseImapDate, type ImapDate } from './datetime.js';
import { ImapParseError } from './errors.js';
import type { Reader } from './reader.js';

/** Nesting limit for NOT/OR/parentheses: deep enough for any client, shallow enough for the stack. */
const MAX_DEPTH = 64;

/** Charsets SEARCH accepts (RFC 9051 §6.4.4: US-ASCII and UTF-8 are required). */
export const SEARCH_CHARSETS: readonly string[] = ['UTF-8', 'US-ASCII'];

const FLAG_KEYS = new Set([
  'ALL',
  'ANSWERED',
  'DELETED',
  'DRAFT',
  'FLAGGED',
  'SEEN',
  'RECENT',
  'NEW',
  'OLD',
  'UNANSWERED',
  'UNDELETED',
  'UNDRAFT',
  'UNFLAGGED',
  'UNSEEN',
]);
const STRING_KEYS = new Set(['BCC', 'BODY', 'CC', 'FROM', 'SUBJECT', 'TEXT', 'TO']);
const DATE_KEYS = new Set(['BEFORE', 'ON', 'SINCE', 'SENTBEFORE', 'SENTON', 'SENTSINCE']);
const ARGUMENT_KEYS = new Set(['KEYWORD', 'UNKEYWORD', 'HEADER', 'LARGER', 'SMALLER', 'OLDER', 'YOUNGER', 'UID', 'NOT', 'OR', 'MODSEQ']);
const RETURN_OPTIONS = new Set<string>(['MIN', 'MAX', 'ALL', 'COUNT', 'SAVE']);

/** `date` = date-text / DQUOTE date-text DQUOTE */
function searchDate(r: Reader): ImapDate {
  const text = r.peek() === 0x22 ? r.quotedBytes().toString('latin1') : r.atom('a date');
  const d = parseImapDate(text);
  if (!d) r.fail(`Invalid date "${text}"`);
  return d;
}

function modSeqKey(r: Reader): SearchKey {
  // "MODSEQ" [SP entry-name SP entry-type-req] SP mod-sequence-valzer
  let entry: ModSeqEntry | null = null;
  if (r.peek() === 0x22) {
    const name = r.quotedBytes().toString('utf8');
    r.sp();
    const type = r.atom('an entry type').toLowerCase();
    if (type !== 'priv' && type !== 'shared' && type !== 'all') r.fail('Invalid MODSEQ entry type');
    r.sp();
    entry = { name, type };
  }
  return { type: 'modseq', modseq: r.number64(), entry };
}

export function searchKey(r: Reader, depth = 0): SearchKey {
  if (depth > MAX_DEPTH) r.fail('Search program nested too deeply');
  const c = r.peek();
  if (c === 0x28) {
    const keys = r.parenList(() => searchKey(r, depth + 1), false);
    return { type: 'and', keys };
  }
  if ((c >= 0x30 && c <= 0x39) || c === 0x2a || c === 0x24) return { type: 'seq', set: r.sequenceSet() };
  const key = r.keyword('a search key');
  if (FLAG_KEYS.has(key)) return { type: key.toLowerCase() } as SearchKey;
  if (!STRING_KEYS.has(key) && !DATE_KEYS.has(key) && !ARGUMENT_KEYS.has(key)) r.fail(`Unknown search key "${key}"`);
  r.sp();
  if (STRING_KEYS.has(key)) {
    return { type: key.toLowerCase() as 'bcc', value: r.astring() };
  }
  if (DATE_KEYS.has(key)) return { type: key.toLowerCase() as 'before', date: searchDate(r) };
  switch (key) {
    case 'KEYWORD':
    case 'UNKEYWORD':
      return { type: key === 'KEYWORD' ? 'keyword' : 'unkeyword', flag: r.atom('a keyword') };
    case 'HEADER': {
      const field = r.astring();
      r.sp();
      return { type: 'header', field, value: r.astring() };
    }
    case 'LARGER':
    case 'SMALLER':
      return { type: key === 'LARGER' ? 'larger' : 'smaller', size: r.number64() };
    case 'OLDER':
    case 'YOUNGER':
      return { type: key === 'OLDER' ? 'older' : 'younger', seconds: r.nzNumber() };
    case 'UID':
      return { type: 'uid', set: r.sequenceSet() };
    case 'NOT':
      return { type: 'not', key: searchKey(r, depth + 1) };
    case 'OR': {
      const left = searchKey(r, depth + 1);
      r.sp();
      return { type: 'or', left, right: searchKey(r, depth + 1) };
    }
    case 'MODSEQ':
      return modSeqKey(r);
    default:
      r.fail(`Unknown search key "${key}"`);
  }
}

export interface SearchProgram {
  charset: string | null;
  criteria: SearchKey;
  returnOptions: SearchReturnOption[] | null;
}

/** Everything after `SEARCH SP`: [RETURN (...) SP] [CHARSET x SP] key *(SP key). */
export function searchProgram(r: Reader): SearchProgram {
  let returnOptions: SearchReturnOption[] | null = null;
  if (r.acceptKeyword('RETURN')) {
    r.sp();
    const opts = r.parenList(() => {
      const o = r.keyword('a RETURN option');
      if (!RETURN_OPTIONS.has(o)) r.fail(`Unknown RETURN option "${o}"`);
      return o as SearchReturnOption;
    }, true);
    // RFC 4731 §3.1: an empty list means ALL.
    returnOptions = opts.length === 0 ? ['ALL'] : [...new Set(opts)];
    r.sp();
  }
  let charset: string | null = null;
  if (r.acceptKeyword('CHARSET')) {
    r.sp();
    charset = r.astring().toUpperCase();
    if (!SEARCH_CHARSETS.includes(charset)) {
      throw new ImapParseError(`Unsupported charset ${charset}`, r.tag, r.command, 'NO', {
        code: 'BADCHARSET',
        charsets: SEARCH_CHARSETS,
      });
    }
    r.sp();
  }
  const keys: SearchKey[] = [searchKey(r)];
  while (!r.atEnd()) {
    r.sp();
    keys.push(searchKey(r));
  }
  return { charset, criteria: { type: 'and', keys }, returnOptions };
}
