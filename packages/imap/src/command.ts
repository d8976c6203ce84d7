/**
 * The typed commands `parseCommand` produces: one variant per command (RFC 9051 §6 and the
 * extensions the codec knows), discriminated by `name`. UID forms keep the base name with
 * `uid: true` (RFC 9051 §6.4.9), so a state table keyed by `name` covers both.
 *
 * Strings are decoded from UTF-8. Mailbox names are Unicode: modified UTF-7 is decoded unless
 * UTF8=ACCEPT is on, and `INBOX` in any case becomes `INBOX` (RFC 9051 §5.1).
 */
import type { ImapDate } from './datetime.js';
import type { SequenceSet } from './sequence.js';

// --- shared pieces ----------------------------------------------------------------------------

/** STATUS data items (RFC 9051 §6.3.11, RFC 3501 RECENT, RFC 7162, RFC 7889, RFC 8474). */
export type StatusItem = 'MESSAGES' | 'UIDNEXT' | 'UIDVALIDITY' | 'UNSEEN' | 'DELETED' | 'SIZE' | 'RECENT' | 'HIGHESTMODSEQ' | 'APPENDLIMIT' | 'MAILBOXID';

export const STATUS_ITEMS: readonly StatusItem[] = [
  'MESSAGES',
  'UIDNEXT',
  'UIDVALIDITY',
  'UNSEEN',
  'DELETED',
  'SIZE',
  'RECENT',
  'HIGHESTMODSEQ',
  'APPENDLIMIT',
  'MAILBOXID',
];

/** `[section]` of BODY[...] (RFC 9051 §6.4.5). `part` is empty for the whole message. */
export interface BodySection {
  readonly part: readonly number[];
  /** Absent: the whole part (`BODY[]`, `BODY[1.2]`). */
  readonly text?: 'HEADER' | 'HEADER.FIELDS' | 'HEADER.FIELDS.NOT' | 'TEXT' | 'MIME';
  /** Header field names for HEADER.FIELDS(.NOT), as the client wrote them. */
  readonly fields?: readonly string[];
}

/** `<offset.length>` (RFC 9051 §6.4.5). */
export interface FetchPartial {
  readonly offset: number;
  readonly length: number;
}

export type FetchAttribute =
  | { readonly kind: 'ENVELOPE' }
  | { readonly kind: 'FLAGS' }
  | { readonly kind: 'INTERNALDATE' }
  | { readonly kind: 'RFC822.SIZE' }
  | { readonly kind: 'UID' }
  | { readonly kind: 'MODSEQ' }
  /** BODYSTRUCTURE with extension data. */
  | { readonly kind: 'BODYSTRUCTURE' }
  /** BODY without a section: the non-extensible BODYSTRUCTURE. */
  | { readonly kind: 'BODY' }
  /** RFC822, RFC822.HEADER, RFC822.TEXT: IMAP4rev1 forms of BODY[], BODY.PEEK[HEADER], BODY[TEXT]. */
  | { readonly kind: 'RFC822' }
  | { readonly kind: 'RFC822.HEADER' }
  | { readonly kind: 'RFC822.TEXT' }
  | { readonly kind: 'BODY[]'; readonly peek: boolean; readonly section: BodySection; readonly partial: FetchPartial | null }
  /** RFC 3516 BINARY[part]: the part with its content transfer encoding removed. */
  | { readonly kind: 'BINARY[]'; readonly peek: boolean; readonly part: readonly number[]; readonly partial: FetchPartial | null }
  | { readonly kind: 'BINARY.SIZE'; readonly part: readonly number[] };

export type FetchMacro = 'ALL' | 'FAST' | 'FULL';

export type StoreAction = 'set' | 'add' | 'remove';

export type SearchReturnOption = 'MIN' | 'MAX' | 'ALL' | 'COUNT' | 'SAVE';

/** RFC 7162 §3.1.5: the optional metadata entry of a MODSEQ search key. */
export interface ModSeqEntry {
  /** e.g. `/flags/\draft` */
  readonly name: string;
  readonly type: 'priv' | 'shared' | 'all';
}

/** Search keys (RFC 9051 §6.4.4, RFC 7162 MODSEQ, RFC 5032 OLDER/YOUNGER). */
export type SearchKey =
  | { readonly type: 'all' }
  | { readonly type: 'answered' | 'deleted' | 'draft' | 'flagged' | 'seen' | 'recent' | 'new' | 'old' }
  | { readonly type: 'unanswered' | 'undeleted' | 'undraft' | 'unflagged' | 'unseen' }
  | { readonly type: 'keyword' | 'unkeyword'; readonly flag: string }
  | { readonly type: 'bcc' | 'body' | 'cc' | 'from' | 'subject' | 'text' | 'to'; readonly value: string }
  | { readonly type: 'header'; readonly field: string; readonly value: string }
  | { readonly type: 'before' | 'on' | 'since' | 'sentbefore' | 'senton' | 'sentsince'; readonly date: ImapDate }
  | { readonly type: 'larger' | 'smaller'; readonly size: number }
  | { readonly type: 'older' | 'younger'; readonly seconds: number }
  | { readonly type: 'uid'; readonly set: SequenceSet }
  /** A bare sequence set: message sequence numbers (or `$`). */
  | { readonly type: 'seq'; readonly set: SequenceSet }
  | { readonly type: 'modseq'; readonly modseq: number; readonly entry: ModSeqEntry | null }
  | { readonly type: 'not'; readonly key: SearchKey }
  | { readonly type: 'or'; readonly left: SearchKey; readonly right: SearchKey }
  /** A parenthesised list, or the top-level list: every key must match. */
  | { readonly type: 'and'; readonly keys: readonly SearchKey[] };

/** RFC 7162 §3.2.5 / RFC 9051: QRESYNC parameters of SELECT/EXAMINE. */
export interface QresyncParams {
  readonly uidValidity: number;
  readonly modSeq: number;
  readonly knownUids: SequenceSet | null;
  readonly seqMatch: { readonly seqs: SequenceSet; readonly uids: SequenceSet } | null;
}

export interface AppendMessage {
  readonly flags: readonly string[];
  readonly internalDate: { readonly date: Date; readonly offsetMinutes: number } | null;
  readonly data: Buffer;
  /** Sent as literal8 (`~{n}`, RFC 3516 §4.4): the server must check for NUL itself if it cares. */
  readonly binary: boolean;
  /** Sent inside `UTF8 (...)` (RFC 6855 §4). */
  readonly utf8: boolean;
}

export type ListSelectOption = 'SUBSCRIBED' | 'REMOTE' | 'RECURSIVEMATCH' | 'SPECIAL-USE';

export interface ListReturnOptions {
  readonly subscribed: boolean;
  readonly children: boolean;
  readonly specialUse: boolean;
  /** RFC 5819 LIST-STATUS: the STATUS items to return per mailbox, or null. */
  readonly status: readonly StatusItem[] | null;
}

// --- commands ---------------------------------------------------------------------------------

interface Tagged {
  readonly tag: string;
}

export type Command = Tagged &
  (
    | { readonly name: 'CAPABILITY' | 'NOOP' | 'LOGOUT' | 'STARTTLS' | 'NAMESPACE' | 'IDLE' | 'CHECK' | 'CLOSE' | 'UNSELECT' }
    /** RFC 9051 §6.2.2, RFC 4959 SASL-IR: `initialResponse` is the raw base64 text, `=` for empty. */
    | { readonly name: 'AUTHENTICATE'; readonly mechanism: string; readonly initialResponse: string | null }
    | { readonly name: 'LOGIN'; readonly username: string; readonly password: string }
    /** RFC 5161: capability names upper-cased. */
    | { readonly name: 'ENABLE'; readonly capabilities: readonly string[] }
    /** RFC 2971: field/value pairs in order, or null for `ID NIL`. */
    | { readonly name: 'ID'; readonly params: ReadonlyArray<readonly [string, string | null]> | null }
    | {
        readonly name: 'SELECT' | 'EXAMINE';
        readonly mailbox: string;
        readonly condstore: boolean;
        readonly qresync: QresyncParams | null;
      }
    /** RFC 6154 §3: `CREATE name (USE (\Sent))`. */
    | { readonly name: 'CREATE'; readonly mailbox: string; readonly specialUse: readonly string[] }
    | { readonly name: 'DELETE' | 'SUBSCRIBE' | 'UNSUBSCRIBE'; readonly mailbox: string }
    | { readonly name: 'RENAME'; readonly mailbox: string; readonly newName: string }
    | {
        readonly name: 'LIST';
        readonly reference: string;
        readonly patterns: readonly string[];
        readonly selectOptions: readonly ListSelectOption[];
        readonly returnOptions: ListReturnOptions;
        /** True when LIST-EXTENDED syntax was used (selection options, pattern list or RETURN). */
        readonly extended: boolean;
      }
    | { readonly name: 'LSUB'; readonly reference: string; readonly pattern: string }
    | { readonly name: 'STATUS'; readonly mailbox: string; readonly items: readonly StatusItem[] }
    /** RFC 3502 MULTIAPPEND: one or more messages. */
    | { readonly name: 'APPEND'; readonly mailbox: string; readonly messages: readonly AppendMessage[] }
    | { readonly name: 'EXPUNGE'; readonly uid: false }
    /** RFC 4315 UID EXPUNGE. */
    | { readonly name: 'EXPUNGE'; readonly uid: true; readonly set: SequenceSet }
    | {
        readonly name: 'SEARCH';
        readonly uid: boolean;
        /** Upper-cased; null when no CHARSET was given. */
        readonly charset: string | null;
        /** The top-level keys as one `and`. */
        readonly criteria: SearchKey;
        /** RFC 4731 ESEARCH: null for a plain SEARCH; `RETURN ()` gives `['ALL']`. */
        readonly returnOptions: readonly SearchReturnOption[] | null;
      }
    | {
        readonly name: 'FETCH';
        readonly uid: boolean;
        readonly set: SequenceSet;
        /** The attributes asked for, macros expanded (RFC 9051 §6.4.5). */
        readonly attributes: readonly FetchAttribute[];
        readonly macro: FetchMacro | null;
        /** RFC 7162 §3.1.4 CHANGEDSINCE. */
        readonly changedSince: number | null;
        /** RFC 7162 §3.2.6 VANISHED (UID FETCH with CHANGEDSINCE only). */
        readonly vanished: boolean;
      }
    | {
        readonly name: 'STORE';
        readonly uid: boolean;
        readonly set: SequenceSet;
        readonly action: StoreAction;
        readonly silent: boolean;
        readonly flags: readonly string[];
        /** RFC 7162 §3.1.3 UNCHANGEDSINCE. */
        readonly unchangedSince: number | null;
      }
    | { readonly name: 'COPY' | 'MOVE'; readonly uid: boolean; readonly set: SequenceSet; readonly mailbox: string }
  );

export type CommandName = Command['name'];

/**
 * The command(s) of the given name(s), e.g. `CommandOf<'FETCH'>`, `CommandOf<'SUBSCRIBE' |
 * 'UNSUBSCRIBE'>`. An intersection rather than `Extract`, so names that share a variant
 * (SELECT/EXAMINE, COPY/MOVE, ...) narrow too: members whose `name` cannot be N reduce to never.
 */
export type CommandOf<N extends CommandName> = Command & { readonly name: N };
