/**
 * Streaming reads of a stored message: bytes [start, end) of what the user sees (our prefix,
 * then the content) as a sequence of at most CHUNK_SIZE pieces, one `content_chunks` row read
 * per step, so a 25 MB FETCH holds one chunk at a time, not the message.
 *
 * A stream is consumed across awaits (the socket drains between chunks), so other sessions may
 * expunge the message meanwhile; when the last reference goes, its content rows are deleted and
 * a later content may even reuse the row id. Every chunk is therefore read together with the
 * content's SHA-256 taken when the stream started: a chunk that is gone or now belongs to other
 * bytes ends the stream with ContentGoneError instead of sending someone else's mail.
 */
import type { Statement } from 'better-sqlite3';
import type { Db } from '../sqlite.js';
import { CHUNK_SIZE } from './contents.js';
import type { StreamedMessage } from './interface.js';

/** The message vanished (expunged and its content freed) while it was being streamed. */
export class ContentGoneError extends Error {
  override readonly name = 'ContentGoneError';
  constructor(readonly messageId: number) {
    super(`message ${messageId} was expunged while being read`);
  }
}

interface Statements {
  sha: Statement<[number], Buffer>;
  prefix: Statement<[number, number], Buffer>;
  chunk: Statement<[number, number, Buffer], Buffer>;
}

const statements = new WeakMap<Db, Statements>();

function streamStatements(db: Db): Statements {
  let s = statements.get(db);
  if (!s) {
    s = {
      sha: db.prepare<[number], Buffer>('SELECT sha256 FROM contents WHERE id = ?').pluck(),
      prefix: db.prepare<[number, number], Buffer>('SELECT prefix FROM messages WHERE id = ? AND content_id = ?').pluck(),
      chunk: db
        .prepare<[number, number, Buffer], Buffer>(
          'SELECT ch.data FROM content_chunks ch JOIN contents c ON c.id = ch.content_id WHERE ch.content_id = ? AND ch.seq = ? AND c.sha256 = ?',
        )
        .pluck(),
    };
    statements.set(db, s);
  }
  return s;
}

/**
 * Bytes [start, end) of a message (clamped to its size), one chunk per step. Yields exactly
 * `min(end, size) - start` bytes in total, or throws ContentGoneError part way.
 */
export function* messageChunks(db: Db, message: StreamedMessage, start = 0, end: number = message.size): Generator<Buffer> {
  end = Math.min(end, message.size);
  if (end <= start) return;
  const q = streamStatements(db);
  const sha = q.sha.get(message.contentId);
  if (!sha) throw new ContentGoneError(message.id);
  const p = message.prefixLength;
  if (start < p) {
    const prefix = q.prefix.get(message.id, message.contentId);
    if (!prefix) throw new ContentGoneError(message.id);
    yield prefix.subarray(start, Math.min(end, p));
  }
  const cStart = Math.max(0, start - p);
  const cEnd = end - p;
  for (let seq = Math.floor(cStart / CHUNK_SIZE); seq * CHUNK_SIZE < cEnd; seq++) {
    const data = q.chunk.get(message.contentId, seq, sha);
    const base = seq * CHUNK_SIZE;
    const from = Math.max(0, cStart - base);
    const to = Math.min(cEnd - base, CHUNK_SIZE);
    // A chunk shorter than the range it should cover means the rows are not the message's.
    if (!data || data.length < to) throw new ContentGoneError(message.id);
    if (to > from) yield from === 0 && to === data.length ? data : data.subarray(from, to);
  }
}
