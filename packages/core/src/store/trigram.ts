/**
 * The substring index (content_trigram, schema migration 3), completed off the delivery path.
 * Delivery stores a content with its word index and lists it in content_trigram_pending: the
 * trigrams of a 100 KB body cost 80 % of its delivery (./contents.ts). They are added here:
 * - in the background, once the store has seen no change for `quietMs`, so a burst of
 *   deliveries is not slowed down by it and the index catches up when the burst ends; under
 *   steady traffic that is never quiet, still one batch every `maxDeferMs`;
 * - before a search on TEXT/BODY, for the pending contents of the mailbox searched, so a search
 *   is a substring search whatever the backlog (Dovecot's fts also indexes at search time).
 * Each content is read back and its text made by a TextIndexer (@postern/mime's indexer, on
 * the delivery agent's threads) exactly as at delivery (no prefix). One transaction (one fsync)
 * per batch of at most BATCH_BYTES, one batch per event-loop turn: IMAP and LMTP sessions are
 * served between batches.
 */
import { indexMessage } from '@postern/mime';
import type { Logger } from '../log.js';
import { prepared, type Db } from '../sqlite.js';
import { contentChunks, contentSize, type MessageIndex } from './contents.js';

/** The text of a content for the substring index (what acquireContent indexes). */
export type TrigramText = Pick<MessageIndex, 'subject' | 'from' | 'to' | 'cc' | 'bcc' | 'text'>;

/** Makes the search text of a stored content (its raw bytes). */
export type TextIndexer = (raw: Buffer) => Promise<TrigramText>;

/** On the calling thread (tests, tools). */
export const inlineTextIndexer: TextIndexer = (raw) => Promise.resolve(indexMessage(raw));

/** Content bytes per transaction: about 20 ms of tokenizing, the longest the event loop waits. */
const BATCH_BYTES = 512 * 1024;
/** Contents per transaction at most (small messages). */
const BATCH_COUNT = 64;
/** Content bytes read from the store in one event-loop turn (4 chunks). */
const READ_BYTES_PER_TURN = 1024 * 1024;

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Up to `limit` contents still missing from the substring index. */
export function trigramPending(db: Db, limit: number): number[] {
  return prepared<number>(db, 'SELECT content_id FROM content_trigram_pending ORDER BY content_id LIMIT ?').pluck().all(limit);
}

/** Up to `limit` contents of one mailbox still missing from the substring index. Walks the
 * pending list (short: what arrived since the indexer last ran) and checks each through the
 * messages_content index, so its cost does not grow with the mailbox. */
export function trigramPendingIn(db: Db, mailboxId: number, limit: number): number[] {
  return prepared<number>(
    db,
    `SELECT p.content_id FROM content_trigram_pending p
       WHERE EXISTS (SELECT 1 FROM messages m WHERE m.content_id = p.content_id AND m.mailbox_id = ?)
       ORDER BY p.content_id LIMIT ?`,
  )
    .pluck()
    .all(mailboxId, limit);
}

/**
 * Adds pending contents' text to the substring index, in one transaction (one fsync for the
 * batch); a content no longer pending (freed meanwhile, or done by someone else) is skipped.
 * Returns how many were added.
 */
export function completeTrigram(db: Db, batch: ReadonlyArray<{ id: number; index: TrigramText }>): number {
  const done = db.prepare('DELETE FROM content_trigram_pending WHERE content_id = ?');
  const insert = db.prepare('INSERT INTO content_trigram (rowid, subject, addresses, body) VALUES (?, ?, ?, ?)');
  return db
    .transaction(() => {
      let n = 0;
      for (const { id, index } of batch) {
        if (done.run(id).changes === 0) continue;
        insert.run(id, index.subject, [index.from, index.to, index.cc, index.bcc].join(' '), index.text);
        n++;
      }
      return n;
    })
    .immediate();
}

/**
 * Indexes a prefix of `ids` worth about BATCH_BYTES; returns how many ids it took. The text is
 * made by `indexer` (a big content is never parsed on the session thread).
 */
async function indexBatch(db: Db, ids: readonly number[], indexer: TextIndexer): Promise<number> {
  const batch: Array<{ id: number; index: TrigramText }> = [];
  let bytes = 0;
  for (const id of ids) {
    if (bytes >= BATCH_BYTES) break;
    // A content freed meanwhile reads as empty; completeTrigram skips it (no longer pending).
    const raw = await readWhole(db, id);
    bytes += raw.length;
    batch.push({ id, index: await indexer(raw) });
  }
  completeTrigram(db, batch);
  return batch.length;
}

/**
 * A content's bytes, read a few chunks per event-loop turn into one buffer the index thread can
 * take (reading 24 MB at once held the thread for 300 ms on a loaded machine).
 */
async function readWhole(db: Db, id: number): Promise<Buffer> {
  const size = contentSize(db, id);
  const out = Buffer.allocUnsafeSlow(size);
  let at = 0;
  let sinceTurn = 0;
  for (const chunk of contentChunks(db, id)) {
    if (at + chunk.length > size) break; // changed meanwhile: completeTrigram will skip it
    chunk.copy(out, at);
    at += chunk.length;
    sinceTurn += chunk.length;
    if (sinceTurn >= READ_BYTES_PER_TURN) {
      sinceTurn = 0;
      await turn();
    }
  }
  return out.subarray(0, at);
}

/**
 * Indexes the contents of one mailbox pending when it is called, a batch per event-loop turn
 * (a search). Mail that arrives meanwhile is left to the background run, so a mailbox under
 * steady delivery cannot keep a search waiting. Returns how many contents it indexed.
 */
export async function indexMailboxSubstrings(db: Db, mailboxId: number, indexer: TextIndexer): Promise<number> {
  const ids = trigramPendingIn(db, mailboxId, Number.MAX_SAFE_INTEGER);
  let done = 0;
  while (done < ids.length) {
    done += await indexBatch(db, ids.slice(done, done + BATCH_COUNT), indexer);
    await turn();
  }
  return done;
}

export interface SubstringIndexerOptions {
  /** How long the store must be quiet before the background indexing resumes. */
  quietMs?: number;
  /** The longest it waits for quiet before it runs a batch anyway. */
  maxDeferMs?: number;
}

/** The background half: one per delivery agent process (MailStore.startTextIndexing). */
export class SubstringIndexer {
  private timer: NodeJS.Timeout | null = null;
  /** When the pending timer fires. */
  private timerAt = 0;
  private lastChange = 0;
  /** When the last batch ran, or when work arrived while the indexer was idle. */
  private lastRun = 0;
  /** After a failure: no batch before this. */
  private notBefore = 0;
  private idle = true;
  /** A batch is being indexed (on the pool's threads): no second one meanwhile. */
  private running = false;
  private indexed = 0;
  private stopped = false;
  private readonly quietMs: number;
  private readonly maxDeferMs: number;

  constructor(
    private readonly db: Db,
    private readonly logger: Logger,
    private readonly indexer: TextIndexer,
    options: SubstringIndexerOptions = {},
  ) {
    this.quietMs = options.quietMs ?? 250;
    this.maxDeferMs = options.maxDeferMs ?? 5_000;
  }

  /** Something was committed: the indexer runs once the store is quiet. */
  changed(): void {
    this.lastChange = Date.now();
    if (this.idle) {
      this.idle = false;
      this.lastRun = this.lastChange;
    }
    this.schedule();
  }

  start(): this {
    // Contents left pending by an earlier run or by migration 3.
    if (trigramPending(this.db, 1).length > 0) {
      this.idle = false;
      this.schedule();
    }
    return this;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** The earliest moment the next batch may run: quiet, or deferred long enough. */
  private nextRun(): number {
    return Math.max(this.notBefore, Math.min(this.lastChange + this.quietMs, this.lastRun + this.maxDeferMs));
  }

  /** A timer for nextRun(); an earlier timer is kept (step() checks again when it fires). */
  private schedule(): void {
    if (this.stopped) return;
    const at = this.nextRun();
    if (this.timer) {
      if (this.timerAt <= at) return;
      clearTimeout(this.timer);
    }
    this.timerAt = at;
    this.timer = setTimeout(
      () => {
        this.timer = null;
        this.step();
      },
      Math.max(0, at - Date.now()),
    );
    this.timer.unref();
  }

  private step(): void {
    if (this.running || this.stopped) return;
    if (Date.now() < this.nextRun()) {
      this.schedule();
      return;
    }
    let ids: number[];
    try {
      ids = trigramPending(this.db, BATCH_COUNT);
    } catch (e) {
      this.failed(e);
      return;
    }
    if (ids.length === 0) {
      if (this.indexed > 0) this.logger.debug({ contents: this.indexed }, 'substring index caught up');
      this.indexed = 0;
      this.idle = true;
      return;
    }
    this.running = true;
    indexBatch(this.db, ids, this.indexer).then(
      (n) => {
        this.running = false;
        this.indexed += n;
        this.lastRun = Date.now();
        this.schedule();
      },
      (e: unknown) => {
        this.running = false;
        this.failed(e);
      },
    );
  }

  private failed(e: unknown): void {
    if (this.stopped) return;
    // A search still indexes what it needs; the background run tries again later.
    this.logger.error({ err: e }, 'substring indexing failed; retrying in 10 s');
    this.notBefore = Date.now() + 10_000;
    this.schedule();
  }
}
