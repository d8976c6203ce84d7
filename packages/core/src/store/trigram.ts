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

/**
 * Adds a pending content's text to the substring index, once: false when it is no longer
 * pending (freed meanwhile, or done by someone else).
 */
export function completeTrigram(db: Db, id: number, index: Pick<MessageIndex, 'subject' | 'from' | 'to' | 'cc' | 'bcc' | 'text'>): boolean {
  return db
    .transaction(() => {
      if (db.prepare('DELETE FROM content_trigram_pending WHERE content_id = ?').run(id).changes === 0) return false;
      db.prepare('INSERT INTO content_trigram (rowid, subject, addresses, body) VALUES (?, ?, ?, ?)').run(
        id,
        index.subject,
        [index.from, index.to, index.cc, index.bcc].join(' '),
        index.text,
      );
      return true;
    })
    .immediate();
}
