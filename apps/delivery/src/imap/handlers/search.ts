/**
 * SEARCH and UID SEARCH (RFC 9051 §6.4.4) with ESEARCH results (RFC 4731), SEARCHRES `$`
 * (RFC 5182) and MODSEQ (RFC 7162 §3.1.5): the keys become the store's criteria
 * (search-criteria.ts), the store runs them (packages/core/src/store/search.ts).
 */
import { esearchResponse, searchResponse, type CommandOf } from '@postern/imap';
import { no, ok, type Reply } from '../reply.js';
import { countSearchKeys, searchCriteria } from '../search-criteria.js';
import type { ImapSession } from '../session.js';
import { storeCall } from '../store-errors.js';

/** limits.imap_search_keys when the session was given none (tests). */
const DEFAULT_MAX_KEYS = 100;

export async function cmdSearch(s: ImapSession, c: CommandOf<'SEARCH'>): Promise<Reply> {
  const sel = s.sel();
  const opts = c.returnOptions;
  const saving = opts?.includes('SAVE') ?? false;
  // RFC 5182 §2.1: a failed SEARCH ... RETURN (SAVE) leaves an empty saved result.
  if (saving) s.savedSearch = [];
  const maxKeys = s.opts.maxSearchKeys ?? DEFAULT_MAX_KEYS;
  const keys = countSearchKeys(c.criteria);
  if (keys > maxKeys) throw no(`SEARCH with ${keys} keys; at most ${maxKeys} are allowed`, 'LIMIT');
  const { criteria, usesModseq } = searchCriteria(c.criteria, { sel, saved: s.savedSearch, now: Date.now() });
  if (usesModseq) s.condstore = true;
  // only the messages this session knows of: none past its highest UID
  const found = await storeCall(() => s.store.search(sel.id, criteria, { maxUid: sel.maxUid }));
  const uids: number[] = [];
  let highest = 0;
  for (let i = 0; i < found.uids.length; i++) {
    const uid = found.uids[i]!;
    // Only messages this session knows (not yet announced ones, not expunged ones).
    if (sel.seqOf(uid) === 0 || sel.pending.has(uid)) continue;
    uids.push(uid);
    const modseq = found.modseqs[i]!;
    if (modseq > highest) highest = modseq;
  }
  const numbers = c.uid ? uids : uids.map((u) => sel.seqOf(u));
  const modseq = usesModseq && uids.length > 0 ? highest : null;
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
