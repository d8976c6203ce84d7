/**
 * SEARCH and UID SEARCH (RFC 9051 §6.4.4) with ESEARCH results (RFC 4731), SEARCHRES `$`
 * (RFC 5182) and MODSEQ (RFC 7162 §3.1.5): one SQL query per command (search-sql.ts).
 */
import { esearchResponse, searchResponse, type CommandOf } from '@postern/imap';
import { no, ok, type Reply } from '../reply.js';
import { indexMailboxSubstrings } from '../../search-index.js';
import { compileSearch, countSearchKeys, registerSearchFunctions, startHeaderSearch } from '../search-sql.js';
import type { ImapSession } from '../session.js';

/** limits.imap_search_keys when the session was given none (tests). */
const DEFAULT_MAX_KEYS = 100;
/**
 * When a search parses stored headers, it runs in slices of messages with the event loop free
 * between them, so a SEARCH over a big mailbox lets every other session run. A slice starts at
 * about HEADER_SLICE_MATCHES key evaluations (10-25 µs each: a call out of SQLite) and at most
 * HEADER_SLICE_MESSAGES headers (each at most one 256 KB chunk), then follows the time the last
 * one took: halved past SLICE_TARGET_MS, doubled well under it, down to one message.
 */
const HEADER_SLICE_MESSAGES = 25;
const HEADER_SLICE_MATCHES = 500;
const SLICE_TARGET_MS = 10;

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export async function cmdSearch(s: ImapSession, c: CommandOf<'SEARCH'>): Promise<Reply> {
  const sel = s.sel();
  const db = s.store.db;
  registerSearchFunctions(db);
  const opts = c.returnOptions;
  const saving = opts?.includes('SAVE') ?? false;
  // RFC 5182 §2.1: a failed SEARCH ... RETURN (SAVE) leaves an empty saved result.
  if (saving) s.savedSearch = [];
  const maxKeys = s.opts.maxSearchKeys ?? DEFAULT_MAX_KEYS;
  const keys = countSearchKeys(c.criteria);
  if (keys > maxKeys) throw no(`SEARCH with ${keys} keys; at most ${maxKeys} are allowed`, 'LIMIT');
  const compiled = compileSearch(c.criteria, { sel, saved: s.savedSearch, now: Date.now() });
  if (compiled.usesModseq) s.condstore = true;
  // Contents delivered since the background indexer last ran get their substrings now.
  if (compiled.usesSubstringIndex) {
    try {
      await indexMailboxSubstrings(db, sel.id, s.indexer);
    } catch (e) {
      // A full disk, say: the contents still pending answer through the word index (search-sql.ts).
      s.log.warn({ err: e }, 'substring index catch-up failed; searching with the word index for the rest');
    }
  }
  const needsContent = /\bc\./.test(compiled.sql);
  const sql =
    `SELECT m.uid, m.modseq FROM messages m${needsContent ? ' JOIN contents c ON c.id = m.content_id' : ''}` +
    ` WHERE m.mailbox_id = ? AND m.uid BETWEEN ? AND ? AND (${compiled.sql}) ORDER BY m.uid`;
  let stmt: ReturnType<typeof db.prepare<unknown[]>>;
  try {
    stmt = db.prepare(sql).raw();
  } catch (e) {
    // SQLite's own bounds (expression depth 1000, 32766 parameters): a search too big to run
    if (e instanceof Error && /too (large|many)|too deep/i.test(e.message)) throw no('SEARCH too complex', 'LIMIT');
    throw e;
  }
  let rows: Array<[number, number]> = [];
  if (compiled.headerKeys === 0) {
    rows = stmt.all(sel.id, 1, sel.maxUid, ...compiled.params) as Array<[number, number]>;
  } else {
    const most = Math.max(1, Math.min(HEADER_SLICE_MESSAGES, Math.floor(HEADER_SLICE_MATCHES / compiled.headerKeys)));
    let slice = most;
    const uidsBefore = sel.count;
    for (let seq = 1, last = 0; seq <= uidsBefore; seq = last + 1) {
      // the session's view may shrink meanwhile (its own EXPUNGE cannot run, others' are pending)
      last = Math.min(seq + slice - 1, sel.count);
      if (seq > last) break;
      const started = performance.now();
      startHeaderSearch(db, compiled.headerFields);
      for (const r of stmt.all(sel.id, sel.uidAt(seq), sel.uidAt(last), ...compiled.params) as Array<[number, number]>) rows.push(r);
      const took = performance.now() - started;
      if (took > SLICE_TARGET_MS) slice = Math.max(1, slice >> 1);
      else if (took < SLICE_TARGET_MS / 4) slice = Math.min(most, slice * 2);
      if (last < uidsBefore) await turn();
    }
    startHeaderSearch(db, new Set());
  }
  const uids: number[] = [];
  let highest = 0;
  for (const [uid, modseq] of rows) {
    // Only messages this session knows (not yet announced ones, not expunged ones).
    if (sel.seqOf(uid) === 0 || sel.pending.has(uid)) continue;
    uids.push(uid);
    if (modseq > highest) highest = modseq;
  }
  const numbers = c.uid ? uids : uids.map((u) => sel.seqOf(u));
  const modseq = compiled.usesModseq && uids.length > 0 ? highest : null;
  const verb = `${c.uid ? 'UID ' : ''}SEARCH completed`;
  if (opts === null) {
    await s.io.send(searchResponse(numbers, modseq));
    return ok(verb);
  }
  const want = new Set<string>(opts.filter((o) => o !== 'SAVE'));
  // RFC 4731 §3.1: RETURN () means ALL.
  if (opts.length === 0) want.add('ALL');
  if (saving) {
    // RFC 5182 §2.4: with MIN/MAX only, the saved result is just those.
    const onlyMinMax = (want.has('MIN') || want.has('MAX')) && !want.has('ALL') && !want.has('COUNT');
    if (onlyMinMax && uids.length > 0) {
      const kept: number[] = [];
      if (want.has('MIN')) kept.push(uids[0] as number);
      if (want.has('MAX') && uids.length > 1) kept.push(uids[uids.length - 1] as number);
      s.savedSearch = kept;
    } else {
      s.savedSearch = uids;
    }
  }
  // RFC 5182 §2.4: SAVE alone gives no ESEARCH response.
  if (want.size === 0) return ok(verb);
  await s.io.send(
    esearchResponse({
      tag: c.tag,
      uid: c.uid,
      min: want.has('MIN') && numbers.length > 0 ? (numbers[0] as number) : null,
      max: want.has('MAX') && numbers.length > 0 ? (numbers[numbers.length - 1] as number) : null,
      count: want.has('COUNT') ? numbers.length : null,
      all: want.has('ALL') && numbers.length > 0 ? numbers : null,
      modseq,
    }),
  );
  return ok(verb);
}
