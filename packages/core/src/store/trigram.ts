/**
 * Catching up the substring index (content_trigram, schema migration 3) for contents stored
 * before it existed, listed in content_trigram_pending. The text comes from the caller (it
 * needs the MIME indexer, which lives outside core): a content is read, indexed, then completed.
 */
import type { Db } from '../sqlite.js';
import type { MessageIndex } from './contents.js';

/** Up to `limit` contents still missing from the substring index. */
export function trigramPending(db: Db, limit: number): number[] {
  return db.prepare('SELECT content_id FROM content_trigram_pending ORDER BY content_id LIMIT ?').pluck().all(limit) as number[];
}

/** The text of a content for the substring index (what acquireContent indexes). */
export type TrigramText = Pick<MessageIndex, 'subject' | 'from' | 'to' | 'cc' | 'bcc' | 'text'>;

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
