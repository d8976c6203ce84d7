/**
 * The message store's SQLite backend: the one implementation of MessageStore (./interface.ts),
 * and the only code that speaks SQL to mail.db's mailboxes, messages and contents.
 *
 * Invariants:
 * - Every write is one IMMEDIATE transaction; a caller hears "done" only after COMMIT, and
 *   the database runs with synchronous=FULL, so an acknowledged message is on disk. Deliveries
 *   are group-committed: those handed in during one event-loop turn share one transaction (one
 *   fsync), each in its own savepoint (../queue/group-commit.ts).
 * - UIDs in a mailbox strictly increase and are never reused (uid_next only grows); every change
 *   to a mailbox takes the next HIGHESTMODSEQ and stamps it on what changed; expunges are kept
 *   with their modseq (QRESYNC).
 * - message_count, unseen_count and total_size on the mailbox row are kept exact in the same
 *   transaction, so SELECT and STATUS read one row, never the messages.
 * - After each commit, subscribers hear the affected mailbox ids; while anyone is subscribed,
 *   other processes' commits are noticed through PRAGMA data_version and reported as well.
 * - Calls resolve at once (better-sqlite3 is synchronous); the interface is promises so that a
 *   networked backend can implement it. Reads that a caller pulls chunk by chunk (`chunks`) are
 *   the exception, see interface.ts.
 */
import { EventEmitter } from 'node:events';
import { GroupCommit } from '../queue/group-commit.js';
import type { Logger } from '../log.js';
import { prepared, type Db } from '../sqlite.js';
import { acquireContent, contentInfo, readContent, releaseContents, type MessageIndex } from './contents.js';
import type {
  AppendRequest,
  ContentInfo,
  CopyResult,
  DeliveryOutcome,
  DeliveryRequest,
  FetchNeeds,
  FetchRange,
  FetchRecord,
  FlagChange,
  FlagResult,
  Mailbox,
  MailboxChanges,
  MailboxSnapshot,
  MessageRecord,
  MessageStore,
  SearchCriteria,
  SearchOptions,
  SearchResult,
  SnapshotOptions,
  StoreChange,
  StreamedMessage,
} from './interface.js';
import { canonicalMailboxName, HIERARCHY_SEPARATOR, newUidValidity, validMailboxName } from './mailboxes.js';
import { FLAG_BITS, type SystemFlag } from './schema.js';
import { compileSearch, registerSearchFunctions, startHeaderSearch } from './search.js';
import { messageChunks } from './stream.js';
import { indexMailboxSubstrings, inlineTextIndexer, SubstringIndexer, type SubstringIndexerOptions, type TextIndexer } from './trigram.js';
import type { MimePart } from '@postern/mime';

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

/** What removing a message needs of its row. */
interface RemovedRow {
  uid: number;
  content_id: number;
  size: number;
  flags: number;
}

/** A FETCH row in raw mode (array, not object: half the cost, see fetchPage). */
type FetchTuple = [
  id: number,
  uid: number,
  contentId: number,
  prefixLength: number,
  size: number,
  internalDate: number,
  flags: number,
  keywords: string,
  modseq: number,
  envelope: string | null,
  bodyStructure: string | null,
  body: string | null,
  headerEnd: number | null,
  parts: string | null,
];

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
  // Once per message of every FETCH page: no Object.entries() per call.
  if (bits === 0 && keywords === '') return [];
  const out: string[] = [];
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
    const sys = FLAG_LIST.find(([k]) => k.toLowerCase() === f.toLowerCase());
    if (sys) bits |= sys[1];
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

/**
 * When a search parses stored headers, it runs in slices of messages with the event loop free
 * between them, so a search over a big mailbox lets every other session run. A slice starts at
 * about HEADER_SLICE_MATCHES key evaluations (10-25 µs each: a call out of SQLite) and at most
 * HEADER_SLICE_MESSAGES headers (each at most one 256 KB chunk), then follows the time the last
 * one took: halved past SLICE_TARGET_MS, doubled well under it, down to one message.
 */
const HEADER_SLICE_MESSAGES = 25;
const HEADER_SLICE_MATCHES = 500;
const SLICE_TARGET_MS = 10;

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export interface MailStoreOptions {
  defaultQuotaBytes?: number;
  /** How often other processes' commits are looked for while anyone is subscribed. */
  externalPollMs?: number;
  /** Deliveries per group commit at most (bounds the time one commit holds the write lock). */
  maxDeliveryBatch?: number;
}

export class MailStore implements MessageStore {
  private readonly emitter = new EventEmitter();
  private readonly defaultQuota: number;
  private readonly externalPollMs: number;
  private readonly deliveries: GroupCommit;
  private textIndexer: TextIndexer = inlineTextIndexer;
  private logger: Logger | null = null;
  private background: SubstringIndexer | null = null;
  private watcher: NodeJS.Timeout | null = null;
  private subscribers = 0;

  constructor(
    private readonly db: Db,
    options: MailStoreOptions = {},
  ) {
    this.defaultQuota = options.defaultQuotaBytes ?? 0;
    this.externalPollMs = options.externalPollMs ?? 200;
    this.deliveries = new GroupCommit(db, 0, options.maxDeliveryBatch ?? 256);
    this.emitter.setMaxListeners(0);
  }

  // --- changes -----------------------------------------------------------------------------

  subscribe(listener: (change: StoreChange) => void): () => void {
    this.emitter.on('change', listener);
    if (this.subscribers++ === 0) this.watchExternalChanges();
    let subscribed = true;
    return () => {
      if (!subscribed) return;
      subscribed = false;
      this.emitter.off('change', listener);
      if (--this.subscribers === 0 && this.watcher) {
        clearInterval(this.watcher);
        this.watcher = null;
      }
    };
  }

  /** After a commit that touched `mailboxId`. */
  private committed(mailboxId: number): void {
    this.background?.changed();
    this.emitter.emit('change', { mailboxId } satisfies StoreChange);
  }

  /**
   * Polls PRAGMA data_version (cheap: no I/O; it moves only for other connections' commits) so
   * commits made by other processes (the delivery agent, the CLI) reach subscribers within
   * externalPollMs, as a change of an unknown mailbox.
   */
  private watchExternalChanges(): void {
    const version = (): number => {
      const v = this.db.pragma('data_version', { simple: true });
      return typeof v === 'number' ? v : 0;
    };
    let last = version();
    this.watcher = setInterval(() => {
      if (!this.db.open) return;
      const now = version();
      if (now === last) return;
      last = now;
      this.background?.changed();
      this.emitter.emit('change', { mailboxId: null } satisfies StoreChange);
    }, this.externalPollMs);
    this.watcher.unref();
  }

  /**
   * Completes the substring index in the background with `indexer` (the delivery agent's
   * threads), which searches use too for what is still pending. Returns a stop function.
   */
  startSubstringIndexing(options: { logger: Logger; indexer?: TextIndexer } & SubstringIndexerOptions): () => void {
    if (options.indexer) this.textIndexer = options.indexer;
    this.logger = options.logger;
    const indexer = new SubstringIndexer(this.db, options.logger, this.textIndexer, options).start();
    this.background = indexer;
    return () => {
      indexer.stop();
      if (this.background === indexer) this.background = null;
    };
  }

  /** Completes the substring index of one mailbox now (what a search does first); how many it indexed. */
  async completeSubstringIndex(mailboxId: number): Promise<number> {
    return indexMailboxSubstrings(this.db, mailboxId, this.textIndexer);
  }

  /** Contents not yet in the substring index (all, or those of one mailbox). */
  async substringBacklog(mailboxId?: number): Promise<number> {
    if (mailboxId === undefined) return prepared<number>(this.db, 'SELECT count(*) FROM content_trigram_pending').pluck().get() ?? 0;
    return (
      prepared<number>(
        this.db,
        'SELECT count(*) FROM content_trigram_pending p WHERE EXISTS (SELECT 1 FROM messages m WHERE m.content_id = p.content_id AND m.mailbox_id = ?)',
      )
        .pluck()
        .get(mailboxId) ?? 0
    );
  }

  // --- mailboxes ---------------------------------------------------------------------------

  async listMailboxes(userId: number): Promise<Mailbox[]> {
    return prepared<MailboxRow>(this.db, 'SELECT * FROM mailboxes WHERE user_id = ? ORDER BY name').all(userId).map(toMailbox);
  }

  async mailbox(userId: number, name: string): Promise<Mailbox | null> {
    return this.mailboxNow(userId, name);
  }

  async mailboxById(id: number): Promise<Mailbox | null> {
    return this.mailboxByIdNow(id);
  }

  private mailboxNow(userId: number, name: string): Mailbox | null {
    const row = prepared<MailboxRow>(this.db, 'SELECT * FROM mailboxes WHERE user_id = ? AND name = ?').get(userId, canonicalMailboxName(name));
    return row ? toMailbox(row) : null;
  }

  private mailboxByIdNow(id: number): Mailbox | null {
    const row = prepared<MailboxRow>(this.db, 'SELECT * FROM mailboxes WHERE id = ?').get(id);
    return row ? toMailbox(row) : null;
  }

  /**
   * Creates a mailbox. Missing parents (RFC 9051 §6.3.4) are not created as mailboxes: they
   * exist only in their children's names, and IMAP lists them \Noselect (as Dovecot does), so
   * a sync client never finds an empty selectable parent it did not make.
   */
  async createMailbox(userId: number, name: string, specialUse: string | null = null): Promise<Mailbox> {
    return this.createMailboxNow(userId, name, specialUse);
  }

  private createMailboxNow(userId: number, name: string, specialUse: string | null): Mailbox {
    const canonical = canonicalMailboxName(name.endsWith(HIERARCHY_SEPARATOR) ? name.slice(0, -1) : name);
    if (!validMailboxName(canonical)) throw new StoreError('CANNOT', `invalid mailbox name`);
    return this.db
      .transaction(() => {
        if (this.mailboxNow(userId, canonical)) throw new StoreError('ALREADYEXISTS', 'mailbox already exists');
        prepared(this.db, 'INSERT INTO mailboxes (user_id, name, special_use, uid_validity) VALUES (?, ?, ?, ?)').run(
          userId,
          canonical,
          specialUse,
          newUidValidity(),
        );
        return this.mailboxNow(userId, canonical)!;
      })
      .immediate();
  }

  /** Deletes a mailbox and its messages. INBOX cannot be deleted (RFC 9051 §6.3.5). */
  async deleteMailbox(userId: number, name: string): Promise<void> {
    const mb = this.mailboxNow(userId, name);
    if (!mb) throw new StoreError('NONEXISTENT', 'no such mailbox');
    if (mb.name === 'INBOX') throw new StoreError('CANNOT', 'INBOX cannot be deleted');
    this.db
      .transaction(() => {
        const contents = prepared<number>(this.db, 'SELECT content_id FROM messages WHERE mailbox_id = ?').pluck().all(mb.id);
        prepared(this.db, 'DELETE FROM messages WHERE mailbox_id = ?').run(mb.id);
        releaseContents(this.db, contents);
        prepared(this.db, 'DELETE FROM mailboxes WHERE id = ?').run(mb.id);
      })
      .immediate();
    this.committed(mb.id);
  }

  /**
   * Renames a mailbox and its children. Renaming INBOX moves its messages to a new mailbox and
   * leaves INBOX empty (RFC 9051 §6.3.6).
   */
  async renameMailbox(userId: number, from: string, to: string): Promise<void> {
    const src = this.mailboxNow(userId, from);
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
    if (this.mailboxNow(userId, target)) throw new StoreError('ALREADYEXISTS', 'target mailbox already exists');
    if (src?.name === 'INBOX') {
      const moved = this.db
        .transaction(() => {
          const dest = this.createMailboxNow(userId, target, null);
          const uids = prepared<number>(this.db, 'SELECT uid FROM messages WHERE mailbox_id = ? ORDER BY uid').pluck().all(src.id);
          this.moveMessages(src.id, uids, dest.id);
          return dest.id;
        })
        .immediate();
      this.committed(src.id);
      this.committed(moved);
      return;
    }
    if (target.startsWith(name + HIERARCHY_SEPARATOR)) throw new StoreError('CANNOT', 'cannot move a mailbox into itself');
    this.db
      .transaction(() => {
        // the target's missing parents stay placeholders, as with createMailbox
        const children = prepared<{ id: number; name: string }>(
          this.db,
          'SELECT id, name FROM mailboxes WHERE user_id = ? AND (name = ? OR substr(name, 1, ?) = ?)',
        ).all(userId, name, name.length + 1, name + HIERARCHY_SEPARATOR);
        // A renamed mailbox keeps its UIDVALIDITY (as Dovecot does): the messages and their UIDs
        // are unchanged, so the old UIDVALIDITY stays valid.
        const update = this.db.prepare('UPDATE mailboxes SET name = ? WHERE id = ?');
        for (const c of children) update.run(target + c.name.slice(name.length), c.id);
      })
      .immediate();
  }

  async setSubscribed(userId: number, name: string, subscribed: boolean): Promise<void> {
    const mb = this.mailboxNow(userId, name);
    if (!mb) {
      if (subscribed) throw new StoreError('NONEXISTENT', 'no such mailbox');
      return;
    }
    prepared(this.db, 'UPDATE mailboxes SET subscribed = ? WHERE id = ?').run(subscribed ? 1 : 0, mb.id);
  }

  async usage(userId: number): Promise<number> {
    return this.usageNow(userId);
  }

  private usageNow(userId: number): number {
    return prepared<number>(this.db, 'SELECT COALESCE(SUM(total_size), 0) FROM mailboxes WHERE user_id = ?').pluck().get(userId) ?? 0;
  }

  /** The quota that applies to a user (0: none). */
  private quota(userId: number): number {
    const own = prepared<number>(this.db, 'SELECT quota_bytes FROM users WHERE id = ?').pluck().get(userId);
    return own && own > 0 ? own : this.defaultQuota;
  }

  async deletedCount(mailboxId: number): Promise<number> {
    return (
      prepared<number>(this.db, `SELECT count(*) FROM messages WHERE mailbox_id = ? AND (flags & ${FLAG_BITS['\\Deleted']}) != 0`).pluck().get(mailboxId) ?? 0
    );
  }

  // --- delivery ----------------------------------------------------------------------------

  /**
   * Delivers one message to its recipients. Deliveries handed in during the same event-loop
   * turn commit together (group commit: one fsync for many messages), each in its own
   * savepoint. Each request gets its own outcome; a refused one (over quota) does not affect
   * the others. Rejects only when the transaction itself fails, in which case nothing of this
   * call is stored.
   */
  async deliver(requests: readonly DeliveryRequest[]): Promise<DeliveryOutcome[]> {
    const touched = new Set<number>();
    const outcomes = await this.deliveries.run(() => requests.map((req) => this.deliverOne(req, touched)));
    for (const id of touched) this.committed(id);
    return outcomes;
  }

  private deliverOne(req: DeliveryRequest, touched: Set<number>): DeliveryOutcome {
    if (req.deliveryKey !== undefined) {
      const seen = prepared(this.db, 'SELECT 1 FROM delivery_keys WHERE envid = ? AND user_id = ?').get(req.deliveryKey, req.userId);
      if (seen) return { ok: true, mailboxId: 0, uid: 0, uidValidity: 0, duplicate: true };
    }
    const name = req.mailbox ?? 'INBOX';
    const mb = this.mailboxNow(req.userId, name) ?? this.mailboxNow(req.userId, 'INBOX');
    if (!mb) return { ok: false, reason: 'no-such-user', message: 'no such user' };
    const size = req.prefix.length + req.content.length;
    const quota = this.quota(req.userId);
    if (quota > 0 && this.usageNow(req.userId) + size > quota) {
      return { ok: false, reason: 'over-quota', message: 'mailbox full' };
    }
    const uid = this.insertMessage(mb.id, req.prefix, req.content, req.index, req.flags ?? [], req.internalDate ?? Date.now());
    if (req.deliveryKey !== undefined) {
      prepared(this.db, 'INSERT INTO delivery_keys (envid, user_id, delivered) VALUES (?, ?, ?)').run(req.deliveryKey, req.userId, Date.now());
    }
    touched.add(mb.id);
    return { ok: true, mailboxId: mb.id, uid, uidValidity: mb.uidValidity };
  }

  /** APPEND (RFC 9051 §6.3.12), MULTIAPPEND (RFC 3502): all messages or none, after the quota check. */
  async append(mailboxId: number, messages: readonly AppendRequest[]): Promise<{ uidValidity: number; uids: number[] }> {
    const result = this.db
      .transaction(() => {
        const mb = this.mailboxByIdNow(mailboxId);
        if (!mb) throw new StoreError('TRYCREATE', 'no such mailbox');
        const quota = this.quota(mb.userId);
        const grow = messages.reduce((n, m) => n + m.content.length, 0);
        if (quota > 0 && this.usageNow(mb.userId) + grow > quota) throw new StoreError('OVERQUOTA', 'quota exceeded');
        const uids = messages.map((m) => this.insertMessage(mb.id, Buffer.alloc(0), m.content, m.index, m.flags ?? [], m.internalDate ?? Date.now()));
        return { uidValidity: mb.uidValidity, uids };
      })
      .immediate();
    if (result.uids.length > 0) this.committed(mailboxId);
    return result;
  }

  /** Inserts a message row; caller holds the transaction. Returns its UID. */
  private insertMessage(mailboxId: number, prefix: Buffer, content: Buffer, index: MessageIndex, flags: readonly string[], internalDate: number): number {
    const contentId = acquireContent(this.db, content, index, 1);
    const { bits, keywords } = bitsFromFlags(flags);
    const mb = prepared<{ uid: number; modseq: number }>(
      this.db,
      `UPDATE mailboxes SET uid_next = uid_next + 1, highest_modseq = highest_modseq + 1,
           message_count = message_count + 1, unseen_count = unseen_count + ?, total_size = total_size + ?
         WHERE id = ? RETURNING uid_next - 1 AS uid, highest_modseq AS modseq`,
    ).get(bits & FLAG_BITS['\\Seen'] ? 0 : 1, prefix.length + content.length, mailboxId);
    if (!mb) throw new StoreError('TRYCREATE', 'no such mailbox');
    prepared(
      this.db,
      `INSERT INTO messages (mailbox_id, uid, content_id, prefix, size, internal_date, flags, keywords, modseq)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(mailboxId, mb.uid, contentId, prefix, prefix.length + content.length, internalDate, bits, keywords.join(' '), mb.modseq);
    return mb.uid;
  }

  /** Forgets delivery keys older than `maxAgeMs` (far longer than any queue retry window). */
  async pruneDeliveryKeys(maxAgeMs = 7 * 86_400_000): Promise<number> {
    return prepared(this.db, 'DELETE FROM delivery_keys WHERE delivered < ?').run(Date.now() - maxAgeMs).changes;
  }

  // --- reading -----------------------------------------------------------------------------

  /** SELECT (RFC 9051 §6.3.2): the mailbox, its UIDs and first unseen, and QRESYNC's changes, at one instant. */
  async snapshot(userId: number, name: string, options: SnapshotOptions = {}): Promise<MailboxSnapshot | null> {
    return this.db.transaction((): MailboxSnapshot | null => {
      const mailbox = this.mailboxNow(userId, name);
      if (!mailbox) return null;
      const uids = Uint32Array.from(prepared<number>(this.db, 'SELECT uid FROM messages WHERE mailbox_id = ? ORDER BY uid').pluck().all(mailbox.id));
      // from the partial index messages_unseen
      const firstUnseenUid =
        prepared<number>(this.db, 'SELECT uid FROM messages WHERE mailbox_id = ? AND (flags & 1) = 0 ORDER BY uid LIMIT 1').pluck().get(mailbox.id) ?? null;
      const since = options.changesSince;
      if (since === undefined || since >= mailbox.highestModseq || (options.uidValidity !== undefined && options.uidValidity !== mailbox.uidValidity)) {
        return { mailbox, uids, firstUnseenUid };
      }
      return { mailbox, uids, firstUnseenUid, changes: { expunged: this.expungedNow(mailbox.id, since), changed: this.changedNow(mailbox.id, since) } };
    })();
  }

  /** The catch-up of a selected mailbox: what changed after `modseq`, read at one instant. */
  async changesSince(mailboxId: number, modseq: number): Promise<MailboxChanges> {
    return this.db.transaction((): MailboxChanges => {
      const mailbox = this.mailboxByIdNow(mailboxId);
      if (!mailbox || mailbox.highestModseq === modseq) return { mailbox, expunged: [], changed: [] };
      return { mailbox, expunged: this.expungedNow(mailboxId, modseq), changed: this.changedNow(mailboxId, modseq) };
    })();
  }

  /** UIDs expunged after `modseq` (QRESYNC VANISHED, RFC 7162 §3.2.10). */
  async expungedSince(mailboxId: number, modseq: number): Promise<number[]> {
    return this.expungedNow(mailboxId, modseq);
  }

  private expungedNow(mailboxId: number, modseq: number): number[] {
    return prepared<number>(this.db, 'SELECT uid FROM expunged WHERE mailbox_id = ? AND modseq > ? ORDER BY uid').pluck().all(mailboxId, modseq);
  }

  private changedNow(mailboxId: number, modseq: number): MessageRecord[] {
    return prepared<MessageRow>(this.db, `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE mailbox_id = ? AND modseq > ? ORDER BY uid`)
      .all(mailboxId, modseq)
      .map(toMessage);
  }

  /**
   * One page of FETCH: message rows and, when asked, the precomputed content columns, in one
   * query (never one per message, never the message bytes).
   */
  async fetchPage(mailboxId: number, range: FetchRange, needs: FetchNeeds): Promise<FetchRecord[]> {
    const content = needs.envelope || needs.bodyStructure || needs.body || needs.layout;
    const col = (need: boolean, name: string): string => (need ? `c.${name}` : 'NULL');
    const changedSince = range.changedSince ?? null;
    const sql =
      'SELECT m.id, m.uid, m.content_id, length(m.prefix), m.size, m.internal_date, m.flags, m.keywords, m.modseq, ' +
      `${col(needs.envelope, 'envelope')}, ${col(needs.bodyStructure, 'body_structure')}, ${col(needs.body, 'body')}, ` +
      `${col(needs.layout, 'header_end')}, ${col(needs.layout, 'parts')}` +
      ` FROM messages m${content ? ' JOIN contents c ON c.id = m.content_id' : ''}` +
      ` WHERE m.mailbox_id = ? AND m.uid BETWEEN ? AND ?${changedSince !== null ? ' AND m.modseq > ?' : ''} ORDER BY m.uid LIMIT ?`;
    const args: number[] = [mailboxId, range.fromUid, range.toUid];
    if (changedSince !== null) args.push(changedSince);
    args.push(range.limit);
    // Rows as arrays, made into objects here: half the cost of better-sqlite3's named-column
    // objects (bench/imap, `UID FETCH 1:* (FLAGS)` on 100,000 messages: 150 -> 78 ms of SQL).
    const rows = prepared<FetchTuple>(this.db, sql)
      .raw(true)
      .all(...args);
    const out: FetchRecord[] = new Array(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      const rec: FetchRecord = {
        id: r[0],
        mailboxId,
        uid: r[1],
        contentId: r[2],
        prefixLength: r[3],
        size: r[4],
        internalDate: r[5],
        flags: flagsFromBits(r[6], r[7]),
        modseq: r[8],
      };
      if (r[9] !== null) rec.envelope = r[9];
      if (r[10] !== null) rec.bodyStructure = r[10];
      if (r[11] !== null) rec.body = r[11];
      if (r[12] !== null) rec.headerEnd = r[12];
      if (r[13] !== null) rec.parts = JSON.parse(r[13]) as MimePart[];
      out[i] = rec;
    }
    return out;
  }

  /** Messages with uid in [fromUid, toUid], in UID order, at most `limit`. */
  async messages(mailboxId: number, fromUid = 1, toUid = 0xffffffff, limit = -1): Promise<MessageRecord[]> {
    return prepared<MessageRow>(this.db, `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE mailbox_id = ? AND uid BETWEEN ? AND ? ORDER BY uid LIMIT ?`)
      .all(mailboxId, fromUid, toUid, limit)
      .map(toMessage);
  }

  /** Newest first by arrival (the webmail and `mailbox ls` order), paged. */
  async messagesNewestFirst(mailboxId: number, offset: number, limit: number): Promise<MessageRecord[]> {
    return prepared<MessageRow>(this.db, `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE mailbox_id = ? ORDER BY uid DESC LIMIT ? OFFSET ?`)
      .all(mailboxId, limit, offset)
      .map(toMessage);
  }

  async message(mailboxId: number, uid: number): Promise<MessageRecord | null> {
    const row = prepared<MessageRow>(this.db, `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE mailbox_id = ? AND uid = ?`).get(mailboxId, uid);
    return row ? toMessage(row) : null;
  }

  async content(contentId: number): Promise<ContentInfo | null> {
    return contentInfo(this.db, contentId);
  }

  read(message: StreamedMessage, start = 0, end = message.size): Buffer {
    end = Math.min(end, message.size);
    if (end <= start) return Buffer.alloc(0);
    const parts: Buffer[] = [];
    if (start < message.prefixLength) {
      const prefix = prepared<Buffer>(this.db, 'SELECT prefix FROM messages WHERE id = ?').pluck().get(message.id) ?? Buffer.alloc(0);
      parts.push(prefix.subarray(start, Math.min(end, message.prefixLength)));
    }
    if (end > message.prefixLength) {
      parts.push(readContent(this.db, message.contentId, Math.max(0, start - message.prefixLength), end - message.prefixLength));
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  chunks(message: StreamedMessage, start = 0, end: number = message.size): Iterable<Buffer> {
    return messageChunks(this.db, message, start, end);
  }

  /**
   * SEARCH (RFC 9051 §6.4.4): one SQL query (./search.ts), or one per slice of messages when
   * header fields must be parsed. Contents delivered since the background indexer last ran get
   * their substrings first (a failure there, a full disk say, leaves them to the word index).
   */
  async search(mailboxId: number, criteria: SearchCriteria, options: SearchOptions): Promise<SearchResult> {
    registerSearchFunctions(this.db);
    const compiled = compileSearch(criteria);
    if (compiled.usesSubstringIndex) {
      try {
        await indexMailboxSubstrings(this.db, mailboxId, this.textIndexer);
      } catch (err) {
        // A full disk, say: the contents still pending answer through the word index (search.ts).
        this.logger?.warn({ err }, 'substring index catch-up failed; searching with the word index for the rest');
      }
    }
    const sql =
      `SELECT m.uid, m.modseq FROM messages m${compiled.usesContent ? ' JOIN contents c ON c.id = m.content_id' : ''}` +
      ` WHERE m.mailbox_id = ? AND m.uid BETWEEN ? AND ? AND (${compiled.sql}) ORDER BY m.uid`;
    let stmt: ReturnType<typeof prepared<[number, number]>>;
    try {
      stmt = this.db.prepare<unknown[], [number, number]>(sql).raw();
    } catch (e) {
      // SQLite's own bounds (expression depth 1000, 32766 parameters, parser recursion): a search too big to run
      if (e instanceof Error && /too (large|many)|too deep|recursion limit/i.test(e.message)) throw new StoreError('LIMIT', 'SEARCH too complex');
      throw e;
    }
    const uids: number[] = [];
    const modseqs: number[] = [];
    const collect = (lo: number, hi: number): void => {
      for (const [uid, modseq] of stmt.all(mailboxId, lo, hi, ...compiled.params)) {
        uids.push(uid);
        modseqs.push(modseq);
      }
    };
    if (compiled.headerKeys === 0) {
      collect(1, options.maxUid);
      return { uids, modseqs };
    }
    const most = Math.max(1, Math.min(HEADER_SLICE_MESSAGES, Math.floor(HEADER_SLICE_MATCHES / compiled.headerKeys)));
    const sliceEnd = prepared<number>(this.db, 'SELECT uid FROM messages WHERE mailbox_id = ? AND uid BETWEEN ? AND ? ORDER BY uid LIMIT 1 OFFSET ?').pluck();
    let slice = most;
    try {
      for (let from = 1; from <= options.maxUid; ) {
        // the end of the slice: its last message, or the end of the range
        const last = sliceEnd.get(mailboxId, from, options.maxUid, slice - 1) ?? options.maxUid;
        const started = performance.now();
        startHeaderSearch(this.db, compiled.headerFields);
        collect(from, last);
        const took = performance.now() - started;
        if (took > SLICE_TARGET_MS) slice = Math.max(1, slice >> 1);
        else if (took < SLICE_TARGET_MS / 4) slice = Math.min(most, slice * 2);
        from = last + 1;
        if (from <= options.maxUid) await turn();
      }
    } finally {
      startHeaderSearch(this.db, new Set());
    }
    return { uids, modseqs };
  }

  // --- changes -----------------------------------------------------------------------------

  /**
   * Sets, adds or removes flags on the listed UIDs. With `unchangedSince` (CONDSTORE, RFC 7162
   * §3.1.3) messages whose modseq is higher are left alone and reported in `modified`. All
   * changed messages share one new modseq. Messages whose flags would not change are untouched.
   */
  async setFlags(
    mailboxId: number,
    uids: Iterable<number>,
    op: 'set' | 'add' | 'remove',
    flags: readonly string[],
    unchangedSince?: number,
  ): Promise<FlagResult> {
    const result = this.db.transaction(() => this.setFlagsNow(mailboxId, uids, op, flags, unchangedSince)).immediate();
    if (result.changed.length > 0) this.committed(mailboxId);
    return result;
  }

  private setFlagsNow(mailboxId: number, uids: Iterable<number>, op: 'set' | 'add' | 'remove', flags: readonly string[], unchangedSince?: number): FlagResult {
    const { bits, keywords } = bitsFromFlags(flags);
    const changed: FlagChange[] = [];
    const modified: number[] = [];
    const get = prepared<{ flags: number; keywords: string; modseq: number }>(
      this.db,
      'SELECT flags, keywords, modseq FROM messages WHERE mailbox_id = ? AND uid = ?',
    );
    const upd = this.db.prepare('UPDATE messages SET flags = ?, keywords = ?, modseq = ? WHERE mailbox_id = ? AND uid = ?');
    let modseq = 0;
    let unseenDelta = 0;
    for (const uid of uids) {
      const row = get.get(mailboxId, uid);
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
      if (modseq === 0) modseq = this.nextModseq(mailboxId);
      const seen = FLAG_BITS['\\Seen'];
      if ((row.flags & seen) !== (nextBits & seen)) unseenDelta += nextBits & seen ? -1 : 1;
      upd.run(nextBits, kw, modseq, mailboxId, uid);
      changed.push({ uid, flags: flagsFromBits(nextBits, kw), modseq });
    }
    if (unseenDelta !== 0) prepared(this.db, 'UPDATE mailboxes SET unseen_count = unseen_count + ? WHERE id = ?').run(unseenDelta, mailboxId);
    const highestModseq = modseq !== 0 ? modseq : (prepared<number>(this.db, 'SELECT highest_modseq FROM mailboxes WHERE id = ?').pluck().get(mailboxId) ?? 0);
    return { changed, modified, highestModseq };
  }

  /** Takes the mailbox's next modseq (caller's transaction). */
  private nextModseq(mailboxId: number): number {
    const m = prepared<number>(this.db, 'UPDATE mailboxes SET highest_modseq = highest_modseq + 1 WHERE id = ? RETURNING highest_modseq')
      .pluck()
      .get(mailboxId);
    if (m === undefined) throw new StoreError('NONEXISTENT', 'no such mailbox');
    return m;
  }

  /**
   * Removes messages flagged \Deleted (all of them, or only those in `uids`: UID EXPUNGE).
   * Returns the expunged UIDs in ascending order.
   */
  async expunge(mailboxId: number, uids?: Iterable<number>): Promise<number[]> {
    const out = this.db.transaction(() => this.expungeNow(mailboxId, uids)).immediate();
    if (out.length > 0) this.committed(mailboxId);
    return out;
  }

  private expungeNow(mailboxId: number, uids?: Iterable<number>): number[] {
    const deleted = FLAG_BITS['\\Deleted'];
    let rows = prepared<RemovedRow>(this.db, 'SELECT uid, content_id, size, flags FROM messages WHERE mailbox_id = ? AND (flags & ?) != 0 ORDER BY uid').all(
      mailboxId,
      deleted,
    );
    if (uids) {
      const only = new Set(uids);
      rows = rows.filter((r) => only.has(r.uid));
    }
    this.removeRows(mailboxId, rows);
    return rows.map((r) => r.uid);
  }

  /** POP3's UPDATE state (RFC 1939 §6): exactly these flagged \Deleted and expunged, together. */
  async deleteMessages(mailboxId: number, uids: readonly number[]): Promise<number[]> {
    if (uids.length === 0) return [];
    const out = this.db
      .transaction(() => {
        this.setFlagsNow(mailboxId, uids, 'add', ['\\Deleted']);
        return this.expungeNow(mailboxId, uids);
      })
      .immediate();
    this.committed(mailboxId);
    return out;
  }

  /** Deletes rows (caller's transaction), keeping counters, contents and the expunge log right. */
  private removeRows(mailboxId: number, rows: readonly RemovedRow[]): void {
    if (rows.length === 0) return;
    const modseq = this.nextModseq(mailboxId);
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
  async copy(srcId: number, uids: Iterable<number>, destId: number): Promise<CopyResult> {
    const result = this.db.transaction(() => this.copyRows(srcId, uids, destId)).immediate();
    if (result.mapping.length > 0) this.committed(destId);
    return result;
  }

  /** MOVE (RFC 6851): copy and expunge in one transaction. */
  async move(srcId: number, uids: Iterable<number>, destId: number): Promise<CopyResult> {
    const result = this.db.transaction(() => this.moveMessages(srcId, uids, destId)).immediate();
    if (result.mapping.length > 0) {
      this.committed(srcId);
      this.committed(destId);
    }
    return result;
  }

  private moveMessages(srcId: number, uids: Iterable<number>, destId: number): CopyResult {
    const result = this.copyRows(srcId, uids, destId, this.mailboxByIdNow(srcId)?.userId !== this.mailboxByIdNow(destId)?.userId);
    const get = prepared<RemovedRow>(this.db, 'SELECT uid, content_id, size, flags FROM messages WHERE mailbox_id = ? AND uid = ?');
    const rows: RemovedRow[] = [];
    for (const [src] of result.mapping) {
      const row = get.get(srcId, src);
      if (row) rows.push(row);
    }
    this.removeRows(srcId, rows);
    return result;
  }

  private copyRows(srcId: number, uids: Iterable<number>, destId: number, checkQuota = true): CopyResult {
    const dest = this.mailboxByIdNow(destId);
    if (!dest) throw new StoreError('TRYCREATE', 'no such mailbox');
    type CopiedRow = { content_id: number; prefix: Buffer; size: number; internal_date: number; flags: number; keywords: string };
    const get = prepared<CopiedRow>(this.db, 'SELECT content_id, prefix, size, internal_date, flags, keywords FROM messages WHERE mailbox_id = ? AND uid = ?');
    const rows: Array<CopiedRow & { uid: number }> = [];
    for (const uid of [...uids].sort((a, b) => a - b)) {
      const r = get.get(srcId, uid);
      if (r) rows.push({ uid, ...r });
    }
    if (rows.length === 0) return { uidValidity: dest.uidValidity, mapping: [] };
    const grow = rows.reduce((n, r) => n + r.size, 0);
    // A MOVE between one user's mailboxes does not grow their usage; a COPY does.
    const quota = this.quota(dest.userId);
    if (checkQuota && quota > 0 && this.usageNow(dest.userId) + grow > quota) throw new StoreError('OVERQUOTA', 'quota exceeded');
    const head = prepared<{ first: number; modseq: number }>(
      this.db,
      `UPDATE mailboxes SET uid_next = uid_next + ?, highest_modseq = highest_modseq + 1,
           message_count = message_count + ?, unseen_count = unseen_count + ?, total_size = total_size + ?
         WHERE id = ? RETURNING uid_next - ? AS first, highest_modseq AS modseq`,
    ).get(rows.length, rows.length, rows.filter((r) => (r.flags & FLAG_BITS['\\Seen']) === 0).length, grow, destId, rows.length);
    if (!head) throw new StoreError('TRYCREATE', 'no such mailbox');
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
}

/**
 * A user's messages and the contents only they held (Accounts' user and domain deletion; the
 * mailboxes go with the user row, ON DELETE CASCADE). Runs inside the caller's transaction.
 */
export function deleteUserMessages(db: Db, userId: number): void {
  // Drop content references first so shared contents are freed when no one else holds them.
  const contents = prepared<number>(db, 'SELECT m.content_id FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id WHERE b.user_id = ?').pluck().all(userId);
  prepared(db, 'DELETE FROM messages WHERE mailbox_id IN (SELECT id FROM mailboxes WHERE user_id = ?)').run(userId);
  releaseContents(db, contents);
}
