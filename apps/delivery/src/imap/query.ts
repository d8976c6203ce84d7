/**
 * The batch read FETCH needs: message rows and, when asked, the precomputed content columns,
 * one query per page of UIDs (never one query per message, never the message bytes).
 *
 * This is SQL over the store's tables (packages/core/src/store/schema.ts), kept here because
 * which columns to read is decided by the FETCH items; it only reads.
 */
import type { Db, MessageRecord } from '@postern/core';

export interface FetchNeeds {
  readonly envelope: boolean;
  readonly bodyStructure: boolean;
  readonly body: boolean;
  /** header_end and the parts JSON: for body sections and BINARY. */
  readonly layout: boolean;
}

export interface FetchRow {
  id: number;
  uid: number;
  content_id: number;
  prefix_length: number;
  size: number;
  internal_date: number;
  flags: number;
  keywords: string;
  modseq: number;
  envelope?: string;
  body_structure?: string;
  body?: string;
  header_end?: number;
  parts?: string;
}

const statements = new WeakMap<Db, Map<string, ReturnType<Db['prepare']>>>();

function prepared(db: Db, sql: string): ReturnType<Db['prepare']> {
  let cache = statements.get(db);
  if (!cache) {
    cache = new Map();
    statements.set(db, cache);
  }
  let stmt = cache.get(sql);
  if (!stmt) {
    stmt = db.prepare(sql);
    cache.set(sql, stmt);
  }
  return stmt;
}

/** Rows with uid in [fromUid, toUid] (and modseq > changedSince when given), in UID order, at most `limit`. */
export function fetchPage(
  db: Db,
  mailboxId: number,
  fromUid: number,
  toUid: number,
  needs: FetchNeeds,
  changedSince: number | null,
  limit: number,
): FetchRow[] {
  const cols = ['m.id', 'm.uid', 'm.content_id', 'length(m.prefix) AS prefix_length', 'm.size', 'm.internal_date', 'm.flags', 'm.keywords', 'm.modseq'];
  if (needs.envelope) cols.push('c.envelope');
  if (needs.bodyStructure) cols.push('c.body_structure');
  if (needs.body) cols.push('c.body');
  if (needs.layout) cols.push('c.header_end', 'c.parts');
  const join = needs.envelope || needs.bodyStructure || needs.body || needs.layout;
  const sql =
    `SELECT ${cols.join(', ')} FROM messages m${join ? ' JOIN contents c ON c.id = m.content_id' : ''}` +
    ` WHERE m.mailbox_id = ? AND m.uid BETWEEN ? AND ?${changedSince !== null ? ' AND m.modseq > ?' : ''} ORDER BY m.uid LIMIT ?`;
  const args: number[] = [mailboxId, fromUid, toUid];
  if (changedSince !== null) args.push(changedSince);
  args.push(limit);
  return prepared(db, sql).all(...(args as [number])) as FetchRow[];
}

/** The MessageRecord shape MailStore.read() needs, from a fetch row. */
export function recordOf(mailboxId: number, r: FetchRow): MessageRecord {
  return {
    id: r.id,
    mailboxId,
    uid: r.uid,
    contentId: r.content_id,
    prefixLength: r.prefix_length,
    size: r.size,
    internalDate: r.internal_date,
    flags: [],
    modseq: r.modseq,
  };
}

/** Cached prepared statement for other read-only helpers of the IMAP server. */
export function cachedStatement(db: Db, sql: string): ReturnType<Db['prepare']> {
  return prepared(db, sql);
}
