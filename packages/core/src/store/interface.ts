/**
 * The message store's interface: what the IMAP and POP3 servers, the LMTP delivery, the CLI and
 * the importers may ask of mail.db's mailboxes and messages. One backend implements it today
 * (SQLite, ./store.ts); a PostgreSQL backend is meant to implement the same interface, and the
 * conformance suite (./conformance.ts) is what both must pass.
 *
 * Invariants of the interface (not of a backend):
 * - Every call is one unit of work: it commits on its own, atomically, and nothing relies on two
 *   calls sharing a transaction. What must be read consistently is one call (`snapshot`,
 *   `changesSince`); what must change together is one call (`append` of several messages,
 *   `deleteMessages`, `move`).
 * - Calls answer with promises of plain camelCase records. No SQL, statement, transaction or
 *   database handle crosses the interface; search criteria cross as a typed tree.
 * - A promise that acknowledges a write resolves only after the write is durable (SQLite:
 *   COMMIT under synchronous=FULL), so LMTP's 250 and APPEND's OK follow the disk.
 * - UIDs in a mailbox strictly increase and are never reused; every change takes the mailbox's
 *   next HIGHESTMODSEQ and stamps it on what changed; expunges are remembered with their modseq.
 * - FETCH-sized reads come in pages (`fetchPage`): a caller walking 100,000 messages makes one
 *   call per page, never one per message.
 */
import type { MimePart } from '@postern/mime';
import type { MessageIndex } from './contents.js';

export interface Mailbox {
  id: number;
  userId: number;
  name: string;
  specialUse: string | null;
  subscribed: boolean;
  uidValidity: number;
  uidNext: number;
  highestModseq: number;
  messages: number;
  unseen: number;
  size: number;
}

export interface MessageRecord {
  id: number;
  mailboxId: number;
  uid: number;
  contentId: number;
  prefixLength: number;
  /** RFC822.SIZE: prefix + content. */
  size: number;
  internalDate: number;
  flags: string[];
  modseq: number;
}

/** What a page of FETCH asks for beyond the message row (all precomputed at delivery). */
export interface FetchNeeds {
  readonly envelope: boolean;
  readonly bodyStructure: boolean;
  readonly body: boolean;
  /** The header length and the MIME parts: for body sections and BINARY. */
  readonly layout: boolean;
}

/** A message as FETCH reads it: the row, and what `needs` asked for. */
export interface FetchRecord extends MessageRecord {
  envelope?: string;
  bodyStructure?: string;
  body?: string;
  /** Offset of the content's body (past its header), not counting the prefix. */
  headerEnd?: number;
  /** Every part of the content, offsets into the content (not counting the prefix). */
  parts?: MimePart[];
}

/** One page of a mailbox: UIDs in [fromUid, toUid], ascending, at most `limit`. */
export interface FetchRange {
  fromUid: number;
  toUid: number;
  limit: number;
  /** Only messages changed after this modseq (CONDSTORE CHANGEDSINCE, RFC 7162 §3.1.4). */
  changedSince?: number | null;
}

/** A stored content's index as read back: the delivery-time index (one type, @postern/mime's)
 * without the text the full-text index took, and the Date: header as a number. */
export type ContentInfo = Omit<MessageIndex, 'date' | 'text'> & {
  id: number;
  sentDate: number | null;
};

export interface DeliveryRequest {
  userId: number;
  /** Mailbox name; INBOX when absent. A missing mailbox falls back to INBOX. */
  mailbox?: string;
  /** Headers prepended for this recipient (Return-Path, Delivered-To, Received...). */
  prefix: Buffer;
  content: Buffer;
  index: MessageIndex;
  flags?: readonly string[];
  internalDate?: number;
  /** Idempotency key (the sender's queue id): a second delivery with the same key to the same
   * user is answered as done without storing anything. */
  deliveryKey?: string;
}

export type DeliveryOutcome =
  | { ok: true; mailboxId: number; uid: number; uidValidity: number; duplicate?: boolean }
  | { ok: false; reason: 'over-quota' | 'no-such-user'; message: string };

export interface AppendRequest {
  content: Buffer;
  index: MessageIndex;
  flags?: readonly string[];
  internalDate?: number;
}

export interface FlagChange {
  uid: number;
  flags: string[];
  modseq: number;
}

export interface FlagResult {
  changed: FlagChange[];
  /** UIDs left alone because their modseq was above `unchangedSince` (RFC 7162 §3.1.3). */
  modified: number[];
  /** The mailbox's HIGHESTMODSEQ after the change. */
  highestModseq: number;
}

export interface CopyResult {
  uidValidity: number;
  /** [source UID, destination UID], ascending (COPYUID, RFC 4315). */
  mapping: Array<[number, number]>;
}

/** A selected mailbox read at one instant (SELECT): counters, UIDs and the first unseen agree. */
export interface MailboxSnapshot {
  mailbox: Mailbox;
  uids: Uint32Array;
  firstUnseenUid: number | null;
  /** With `changesSince`: what changed after that modseq, as of the same instant (QRESYNC). */
  changes?: { expunged: number[]; changed: MessageRecord[] };
}

export interface SnapshotOptions {
  /** Also read what changed after this modseq (QRESYNC, RFC 7162 §3.2.5)... */
  changesSince?: number;
  /** ...if the mailbox still has this UIDVALIDITY (else the client's modseq means nothing). */
  uidValidity?: number;
}

/** What changed in a mailbox after a modseq, read at one instant (the session catch-up). */
export interface MailboxChanges {
  /** null: the mailbox is gone. */
  mailbox: Mailbox | null;
  expunged: number[];
  changed: MessageRecord[];
}

export type SystemFlagName = '\\Seen' | '\\Answered' | '\\Flagged' | '\\Deleted' | '\\Draft';

/**
 * Search criteria (what IMAP SEARCH asks, RFC 9051 §6.4.4, without its sequence numbers: the
 * caller resolves those to UIDs). Strings match as case-insensitive substrings.
 */
export type SearchCriteria =
  | { type: 'all' }
  | { type: 'none' }
  | { type: 'flag'; flag: SystemFlagName; set: boolean }
  | { type: 'keyword'; keyword: string; set: boolean }
  /** The decoded text of an address or subject field (what FROM, TO, CC, BCC, SUBJECT search). */
  | { type: 'field'; field: 'subject' | 'from' | 'to' | 'cc' | 'bcc'; value: string }
  /** Any header field by name; the empty value matches every message that has the field. */
  | { type: 'header'; field: string; value: string }
  /** TEXT: header and body; BODY: the body. */
  | { type: 'text' | 'body'; value: string }
  /** Internal or sent date (Date:, else internal) in [from, before), ms; either bound may be absent. */
  | { type: 'date'; of: 'internal' | 'sent'; from?: number; before?: number }
  | { type: 'larger' | 'smaller'; size: number }
  | { type: 'uids'; ranges: ReadonlyArray<readonly [number, number]> }
  | { type: 'modseq'; min: number }
  | { type: 'not'; criteria: SearchCriteria }
  | { type: 'or'; left: SearchCriteria; right: SearchCriteria }
  | { type: 'and'; criteria: readonly SearchCriteria[] };

export interface SearchOptions {
  /** Only UIDs up to this one (those the session knows). */
  maxUid: number;
}

/** Matches in UID order, with each one's modseq (RFC 7162 §3.1.5). */
export interface SearchResult {
  uids: number[];
  modseqs: number[];
}

/** A commit that touched a mailbox; `mailboxId` null: another process committed something. */
export interface StoreChange {
  mailboxId: number | null;
}

export interface MessageStore {
  // mailboxes
  listMailboxes(userId: number): Promise<Mailbox[]>;
  mailbox(userId: number, name: string): Promise<Mailbox | null>;
  mailboxById(id: number): Promise<Mailbox | null>;
  createMailbox(userId: number, name: string, specialUse?: string | null): Promise<Mailbox>;
  deleteMailbox(userId: number, name: string): Promise<void>;
  renameMailbox(userId: number, from: string, to: string): Promise<void>;
  setSubscribed(userId: number, name: string, subscribed: boolean): Promise<void>;
  /** Bytes stored for a user, over all mailboxes. */
  usage(userId: number): Promise<number>;
  /** Messages flagged \Deleted (STATUS DELETED, RFC 9051 §6.3.11). */
  deletedCount(mailboxId: number): Promise<number>;

  // writing
  /** Delivers one message to its recipients, group-committed with concurrent deliveries. */
  deliver(requests: readonly DeliveryRequest[]): Promise<DeliveryOutcome[]>;
  /** APPEND, MULTIAPPEND: every message or none (RFC 3502). */
  append(mailboxId: number, messages: readonly AppendRequest[]): Promise<{ uidValidity: number; uids: number[] }>;
  setFlags(mailboxId: number, uids: Iterable<number>, op: 'set' | 'add' | 'remove', flags: readonly string[], unchangedSince?: number): Promise<FlagResult>;
  /** Removes messages flagged \Deleted (all, or only those in `uids`); the UIDs removed, ascending. */
  expunge(mailboxId: number, uids?: Iterable<number>): Promise<number[]>;
  /** Flags exactly these \Deleted and expunges them (POP3's UPDATE state). */
  deleteMessages(mailboxId: number, uids: readonly number[]): Promise<number[]>;
  copy(srcId: number, uids: Iterable<number>, destId: number): Promise<CopyResult>;
  move(srcId: number, uids: Iterable<number>, destId: number): Promise<CopyResult>;

  // reading
  snapshot(userId: number, name: string, options?: SnapshotOptions): Promise<MailboxSnapshot | null>;
  changesSince(mailboxId: number, modseq: number): Promise<MailboxChanges>;
  expungedSince(mailboxId: number, modseq: number): Promise<number[]>;
  fetchPage(mailboxId: number, range: FetchRange, needs: FetchNeeds): Promise<FetchRecord[]>;
  /** Messages in UID order (POP3's maildrop, listings). */
  messages(mailboxId: number, fromUid?: number, toUid?: number, limit?: number): Promise<MessageRecord[]>;
  messagesNewestFirst(mailboxId: number, offset: number, limit: number): Promise<MessageRecord[]>;
  message(mailboxId: number, uid: number): Promise<MessageRecord | null>;
  content(contentId: number): Promise<ContentInfo | null>;
  search(mailboxId: number, criteria: SearchCriteria, options: SearchOptions): Promise<SearchResult>;
  /**
   * Bytes [start, end) of a message as the user sees it (prefix, then content), as chunks read
   * one at a time as they are pulled; throws ContentGoneError part way when the message is
   * expunged and freed meanwhile.
   */
  chunks(message: StreamedMessage, start?: number, end?: number): Iterable<Buffer>;
  /** Bytes [start, end) at once: for small ranges (a header, a small part). */
  read(message: StreamedMessage, start?: number, end?: number): Buffer;

  // changes
  /** Every commit that touched a mailbox, ours at once, other processes' within a moment. */
  subscribe(listener: (change: StoreChange) => void): () => void;
}

/** What a read of stored bytes needs to know of a message (a MessageRecord has all of it). */
export interface StreamedMessage {
  readonly id: number;
  readonly contentId: number;
  readonly prefixLength: number;
  readonly size: number;
}
