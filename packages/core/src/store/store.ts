/**
 * The message store: the narrow interface every reader and writer of mail.db goes through
 * (deliver, list, read, flag, copy, move, expunge, changes since a modseq).
 *
 * Invariants:
 * - Every write is one IMMEDIATE transaction; a caller hears "done" only after COMMIT, and
 *   the database runs with synchronous=FULL, so an acknowledged message is on disk.
 * - UIDs in a mailbox strictly increase and are never reused (uid_next only grows); every change
 *   to a mailbox takes the next HIGHESTMODSEQ and stamps it on what changed; expunges are kept
 *   with their modseq (QRESYNC).
 * - message_count, unseen_count and total_size on the mailbox row are kept exact in the same
 *   transaction, so SELECT and STATUS read one row, never the messages.
 * - After each commit, `changes` emits the affected mailbox ids (in this process); other
 *   processes' commits are seen by `watchExternalChanges` through PRAGMA data_version.
 */
import { EventEmitter } from 'node:events';
import { prepared, type Db } from '../sqlite.js';
import { acquireContent, contentChunks, contentInfo, readContent, releaseContents, type ContentInfo, type MessageIndex } from './contents.js';
import { canonicalMailboxName, HIERARCHY_SEPARATOR, newUidValidity, validMailboxName } from './mailboxes.js';
import { FLAG_BITS, type SystemFlag } from './schema.js';

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

export class StoreError extends Error {
  constructor(
    readonly code: 'NONEXISTENT' | 'ALREADYEXISTS' | 'CANNOT' | 'OVERQUOTA' | 'TRYCREATE' | 'LIMIT',
    message: string,
  ) {
    super(message);
    this.name = 'StoreError';
  }
}

interface MailboxRow {
  id: number;
  user_id: number;
  name: string;
  special_use: string | null;
  subscribed: number;
  uid_validity: number;
  uid_next: number;
  highest_modseq: number;
  message_count: number;
  unseen_count: number;
  total_size: number;
}

interface MessageRow {
  id: number;
  mailbox_id: number;
  uid: number;
  content_id: number;
  prefix_length: number;
  size: number;
  internal_date: number;
  flags: number;
  keywords: string;
  modseq: number;
}

const MESSAGE_COLUMNS = 'id, mailbox_id, uid, content_id, length(prefix) AS prefix_length, size, internal_date, flags, keywords, modseq';

const toMailbox = (r: MailboxRow): Mailbox => ({
  id: r.id,
  userId: r.user_id,
  name: r.name,
  specialUse: r.special_use,
  subscribed: r.subscribed === 1,
  uidValidity: r.uid_validity,
  uidNext: r.uid_next,
  highestModseq: r.highest_modseq,
  messages: r.message_count,
  unseen: r.unseen_count,
  size: r.total_size,
});

const FLAG_LIST = Object.entries(FLAG_BITS) as ReadonlyArray<[SystemFlag, number]>;

/** Flag list of a row: system flags in a fixed order, then keywords. */
export function flagsFromBits(bits: number, keywords: string): string[] {
  const out: string[] = [];
  // Once per message of every FETCH FLAGS: no Object.entries() per call.
  for (const [name, bit] of FLAG_LIST) if (bits & bit) out.push(name);
  if (keywords) out.push(...keywords.split(' '));
  return out;
}

/** Splits a flag list into the bitmask and the keyword list (keywords deduplicated, case kept). */
export function bitsFromFlags(flags: readonly string[]): { bits: number; keywords: string[] } {
  let bits = 0;
  const keywords: string[] = [];
  const seen = new Set<string>();
  for (const f of flags) {
    const sys = Object.keys(FLAG_BITS).find((k) => k.toLowerCase() === f.toLowerCase()) as SystemFlag | undefined;
    if (sys) bits |= FLAG_BITS[sys];
    else if (f.startsWith('\\'))
      continue; // \Recent and unknown system flags are not stored
    else if (!seen.has(f.toLowerCase())) {
      seen.add(f.toLowerCase());
      keywords.push(f);
    }
  }
  return { bits, keywords };
}

const toMessage = (r: MessageRow): MessageRecord => ({
  id: r.id,
  mailboxId: r.mailbox_id,
  uid: r.uid,
  contentId: r.content_id,
  prefixLength: r.prefix_length,
  size: r.size,
  internalDate: r.internal_date,
  flags: flagsFromBits(r.flags, r.keywords),
  modseq: r.modseq,
});

export interface FlagChange {
  uid: number;
  flags: string[];
  modseq: number;
}

export class MailStore {
  /** Emits 'change' with a mailbox id after each commit that touched it. */
  readonly changes = new EventEmitter();
  private readonly defaultQuota: number;

  constructor(
    readonly db: Db,
    options: { defaultQuotaBytes?: number } = {},
  ) {
    this.defaultQuota = options.defaultQuotaBytes ?? 0;
    this.changes.setMaxListeners(0);
  }

  // --- mailboxes ---------------------------------------------------------------------------

  listMailboxes(userId: number): Mailbox[] {
    const rows = prepared(this.db, 'SELECT * FROM mailboxes WHERE user_id = ? ORDER BY name').all(userId) as MailboxRow[];
    return rows.map(toMailbox);
  }

  mailbox(userId: number, name: string): Mailbox | null {
    const row = prepared(this.db, 'SELECT * FROM mailboxes WHERE user_id = ? AND name = ?').get(userId, canonicalMailboxName(name)) as MailboxRow | undefined;
    return row ? toMailbox(row) : null;
  }

  mailboxById(id: number): Mailbox | null {
    const row = prepared(this.db, 'SELECT * FROM mailboxes WHERE id = ?').get(id) as MailboxRow | undefined;
    return row ? toMailbox(row) : null;
  }

  /**
   * Creates a mailbox. Missing parents (RFC 9051 §6.3.4) are not created as mailboxes: they
   * exist only in their children's names, and IMAP lists them \Noselect (as Dovecot does), so
   * a sync client never finds an empty selectable parent it did not make.
   */
  createMailbox(userId: number, name: string, specialUse: string | null = null): Mailbox {
    const canonical = canonicalMailboxName(name.endsWith(HIERARCHY_SEPARATOR) ? name.slice(0, -1) : name);
    if (!validMailboxName(canonical)) throw new StoreError('CANNOT', `invalid mailbox name`);
    return this.db
      .transaction(() => {
        if (this.mailbox(userId, canonical)) throw new StoreError('ALREADYEXISTS', 'mailbox already exists');
        const insert = this.db.prepare('INSERT INTO mailboxes (user_id, name, special_use, uid_validity) VALUES (?, ?, ?, ?)');
        insert.run(userId, canonical, specialUse, newUidValidity());
        return this.mailbox(userId, canonical)!;
      })
      .immediate();
  }

  /** Deletes a mailbox and its messages. INBOX cannot be deleted (RFC 9051 §6.3.5). */
  deleteMailbox(userId: number, name: string): void {
    const mb = this.mailbox(userId, name);
    if (!mb) throw new StoreError('NONEXISTENT', 'no such mailbox');
    if (mb.name === 'INBOX') throw new StoreError('CANNOT', 'INBOX cannot be deleted');
    this.db
      .transaction(() => {
        const contents = prepared(this.db, 'SELECT content_id FROM messages WHERE mailbox_id = ?').pluck().all(mb.id) as number[];
        prepared(this.db, 'DELETE FROM messages WHERE mailbox_id = ?').run(mb.id);
        releaseContents(this.db, contents);
        prepared(this.db, 'DELETE FROM mailboxes WHERE id = ?').run(mb.id);
      })
      .immediate();
    this.changes.emit('change', mb.id);
  }

  /**
   * Renames a mailbox and its children. Renaming INBOX moves its messages to a new mailbox and
   * leaves INBOX empty (RFC 9051 §6.3.6).
   */
  renameMailbox(userId: number, from: string, to: string): void {
    const src = this.mailbox(userId, from);
    // a placeholder parent (only a name, see createMailbox) is renamed by renaming its children
    const name = src?.name ?? canonicalMailboxName(from);
    const hasInferiors = (): boolean =>
      prepared(this.db, 'SELECT 1 FROM mailboxes WHERE user_id = ? AND substr(name, 1, ?) = ? LIMIT 1').get(
        userId,
        name.length + 1,
        name + HIERARCHY_SEPARATOR,
      ) !== undefined;
    if (!src && !hasInferiors()) throw new StoreError('NONEXISTENT', 'no such mailbox');
    const target = canonicalMailboxName(to);
    if (!validMailboxName(target)) throw new StoreError('CANNOT', 'invalid mailbox name');
    if (this.mailbox(userId, target)) throw new StoreError('ALREADYEXISTS', 'target mailbox already exists');
    if (src?.name === 'INBOX') {
      this.db
        .transaction(() => {
          const dest = this.createMailbox(userId, target);
          const uids = prepared(this.db, 'SELECT uid FROM messages WHERE mailbox_id = ? ORDER BY uid').pluck().all(src.id) as number[];
          this.moveMessages(src.id, uids, dest.id);
        })
        .immediate();
      return;
    }
    if (target.startsWith(name + HIERARCHY_SEPARATOR)) throw new StoreError('CANNOT', 'cannot move a mailbox into itself');
    this.db
      .transaction(() => {
        // the target's missing parents stay placeholders, as with createMailbox
        const children = prepared(this.db, 'SELECT id, name FROM mailboxes WHERE user_id = ? AND (name = ? OR substr(name, 1, ?) = ?)').all(
          userId,
          name,
          name.length + 1,
          name + HIERARCHY_SEPARATOR,
        ) as Array<{ id: number; name: string }>;
        // A renamed mailbox is a new mailbox to clients: new UIDVALIDITY (as Dovecot keeps it, we
        // keep it: the messages and their UIDs are unchanged, so the old UIDVALIDITY stays valid).
        const update = this.db.prepare('UPDATE mailboxes SET name = ? WHERE id = ?');
        for (const c of children) update.run(target + c.name.slice(name.length), c.id);
      })
      .immediate();
  }

  setSubscribed(userId: number, name: string, subscribed: boolean): void {
    const mb = this.mailbox(userId, name);
    if (!mb) {
      if (subscribed) throw new StoreError('NONEXISTENT', 'no such mailbox');
      return;
    }
    prepared(this.db, 'UPDATE mailboxes SET subscribed = ? WHERE id = ?').run(subscribed ? 1 : 0, mb.id);
  }

  /** Bytes stored for a user, over all mailboxes. */
  usage(userId: number): number {
    return (prepared(this.db, 'SELECT COALESCE(SUM(total_size), 0) FROM mailboxes WHERE user_id = ?').pluck().get(userId) as number) ?? 0;
  }

  /** The quota that applies to a user (0: none). */
  quota(userId: number): number {
    const own = prepared(this.db, 'SELECT quota_bytes FROM users WHERE id = ?').pluck().get(userId) as number | undefined;
    return own && own > 0 ? own : this.defaultQuota;
  }

  // --- delivery ----------------------------------------------------------------------------

  /**
   * Delivers a batch in ONE transaction (group commit: one fsync for many messages). Each request
   * gets its own outcome; a refused one (over quota) does not affect the others. Throws only when
   * the transaction itself fails, in which case nothing of the batch is stored.
   */
  deliver(requests: readonly DeliveryRequest[]): DeliveryOutcome[] {
    const touched = new Set<number>();
    const outcomes = this.db
      .transaction(() =>
        requests.map((req): DeliveryOutcome => {
          if (req.deliveryKey !== undefined) {
            const seen = prepared(this.db, 'SELECT 1 FROM delivery_keys WHERE envid = ? AND user_id = ?').get(req.deliveryKey, req.userId);
            if (seen) return { ok: true, mailboxId: 0, uid: 0, uidValidity: 0, duplicate: true };
          }
          const name = req.mailbox ?? 'INBOX';
          const mb = this.mailbox(req.userId, name) ?? this.mailbox(req.userId, 'INBOX');
          if (!mb) return { ok: false, reason: 'no-such-user', message: 'no such user' };
          const size = req.prefix.length + req.content.length;
          const quota = this.quota(req.userId);
          if (quota > 0 && this.usage(req.userId) + size > quota) {
            return { ok: false, reason: 'over-quota', message: 'mailbox full' };
          }
          const uid = this.insertMessage(mb.id, req.prefix, req.content, req.index, req.flags ?? [], req.internalDate ?? Date.now());
          if (req.deliveryKey !== undefined) {
            prepared(this.db, 'INSERT INTO delivery_keys (envid, user_id, delivered) VALUES (?, ?, ?)').run(req.deliveryKey, req.userId, Date.now());
          }
          touched.add(mb.id);
          return { ok: true, mailboxId: mb.id, uid, uidValidity: mb.uidValidity };
        }),
      )
      .immediate();
    for (const id of touched) this.changes.emit('change', id);
    return outcomes;
  }

  /** APPEND (RFC 9051 §6.3.12): one message into a mailbox, after the quota check. */
  append(
    mailboxId: number,
    content: Buffer,
    index: MessageIndex,
    flags: readonly string[] = [],
    internalDate: number = Date.now(),
  ): { uid: number; uidValidity: number } {
    const result = this.db
      .transaction(() => {
        const mb = this.mailboxById(mailboxId);
        if (!mb) throw new StoreError('TRYCREATE', 'no such mailbox');
        const quota = this.quota(mb.userId);
        if (quota > 0 && this.usage(mb.userId) + content.length > quota) throw new StoreError('OVERQUOTA', 'quota exceeded');
        const uid = this.insertMessage(mb.id, Buffer.alloc(0), content, index, flags, internalDate);
        return { uid, uidValidity: mb.uidValidity };
      })
      .immediate();
    this.changes.emit('change', mailboxId);
    return result;
  }

  /** Inserts a message row; caller holds the transaction. Returns its UID. */
  private insertMessage(mailboxId: number, prefix: Buffer, content: Buffer, index: MessageIndex, flags: readonly string[], internalDate: number): number {
    const contentId = acquireContent(this.db, content, index, 1);
    const { bits, keywords } = bitsFromFlags(flags);
    const mb = prepared(
      this.db,
      `UPDATE mailboxes SET uid_next = uid_next + 1, highest_modseq = highest_modseq + 1,
           message_count = message_count + 1, unseen_count = unseen_count + ?, total_size = total_size + ?
         WHERE id = ? RETURNING uid_next - 1 AS uid, highest_modseq AS modseq`,
    ).get(bits & FLAG_BITS['\\Seen'] ? 0 : 1, prefix.length + content.length, mailboxId) as { uid: number; modseq: number };
    prepared(
      this.db,
      `INSERT INTO messages (mailbox_id, uid, content_id, prefix, size, internal_date, flags, keywords, modseq)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(mailboxId, mb.uid, contentId, prefix, prefix.length + content.length, internalDate, bits, keywords.join(' '), mb.modseq);
    return mb.uid;
  }

  /** Forgets delivery keys older than `maxAgeMs` (far longer than any queue retry window). */
  pruneDeliveryKeys(maxAgeMs = 7 * 86_400_000): number {
    return prepared(this.db, 'DELETE FROM delivery_keys WHERE delivered < ?').run(Date.now() - maxAgeMs).changes;
  }

  // --- reading -----------------------------------------------------------------------------

  /** UIDs of a mailbox in order: the sequence-number map of an IMAP session. */
  uids(mailboxId: number): Uint32Array {
    const rows = prepared(this.db, 'SELECT uid FROM messages WHERE mailbox_id = ? ORDER BY uid').pluck().all(mailboxId) as number[];
    return Uint32Array.from(rows);
  }

  /** Messages with uid in [fromUid, toUid], in UID order, at most `limit`. */
  messages(mailboxId: number, fromUid = 1, toUid = 0xffffffff, limit = -1): MessageRecord[] {
    const rows = this.db
      .prepare(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE mailbox_id = ? AND uid BETWEEN ? AND ? ORDER BY uid LIMIT ?`)
      .all(mailboxId, fromUid, toUid, limit) as MessageRow[];
    return rows.map(toMessage);
  }

  /** Newest first by arrival (the webmail and `mailbox ls` order), paged. */
  messagesNewestFirst(mailboxId: number, offset: number, limit: number): MessageRecord[] {
    const rows = this.db
      .prepare(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE mailbox_id = ? ORDER BY uid DESC LIMIT ? OFFSET ?`)
      .all(mailboxId, limit, offset) as MessageRow[];
    return rows.map(toMessage);
  }

  message(mailboxId: number, uid: number): MessageRecord | null {
    const row = this.db.prepare(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE mailbox_id = ? AND uid = ?`).get(mailboxId, uid) as MessageRow | undefined;
    return row ? toMessage(row) : null;
  }

  /** The UID of the first message without \Seen (SELECT's [UNSEEN n]), from the partial index. */
  firstUnseenUid(mailboxId: number): number | null {
    return (
      (prepared(this.db, 'SELECT uid FROM messages WHERE mailbox_id = ? AND (flags & 1) = 0 ORDER BY uid LIMIT 1').pluck().get(mailboxId) as
        | number
        | undefined) ?? null
    );
  }

  content(contentId: number): ContentInfo | null {
    return contentInfo(this.db, contentId);
  }

  /** Bytes [start, end) of the message as the user sees it: our prefix, then the content. */
  read(message: MessageRecord, start = 0, end = message.size): Buffer {
    end = Math.min(end, message.size);
    if (end <= start) return Buffer.alloc(0);
    const parts: Buffer[] = [];
    if (start < message.prefixLength) {
      const prefix = prepared(this.db, 'SELECT prefix FROM messages WHERE id = ?').pluck().get(message.id) as Buffer;
      parts.push(prefix.subarray(start, Math.min(end, message.prefixLength)));
    }
    if (end > message.prefixLength) {
      parts.push(readContent(this.db, message.contentId, Math.max(0, start - message.prefixLength), end - message.prefixLength));
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  /** The whole message as a sequence of chunks (prefix first), for streaming. */
  *stream(message: MessageRecord): Generator<Buffer> {
    if (message.prefixLength > 0) yield prepared(this.db, 'SELECT prefix FROM messages WHERE id = ?').pluck().get(message.id) as Buffer;
    yield* contentChunks(this.db, message.contentId);
  }

  // --- changes -----------------------------------------------------------------------------

  /**
   * Sets, adds or removes flags on the listed UIDs. With `unchangedSince` (CONDSTORE, RFC 7162
   * §3.1.3) messages whose modseq is higher are left alone and reported in `modified`. All
   * changed messages share one new modseq. Messages whose flags would not change are untouched.
   */
  store(
    mailboxId: number,
    uids: Iterable<number>,
    op: 'set' | 'add' | 'remove',
    flags: readonly string[],
    unchangedSince?: number,
  ): { changed: FlagChange[]; modified: number[] } {
    const { bits, keywords } = bitsFromFlags(flags);
    const changed: FlagChange[] = [];
    const modified: number[] = [];
    this.db
      .transaction(() => {
        const get = this.db.prepare('SELECT flags, keywords, modseq FROM messages WHERE mailbox_id = ? AND uid = ?');
        const upd = this.db.prepare('UPDATE messages SET flags = ?, keywords = ?, modseq = ? WHERE mailbox_id = ? AND uid = ?');
        let modseq = 0;
        let unseenDelta = 0;
        for (const uid of uids) {
          const row = get.get(mailboxId, uid) as { flags: number; keywords: string; modseq: number } | undefined;
          if (!row) continue;
          if (unchangedSince !== undefined && row.modseq > unchangedSince) {
            modified.push(uid);
            continue;
          }
          const current = row.keywords ? row.keywords.split(' ') : [];
          let nextBits: number;
          let nextKw: string[];
          if (op === 'set') {
            nextBits = bits;
            nextKw = keywords;
          } else if (op === 'add') {
            nextBits = row.flags | bits;
            const have = new Set(current.map((k) => k.toLowerCase()));
            nextKw = [...current, ...keywords.filter((k) => !have.has(k.toLowerCase()))];
          } else {
            nextBits = row.flags & ~bits;
            const drop = new Set(keywords.map((k) => k.toLowerCase()));
            nextKw = current.filter((k) => !drop.has(k.toLowerCase()));
          }
          const kw = nextKw.join(' ');
          if (nextBits === row.flags && kw === row.keywords) continue;
          if (modseq === 0) {
            modseq = prepared(this.db, 'UPDATE mailboxes SET highest_modseq = highest_modseq + 1 WHERE id = ? RETURNING highest_modseq')
              .pluck()
              .get(mailboxId) as number;
          }
          const seen = FLAG_BITS['\\Seen'];
          if ((row.flags & seen) !== (nextBits & seen)) unseenDelta += nextBits & seen ? -1 : 1;
          upd.run(nextBits, kw, modseq, mailboxId, uid);
          changed.push({ uid, flags: flagsFromBits(nextBits, kw), modseq });
        }
        if (unseenDelta !== 0) prepared(this.db, 'UPDATE mailboxes SET unseen_count = unseen_count + ? WHERE id = ?').run(unseenDelta, mailboxId);
      })
      .immediate();
    if (changed.length > 0) this.changes.emit('change', mailboxId);
    return { changed, modified };
  }

  /**
   * Removes messages flagged \Deleted (all of them, or only those in `uids`: UID EXPUNGE).
   * Returns the expunged UIDs in ascending order.
   */
  expunge(mailboxId: number, uids?: Iterable<number>): number[] {
    const deleted = FLAG_BITS['\\Deleted'];
    const out = this.db
      .transaction(() => {
        let rows = prepared(this.db, 'SELECT uid, content_id, size, flags FROM messages WHERE mailbox_id = ? AND (flags & ?) != 0 ORDER BY uid').all(
          mailboxId,
          deleted,
        ) as Array<{ uid: number; content_id: number; size: number; flags: number }>;
        if (uids) {
          const only = new Set(uids);
          rows = rows.filter((r) => only.has(r.uid));
        }
        this.removeRows(mailboxId, rows);
        return rows.map((r) => r.uid);
      })
      .immediate();
    if (out.length > 0) this.changes.emit('change', mailboxId);
    return out;
  }

  /** Deletes rows (caller's transaction), keeping counters, contents and the expunge log right. */
  private removeRows(mailboxId: number, rows: ReadonlyArray<{ uid: number; content_id: number; size: number; flags: number }>): void {
    if (rows.length === 0) return;
    const modseq = prepared(this.db, 'UPDATE mailboxes SET highest_modseq = highest_modseq + 1 WHERE id = ? RETURNING highest_modseq')
      .pluck()
      .get(mailboxId) as number;
    const del = this.db.prepare('DELETE FROM messages WHERE mailbox_id = ? AND uid = ?');
    const log = this.db.prepare('INSERT OR REPLACE INTO expunged (mailbox_id, uid, modseq) VALUES (?, ?, ?)');
    let size = 0;
    let unseen = 0;
    for (const r of rows) {
      del.run(mailboxId, r.uid);
      log.run(mailboxId, r.uid, modseq);
      size += r.size;
      if ((r.flags & FLAG_BITS['\\Seen']) === 0) unseen++;
    }
    prepared(this.db, 'UPDATE mailboxes SET message_count = message_count - ?, unseen_count = unseen_count - ?, total_size = total_size - ? WHERE id = ?').run(
      rows.length,
      unseen,
      size,
      mailboxId,
    );
    releaseContents(
      this.db,
      rows.map((r) => r.content_id),
    );
  }

  /**
   * COPY (RFC 9051 §6.4.7): the listed messages into `destId` with their flags; contents are
   * shared, not duplicated. Returns the UID mapping for COPYUID (RFC 4315).
   */
  copy(srcId: number, uids: Iterable<number>, destId: number): { uidValidity: number; mapping: Array<[number, number]> } {
    const result = this.db.transaction(() => this.copyRows(srcId, uids, destId)).immediate();
    if (result.mapping.length > 0) this.changes.emit('change', destId);
    return result;
  }

  /** MOVE (RFC 6851): copy and expunge in one transaction. */
  move(srcId: number, uids: Iterable<number>, destId: number): { uidValidity: number; mapping: Array<[number, number]> } {
    const result = this.db.transaction(() => this.moveMessages(srcId, uids, destId)).immediate();
    if (result.mapping.length > 0) {
      this.changes.emit('change', srcId);
      this.changes.emit('change', destId);
    }
    return result;
  }

  private moveMessages(srcId: number, uids: Iterable<number>, destId: number): { uidValidity: number; mapping: Array<[number, number]> } {
    const result = this.copyRows(srcId, uids, destId, this.mailboxById(srcId)?.userId !== this.mailboxById(destId)?.userId);
    const get = this.db.prepare('SELECT uid, content_id, size, flags FROM messages WHERE mailbox_id = ? AND uid = ?');
    const rows = result.mapping.map(([src]) => get.get(srcId, src) as { uid: number; content_id: number; size: number; flags: number });
    this.removeRows(srcId, rows);
    return result;
  }

  private copyRows(srcId: number, uids: Iterable<number>, destId: number, checkQuota = true): { uidValidity: number; mapping: Array<[number, number]> } {
    const dest = this.mailboxById(destId);
    if (!dest) throw new StoreError('TRYCREATE', 'no such mailbox');
    const get = this.db.prepare('SELECT content_id, prefix, size, internal_date, flags, keywords FROM messages WHERE mailbox_id = ? AND uid = ?');
    const rows: Array<{ uid: number; content_id: number; prefix: Buffer; size: number; internal_date: number; flags: number; keywords: string }> = [];
    for (const uid of [...uids].sort((a, b) => a - b)) {
      const r = get.get(srcId, uid) as Omit<(typeof rows)[number], 'uid'> | undefined;
      if (r) rows.push({ uid, ...r });
    }
    if (rows.length === 0) return { uidValidity: dest.uidValidity, mapping: [] };
    const grow = rows.reduce((n, r) => n + r.size, 0);
    // A MOVE between one user's mailboxes does not grow their usage; a COPY does.
    const quota = this.quota(dest.userId);
    if (checkQuota && quota > 0 && this.usage(dest.userId) + grow > quota) throw new StoreError('OVERQUOTA', 'quota exceeded');
    const head = prepared(
      this.db,
      `UPDATE mailboxes SET uid_next = uid_next + ?, highest_modseq = highest_modseq + 1,
           message_count = message_count + ?, unseen_count = unseen_count + ?, total_size = total_size + ?
         WHERE id = ? RETURNING uid_next - ? AS first, highest_modseq AS modseq`,
    ).get(rows.length, rows.length, rows.filter((r) => (r.flags & FLAG_BITS['\\Seen']) === 0).length, grow, destId, rows.length) as {
      first: number;
      modseq: number;
    };
    const ins = this.db.prepare(
      `INSERT INTO messages (mailbox_id, uid, content_id, prefix, size, internal_date, flags, keywords, modseq)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const addRef = this.db.prepare('UPDATE contents SET refs = refs + 1 WHERE id = ?');
    const mapping: Array<[number, number]> = [];
    rows.forEach((r, i) => {
      const uid = head.first + i;
      ins.run(destId, uid, r.content_id, r.prefix, r.size, r.internal_date, r.flags, r.keywords, head.modseq);
      addRef.run(r.content_id);
      mapping.push([r.uid, uid]);
    });
    return { uidValidity: dest.uidValidity, mapping };
  }

  /** Messages changed after `modseq` (CONDSTORE FETCH CHANGEDSINCE, IDLE catch-up). */
  changedSince(mailboxId: number, modseq: number): MessageRecord[] {
    const rows = this.db
      .prepare(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE mailbox_id = ? AND modseq > ? ORDER BY uid`)
      .all(mailboxId, modseq) as MessageRow[];
    return rows.map(toMessage);
  }

  /** UIDs expunged after `modseq` (QRESYNC VANISHED). */
  expungedSince(mailboxId: number, modseq: number): number[] {
    return prepared(this.db, 'SELECT uid FROM expunged WHERE mailbox_id = ? AND modseq > ? ORDER BY uid').pluck().all(mailboxId, modseq) as number[];
  }

  /**
   * Polls PRAGMA data_version (cheap: no I/O) so commits made by other processes (the delivery
   * agent, the CLI) reach this process's listeners within `intervalMs`. Returns a stop function.
   */
  watchExternalChanges(intervalMs = 200): () => void {
    let last = this.db.pragma('data_version', { simple: true }) as number;
    const timer = setInterval(() => {
      const now = this.db.pragma('data_version', { simple: true }) as number;
      if (now !== last) {
        last = now;
        this.changes.emit('external');
      }
    }, intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }
}
