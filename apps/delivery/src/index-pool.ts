/**
 * MIME indexing off the thread that serves sessions (issue 14): the LMTP server, APPEND and the
 * substring indexer hand each message to a bounded pool of worker threads, so however long one
 * message takes to index, every IMAP, POP3 and LMTP session of every user is served meanwhile.
 * @postern/mime is linear with hard caps (a 25 MB message of any shape in well under a second);
 * the pool is what keeps even that second away from other users.
 *
 * - Messages under `inlineBelow` bytes are indexed on the calling thread: a few milliseconds at
 *   worst, less than a thread hop, and normal mail never waits behind a big message.
 * - A big message is not copied: its memory is handed to the thread and handed back with the
 *   index (a copy of 24 MB cost the session thread 70-120 ms on a loaded machine). The Buffer
 *   passed in is then empty; the caller goes on with the one returned. Memory that cannot move
 *   (a slice of a larger buffer) is copied; shared memory (SharedArrayBuffer) is sent as is.
 * - Jobs wait in arrival order for a free thread; their number is bounded by the connections
 *   that can ask (limits.connections_total), each with one message at a time.
 * - A job that runs past `timeoutMs` ends its thread (a new one starts) and fails; so does a
 *   thread that dies (over its heap limit, say). The message's bytes went with the thread: the
 *   caller answers a temporary failure (LMTP 451, APPEND NO), nothing was acknowledged.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { indexMessage, type IndexedMessage } from '@postern/mime';
import type { Logger } from '@postern/core';

export interface Indexed {
  index: IndexedMessage;
  /** The message's bytes: use this one, the Buffer passed in may be empty now. */
  raw: Buffer;
}

export interface MessageIndexer {
  index(raw: Buffer): Promise<Indexed>;
  close(): Promise<void>;
}

/** Indexes on the calling thread (unit tests of the servers, tools). */
export const inlineIndexer: MessageIndexer = {
  index: (raw) => Promise.resolve({ index: indexMessage(raw), raw }),
  close: () => Promise.resolve(),
};

export interface IndexPoolOptions {
  /** Worker threads (at least 1). */
  size: number;
  logger: Logger;
  /** Messages smaller than this are indexed inline. */
  inlineBelow?: number;
  /** The longest one message may take (the caps make it far less). */
  timeoutMs?: number;
  /** Heap of one thread: a thread over it dies instead of the process. */
  maxHeapMb?: number;
}

/** Default pool size: the cores but one for the event loop, at least 1, at most 4. */
export function defaultIndexThreads(): number {
  return Math.max(1, Math.min(4, availableParallelism() - 1));
}

interface Job {
  id: number;
  memory: ArrayBuffer | SharedArrayBuffer;
  length: number;
  resolve: (done: Indexed) => void;
  reject: (err: Error) => void;
}

interface Slot {
  worker: Worker;
  job: Job | null;
  timer: NodeJS.Timeout | null;
}

/** Built output next to this file; from the sources (vitest), the package's build. */
function workerUrl(): URL {
  const here = import.meta.url;
  return here.endsWith('.ts') ? new URL('../dist/index-worker.js', here) : new URL('./index-worker.js', here);
}

export class IndexPool implements MessageIndexer {
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private nextId = 1;
  private closed = false;
  private readonly inlineBelow: number;
  private readonly timeoutMs: number;

  constructor(private readonly opts: IndexPoolOptions) {
    this.inlineBelow = opts.inlineBelow ?? 128 * 1024;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    for (let i = 0; i < Math.max(1, opts.size); i++) this.slots.push(this.spawn());
  }

  index(raw: Buffer): Promise<Indexed> {
    if (this.closed) return Promise.reject(new Error('index pool closed'));
    if (raw.length < this.inlineBelow) return Promise.resolve({ index: indexMessage(raw), raw });
    const whole = raw.byteOffset === 0 && raw.byteLength === raw.buffer.byteLength;
    // a view of part of a buffer cannot move: that part is copied out
    const memory = whole ? raw.buffer : raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength);
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, memory, length: raw.length, resolve, reject });
      this.dispatch();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const err = new Error('index pool closed');
    for (const job of this.queue.splice(0)) job.reject(err);
    await Promise.all(
      this.slots.map(async (s) => {
        if (s.timer) clearTimeout(s.timer);
        s.job?.reject(err);
        s.job = null;
        await s.worker.terminate();
      }),
    );
  }

  private spawn(): Slot {
    const worker = new Worker(workerUrl(), { resourceLimits: { maxOldGenerationSizeMb: this.opts.maxHeapMb ?? 512 } });
    const slot: Slot = { worker, job: null, timer: null };
    worker.unref();
    worker.on('message', (m: { id: number; index: IndexedMessage; memory: ArrayBuffer | SharedArrayBuffer }) => {
      const job = slot.job;
      if (job === null || job.id !== m.id) return;
      this.finish(slot);
      job.resolve({ index: m.index, raw: Buffer.from(m.memory, 0, job.length) });
      this.dispatch();
    });
    worker.on('error', (err) => this.lost(slot, err));
    worker.on('exit', (code) => this.lost(slot, new Error(`index thread exited with code ${code}`)));
    return slot;
  }

  private finish(slot: Slot): void {
    if (slot.timer) clearTimeout(slot.timer);
    slot.timer = null;
    slot.job = null;
  }

  /** The thread died or was ended: its job fails, a new thread takes its place. */
  private lost(slot: Slot, err: Error): void {
    const i = this.slots.indexOf(slot);
    if (i === -1 || this.closed) return;
    const job = slot.job;
    this.finish(slot);
    if (job !== null) {
      this.opts.logger.error({ err }, 'message indexing failed');
      job.reject(err);
    }
    slot.worker.removeAllListeners();
    void slot.worker.terminate();
    this.slots[i] = this.spawn();
    this.dispatch();
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (this.queue.length === 0) return;
      if (slot.job !== null) continue;
      const job = this.queue.shift()!;
      slot.job = job;
      slot.timer = setTimeout(() => this.lost(slot, new Error(`indexing took more than ${this.timeoutMs} ms`)), this.timeoutMs);
      const transfer = job.memory instanceof ArrayBuffer ? [job.memory] : [];
      slot.worker.postMessage({ id: job.id, memory: job.memory, length: job.length }, transfer);
    }
  }
}
