/**
 * The command parser: one framed command unit in, one typed Command out (RFC 9051 §6, §9).
 * Pure: no I/O, no state beyond the options. Every syntax error is an ImapParseError that
 * carries the tag when it was readable, so the server can answer `<tag> BAD ...`.
 *
 * It follows the formal syntax closely, with a few leniencies real clients need: keywords in
 * any case, `*`-style patterns unquoted, a date-time day without its leading space, bare LF line
 * ends (in the framer), and 8-bit mailbox names taken as UTF-8 even without UTF8=ACCEPT.
 */
import type { AppendMessage, Command, ListReturnOptions, ListSelectOption, QresyncParams, StatusItem, StoreAction } from './command.js';
import { STATUS_ITEMS } from './command.js';
import { parseImapDateTime } from './datetime.js';
import { ImapParseError } from './errors.js';
import { extractTag, type CommandUnit } from './framing.js';
import { decodeMailboxBytes, MailboxNameError, normalizeMailboxName } from './mailbox.js';
import { fetchItems, fetchModifiers } from './parse-fetch.js';
import { searchProgram } from './parse-search.js';
import { Reader } from './reader.js';

export interface ParseOptions {
  /** UTF8=ACCEPT is enabled (RFC 6855): mailbox names are UTF-8, not modified UTF-7. */
  readonly utf8Accept?: boolean;
}

const SPACE = Buffer.from(' ');
const STATUS_ITEM_SET = new Set<string>(STATUS_ITEMS);
const LIST_SELECT_OPTIONS = new Set<string>(['SUBSCRIBED', 'REMOTE', 'RECURSIVEMATCH', 'SPECIAL-USE']);
const NO_ARGUMENT_COMMANDS = new Set(['CAPABILITY', 'NOOP', 'LOGOUT', 'STARTTLS', 'NAMESPACE', 'IDLE', 'CHECK', 'CLOSE', 'UNSELECT']);

/** Parses one command unit. Throws ImapParseError on any syntax error. */
export function parseCommand(unit: CommandUnit, options: ParseOptions = {}): Command {
  const first = unit.lines[0];
  if (!first || (first.length === 0 && unit.lines.length === 1)) throw new ImapParseError('Empty command line', null);
  const tag = unit.tag ?? extractTag(first);
  if (tag === null) {
    // A line that is nothing but a tag still deserves a tagged answer.
    const whole = extractTag(Buffer.concat([first, SPACE]));
    throw new ImapParseError(whole !== null && unit.lines.length === 1 ? 'Missing command' : 'Missing or invalid tag', whole);
  }
  const r = new Reader(unit, tag);
  r.pos = Buffer.byteLength(tag, 'latin1') + 1;
  const name = r.keyword('a command name');
  r.command = name;
  const cmd = parseNamed(r, tag, name, options.utf8Accept === true);
  r.end();
  return cmd;
}

function mailbox(r: Reader, utf8: boolean): string {
  const bytes = r.astringBytes();
  try {
    return normalizeMailboxName(decodeMailboxBytes(bytes, utf8));
  } catch (err) {
    if (err instanceof MailboxNameError) r.fail(err.message);
    throw err;
  }
}

function listMailbox(r: Reader, utf8: boolean): string {
  const bytes = r.listMailboxBytes();
  try {
    return decodeMailboxBytes(bytes, utf8);
  } catch (err) {
    if (err instanceof MailboxNameError) r.fail(err.message);
    throw err;
  }
}

function statusItem(r: Reader): StatusItem {
  const item = r.keyword('a status item');
  if (!STATUS_ITEM_SET.has(item)) r.fail(`Unknown status item "${item}"`);
  return item as StatusItem;
}

function parseNamed(r: Reader, tag: string, name: string, utf8: boolean): Command {
  if (NO_ARGUMENT_COMMANDS.has(name)) {
    return { tag, name: name as 'NOOP' };
  }
  switch (name) {
    case 'AUTHENTICATE': {
      r.sp();
      const mechanism = r.atom('a SASL mechanism').toUpperCase();
      let initialResponse: string | null = null;
      if (!r.atEnd()) {
        r.sp();
        initialResponse = r.word();
        // initial-resp = base64 / "=" (RFC 4959 §3)
        if (initialResponse !== '=' && !/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(initialResponse)) {
          r.fail('Invalid base64 in the initial response');
        }
        if (initialResponse === '') r.fail('Empty initial response');
      }
      return { tag, name, mechanism, initialResponse };
    }
    case 'LOGIN': {
      r.sp();
      const username = r.astring();
      r.sp();
      return { tag, name, username, password: r.astring() };
    }
    case 'ENABLE': {
      const capabilities: string[] = [];
      do {
        r.sp();
        capabilities.push(r.keyword('a capability'));
      } while (!r.atEnd());
      return { tag, name, capabilities };
    }
    case 'ID': {
      r.sp();
      if (r.peek() !== 0x28) {
        if (!r.acceptKeyword('NIL')) r.fail('Expected a parameter list or NIL');
        return { tag, name, params: null };
      }
      const params: Array<readonly [string, string | null]> = [];
      r.parenList(() => {
        const key = r.string();
        r.sp();
        params.push([key, r.nstring()]);
      }, true);
      return { tag, name, params };
    }
    case 'SELECT':
    case 'EXAMINE':
      return parseSelect(r, tag, name, utf8);
    case 'CREATE': {
      r.sp();
      const mbox = mailbox(r, utf8);
      const specialUse: string[] = [];
      if (r.acceptSpThen(0x28)) {
        // create-param = "USE" SP "(" [use-attr *(SP use-attr)] ")" (RFC 6154 §6)
        r.parenList(() => {
          const p = r.keyword('a CREATE parameter');
          if (p !== 'USE') r.fail(`Unknown CREATE parameter "${p}"`);
          r.sp();
          for (const f of r.parenList(() => r.flag(), true)) {
            if (!f.startsWith('\\')) r.fail('USE takes special-use attributes');
            specialUse.push(f);
          }
        }, false);
      }
      return { tag, name, mailbox: mbox, specialUse };
    }
    case 'DELETE':
    case 'SUBSCRIBE':
    case 'UNSUBSCRIBE': {
      r.sp();
      return { tag, name, mailbox: mailbox(r, utf8) };
    }
    case 'RENAME': {
      r.sp();
      const from = mailbox(r, utf8);
      r.sp();
      return { tag, name, mailbox: from, newName: mailbox(r, utf8) };
    }
    case 'LIST':
      return parseList(r, tag, utf8);
    case 'LSUB': {
      r.sp();
      const reference = listReference(r, utf8);
      r.sp();
      return { tag, name, reference, pattern: listMailbox(r, utf8) };
    }
    case 'STATUS': {
      r.sp();
      const mbox = mailbox(r, utf8);
      r.sp();
      const items = r.parenList(() => statusItem(r), false);
      return { tag, name, mailbox: mbox, items };
    }
    case 'APPEND':
      return parseAppend(r, tag, utf8);
    case 'EXPUNGE':
      return { tag, name, uid: false };
    case 'SEARCH':
      r.sp();
      return { tag, name, uid: false, ...searchProgram(r) };
    case 'FETCH':
      return parseFetch(r, tag, false);
    case 'STORE':
      return parseStore(r, tag, false);
    case 'COPY':
    case 'MOVE': {
      r.sp();
      const set = r.sequenceSet();
      r.sp();
      return { tag, name, uid: false, set, mailbox: mailbox(r, utf8) };
    }
    case 'UID':
      return parseUid(r, tag, utf8);
    default:
      r.fail(`Unknown command "${name}"`);
  }
}

function parseUid(r: Reader, tag: string, utf8: boolean): Command {
  r.sp();
  const sub = r.keyword('a UID command');
  r.command = `UID ${sub}`;
  switch (sub) {
    case 'FETCH':
      return parseFetch(r, tag, true);
    case 'STORE':
      return parseStore(r, tag, true);
    case 'SEARCH':
      r.sp();
      return { tag, name: 'SEARCH', uid: true, ...searchProgram(r) };
    case 'COPY':
    case 'MOVE': {
      r.sp();
      const set = r.sequenceSet();
      r.sp();
      return { tag, name: sub, uid: true, set, mailbox: mailbox(r, utf8) };
    }
    case 'EXPUNGE':
      r.sp();
      return { tag, name: 'EXPUNGE', uid: true, set: r.sequenceSet() };
    default:
      r.fail(`Unknown UID command "${sub}"`);
  }
}

function parseSelect(r: Reader, tag: string, name: 'SELECT' | 'EXAMINE', utf8: boolean): Command {
  r.sp();
  const mbox = mailbox(r, utf8);
  let condstore = false;
  let qresync: QresyncParams | null = null;
  if (r.acceptSpThen(0x28)) {
    r.parenList(() => {
      const p = r.keyword('a SELECT parameter');
      if (p === 'CONDSTORE') {
        condstore = true;
      } else if (p === 'QRESYNC') {
        // "QRESYNC" SP "(" uidvalidity SP mod-sequence-value [SP known-uids]
        //   [SP seq-match-data] ")"   (RFC 7162 §3.2.5)
        r.sp();
        r.expect(0x28, '"("');
        const uidValidity = r.nzNumber();
        r.sp();
        const modSeq = r.number64();
        let knownUids = null;
        let seqMatch = null;
        if (r.accept(0x20)) {
          if (r.peek() !== 0x28) {
            knownUids = r.sequenceSet();
            if (r.accept(0x20)) seqMatch = seqMatchData(r);
          } else {
            seqMatch = seqMatchData(r);
          }
        }
        r.expect(0x29, '")"');
        qresync = { uidValidity, modSeq, knownUids, seqMatch };
      } else {
        r.fail(`Unknown SELECT parameter "${p}"`);
      }
    }, false);
  }
  return { tag, name, mailbox: mbox, condstore, qresync };
}

function seqMatchData(r: Reader): { seqs: ReturnType<Reader['sequenceSet']>; uids: ReturnType<Reader['sequenceSet']> } {
  // seq-match-data = "(" known-sequence-set SP known-uid-set ")"
  r.expect(0x28, '"("');
  const seqs = r.sequenceSet();
  r.sp();
  const uids = r.sequenceSet();
  r.expect(0x29, '")"');
  return { seqs, uids };
}

/** The LIST reference: `mailbox` in the grammar, but never INBOX-normalised (it is a prefix). */
function listReference(r: Reader, utf8: boolean): string {
  const bytes = r.astringBytes();
  try {
    return decodeMailboxBytes(bytes, utf8);
  } catch (err) {
    if (err instanceof MailboxNameError) r.fail(err.message);
    throw err;
  }
}

function parseList(r: Reader, tag: string, utf8: boolean): Command {
  // list = "LIST" [SP list-select-opts] SP mailbox SP mbox-or-pat [SP list-return-opts]
  r.sp();
  let extended = false;
  const selectOptions: ListSelectOption[] = [];
  if (r.peek() === 0x28) {
    extended = true;
    for (const o of r.parenList(() => r.keyword('a selection option'), true)) {
      if (!LIST_SELECT_OPTIONS.has(o)) r.fail(`Unknown LIST selection option "${o}"`);
      if (!selectOptions.includes(o as ListSelectOption)) selectOptions.push(o as ListSelectOption);
    }
    // RFC 5258 §3.1: RECURSIVEMATCH alone is an error.
    if (selectOptions.includes('RECURSIVEMATCH') && selectOptions.length === 1) r.fail('RECURSIVEMATCH needs another selection option');
    r.sp();
  }
  const reference = listReference(r, utf8);
  r.sp();
  let patterns: string[];
  if (r.peek() === 0x28) {
    extended = true;
    patterns = r.parenList(() => listMailbox(r, utf8), false);
  } else {
    patterns = [listMailbox(r, utf8)];
  }
  const ret = { subscribed: false, children: false, specialUse: false, status: null as StatusItem[] | null };
  if (!r.atEnd()) {
    r.sp();
    if (!r.acceptKeyword('RETURN')) r.fail('Expected RETURN');
    extended = true;
    r.sp();
    r.parenList(() => {
      const o = r.keyword('a return option');
      switch (o) {
        case 'SUBSCRIBED':
          ret.subscribed = true;
          break;
        case 'CHILDREN':
          ret.children = true;
          break;
        case 'SPECIAL-USE':
          ret.specialUse = true;
          break;
        case 'STATUS':
          // RFC 5819 §2
          r.sp();
          ret.status = r.parenList(() => statusItem(r), false);
          break;
        default:
          r.fail(`Unknown LIST return option "${o}"`);
      }
    }, true);
  }
  const returnOptions: ListReturnOptions = ret;
  return { tag, name: 'LIST', reference, patterns, selectOptions, returnOptions, extended };
}

function parseAppend(r: Reader, tag: string, utf8: boolean): Command {
  // append = "APPEND" SP mailbox 1*append-message          (RFC 3502 MULTIAPPEND)
  // append-message = append-opts SP append-data
  // append-opts = [SP flag-list] [SP date-time]
  // append-data = literal / literal8 / "UTF8" SP "(" literal8 ")"   (RFC 3516, RFC 6855)
  r.sp();
  const mbox = mailbox(r, utf8);
  const messages: AppendMessage[] = [];
  do {
    r.sp();
    let flags: string[] = [];
    if (r.peek() === 0x28) {
      flags = r.flagList();
      r.sp();
    }
    let internalDate: AppendMessage['internalDate'] = null;
    if (r.peek() === 0x22) {
      const text = r.quotedBytes().toString('latin1');
      if (r.atEnd()) r.fail('Expected the message as a literal');
      internalDate = parseImapDateTime(text);
      if (!internalDate) r.fail(`Invalid date-time "${text}"`);
      r.sp();
    }
    if (r.atLiteral()) {
      const lit = r.literal(true);
      messages.push({ flags, internalDate, data: lit.data, binary: lit.binary, utf8: false });
    } else if (r.acceptKeyword('UTF8')) {
      r.sp();
      r.expect(0x28, '"("');
      if (r.peek() !== 0x7e) r.fail('UTF8 takes a literal8');
      const lit = r.literal(true);
      r.expect(0x29, '")"');
      messages.push({ flags, internalDate, data: lit.data, binary: true, utf8: true });
    } else {
      r.fail('Expected the message as a literal');
    }
  } while (!r.atEnd());
  return { tag, name: 'APPEND', mailbox: mbox, messages };
}

function parseFetch(r: Reader, tag: string, uid: boolean): Command {
  // fetch = "FETCH" SP sequence-set SP (macro / fetch-att / "(" fetch-att *(SP fetch-att) ")")
  //         [fetch-modifiers]
  r.sp();
  const set = r.sequenceSet();
  r.sp();
  const { attributes, macro } = fetchItems(r);
  let changedSince: number | null = null;
  let vanished = false;
  if (r.acceptSpThen(0x28)) {
    ({ changedSince, vanished } = fetchModifiers(r));
    // RFC 7162 §3.2.6: VANISHED only with UID FETCH and CHANGEDSINCE.
    if (vanished && (!uid || changedSince === null)) r.fail('VANISHED needs UID FETCH with CHANGEDSINCE');
  }
  return { tag, name: 'FETCH', uid, set, attributes, macro, changedSince, vanished };
}

function parseStore(r: Reader, tag: string, uid: boolean): Command {
  // store = "STORE" SP sequence-set [SP "(" "UNCHANGEDSINCE" SP mod-sequence-valzer ")"]
  //         SP store-att-flags
  // store-att-flags = (["+" / "-"] "FLAGS" [".SILENT"]) SP (flag-list / (flag *(SP flag)))
  r.sp();
  const set = r.sequenceSet();
  let unchangedSince: number | null = null;
  if (r.acceptSpThen(0x28)) {
    r.parenList(() => {
      const m = r.keyword('a STORE modifier');
      if (m !== 'UNCHANGEDSINCE') r.fail(`Unknown STORE modifier "${m}"`);
      r.sp();
      unchangedSince = r.number64();
    }, false);
  }
  r.sp();
  const item = r.keyword('a STORE item');
  const m = /^([+-]?)FLAGS(\.SILENT)?$/.exec(item);
  if (!m) r.fail(`Unknown STORE item "${item}"`);
  const action: StoreAction = m[1] === '+' ? 'add' : m[1] === '-' ? 'remove' : 'set';
  r.sp();
  let flags: string[];
  if (r.peek() === 0x28) {
    flags = r.flagList();
  } else {
    flags = [r.flag()];
    while (!r.atEnd()) {
      r.sp();
      flags.push(r.flag());
    }
  }
  return { tag, name: 'STORE', uid, set, action, silent: m[2] !== undefined, flags, unchangedSince };
}
