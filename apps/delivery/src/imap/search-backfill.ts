/**
 * Background catch-up of the substring index (content_trigram, schema migration 3) for
 * contents stored before it existed: each pending content is read, indexed again by
 * @postern/mime as delivery does, and its text added. Until then SEARCH TEXT/BODY answers for it
 * through the word index (search-sql.ts). One batch per event-loop turn, so sessions are served
 * meanwhile; one run per database however many listeners start it.
 */
import { completeTrigram, contentChunks, trigramPending, type Logger, type MailStore } from '@postern/core';
import { indexMessage } from '@postern/mime';
import type { Db } from '@postern/core';
import { collect } from './literal.js';

const running = new WeakSet<Db>();

/** Starts the catch-up when something is pending; returns a function that stops it. */
export function startTrigramBackfill(store: MailStore, logger: Logger, batch = 20): () => void {
  const db = store.db;
  if (running.has(db) || trigramPending(db, 1).length === 0) return () => undefined;
  running.add(db);
  let stopped = false;
  let done = 0;
  const stop = (): void => {
    stopped = true;
    running.delete(db);
  };
  const step = (): void => {
    if (stopped) return;
    try {
      const ids = trigramPending(db, batch);
      if (ids.length === 0) {
        logger.info({ contents: done }, 'substring search index caught up');
        stop();
        return;
      }
      // The content alone (no per-recipient prefix), as it was indexed at delivery.
      done += completeTrigram(
        db,
        ids.map((id) => ({ id, index: indexMessage(collect(contentChunks(db, id))) })),
      );
    } catch (e) {
      logger.error({ err: e }, 'substring search index catch-up failed; searches keep using the word index');
      stop();
      return;
    }
    setImmediate(step);
  };
  setImmediate(step);
  return stop;
}
