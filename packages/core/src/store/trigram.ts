/**
 * The substring index (content_trigram, schema migration 3) is completed after delivery: every
 * content is listed in content_trigram_pending when it is stored (contents.ts), as were those
 * stored before the index existed. The text comes from the caller (it needs the MIME indexer,
 * which lives outside core): a content is read, indexed, then completed.
 */
import { prepared, type Db } from '../sqlite.js';
import type { MessageIndex } from './contents.js';

/** Up to `limit` contents still missing from the substring index. */
export function trigramPending(db: Db, limit: number): number[] {
  return prepared(db, 'SELECT content_id FROM content_trigram_pending ORDER BY content_id LIMIT ?').pluck().all(limit) as number[];
}

/** Up to `limit` contents of one mailbox still missing from the substring index. Walks the
 * pending list (short: what arrived since the indexer last ran) and checks each through the
 * messages_content index, so its cost does not grow with the mailbox. */
export function trigramPendingIn(db: Db, mailboxId: number, limit: number): number[] {
  return prepared(
    db,
    `SELECT p.content_id FROM content_trigram_pending p
       WHERE EXISTS (SELECT 1 FROM messages m WHERE m.content_id = p.content_id AND m.mailbox_id = ?)
       ORDER BY p.content_id LIMIT ?`,
  )
    .pluck()
    .all(mailboxId, limit) as number[];
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
