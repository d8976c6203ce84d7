/**
 * The substring index (content_trigram, schema migration 3), completed off the delivery path.
 * Delivery stores a content with its word index and lists it in content_trigram_pending: the
 * trigrams of a 100 KB body cost 80 % of its delivery (core's contents.ts). They are added here:
 * - in the background, once the store has seen no change for `quietMs`, so a burst of
 *   deliveries is not slowed down by it and the index catches up when the burst ends; under
 *   steady traffic that is never quiet, still one batch every `maxDeferMs`;
 * - before a SEARCH TEXT/BODY, for the pending contents of the mailbox searched, so a search
 *   is a substring search whatever the backlog (Dovecot's fts also indexes at search time).
 * Each content is read back and indexed by @postern/mime exactly as at delivery (no prefix).
 * One transaction (one fsync) per batch of at most BATCH_BYTES, one batch per event-loop turn:
 * IMAP and LMTP sessions are served between batches.
 */
import { completeTrigram, contentChunks, contentSize, trigramPending, trigramPendingIn, type Db, type Logger, type MailStore } from '@postern/core';
import { inlineIndexer, type MessageIndexer } from './index-pool.js';

/** Content bytes per transaction: about 20 ms of tokenizing, the longest the event loop waits. */
const BATCH_BYTES = 512 * 1024;
/** Contents per transaction at most (small messages). */
const BATCH_COUNT = 64;
/** Content bytes read from the store in one event-loop turn (4 chunks). */
const READ_BYTES_PER_TURN = 1024 * 1024;

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Indexes a prefix of `ids` worth about BATCH_BYTES; returns how many ids it took. The MIME
 * indexing runs on `indexer`'s threads (a big content is never parsed on the session thread).
 */
async function indexBatch(db: Db, ids: readonly number[], indexer: MessageIndexer): Promise<number> {
  const batch = [];
  let bytes = 0;
  for (const id of ids) {
    if (bytes >= BATCH_BYTES) break;
    // A content freed meanwhile reads as empty; completeTrigram skips it (no longer pending).
    const raw = await readWhole(db, id);
    bytes += raw.length;
    batch.push({ id, index: (await indexer.index(raw)).index });
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
 * (SEARCH). Mail that arrives meanwhile is left to the background run, so a mailbox under
 * steady delivery cannot keep a SEARCH waiting. Returns how many contents it indexed.
 */
export async function indexMailboxSubstrings(db: Db, mailboxId: number, indexer: MessageIndexer): Promise<number> {
  const ids = trigramPendingIn(db, mailboxId, Number.MAX_SAFE_INTEGER);
  let done = 0;
  while (done < ids.length) {
    done += await indexBatch(db, ids.slice(done, done + BATCH_COUNT), indexer);
    await turn();
  }
  return done;
}

/** The background half: one per delivery agent process. */
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
  private readonly onChange = (): void => {
    this.lastChange = Date.now();
    if (this.idle) {
      this.idle = false;
      this.lastRun = this.lastChange;
    }
    this.schedule();
  };

  constructor(
    private readonly store: MailStore,
    private readonly logger: Logger,
    /** How long the store must be quiet before the background indexing resumes. */
    private readonly quietMs = 250,
    /** The longest it waits for quiet before it runs a batch anyway. */
    private readonly maxDeferMs = 5_000,
    /** Where contents are MIME-indexed (the agent's thread pool). */
    private readonly indexer: MessageIndexer = inlineIndexer,
  ) {}

  start(): this {
    this.store.changes.on('change', this.onChange);
    // Contents left pending by an earlier run or by migration 3.
    if (trigramPending(this.store.db, 1).length > 0) {
      this.idle = false;
      this.schedule();
    }
    return this;
  }

  stop(): void {
    this.stopped = true;
    this.store.changes.off('change', this.onChange);
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
      ids = trigramPending(this.store.db, BATCH_COUNT);
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
    indexBatch(this.store.db, ids, this.indexer).then(
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
    // SEARCH still indexes what it needs; the background run tries again later.
    this.logger.error({ err: e }, 'substring indexing failed; retrying in 10 s');
    this.notBefore = Date.now() + 10_000;
    this.schedule();
  }
}
