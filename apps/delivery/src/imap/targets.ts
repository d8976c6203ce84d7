/**
 * Message sets of FETCH/STORE/COPY/MOVE/SEARCH resolved against a session's sequence map, as
 * UID ranges: `1:*` on 100,000 messages stays one range, never 100,000 numbers.
 */
import { resolveSequenceSet, sequenceSetFromNumbers, sequenceSetHighest, type SequenceSet } from '@postern/imap';
import { bad } from './reply.js';
import type { SelectedMailbox } from './selected.js';

/** `$` (RFC 5182) becomes the saved UIDs; the set is then a UID set whatever the command. */
export function substituteSaved(set: SequenceSet, uid: boolean, saved: readonly number[]): { set: SequenceSet; uid: boolean } {
  if (set.kind !== 'saved') return { set, uid };
  return { set: sequenceSetFromNumbers(saved), uid: true };
}

/**
 * UID ranges (ascending, disjoint) covered by a set. For sequence numbers, a number beyond the
 * mailbox is a client error (RFC 9051 §9: BAD). UIDs not in the map fall inside the ranges;
 * callers keep only those `sel.seqOf()` knows.
 */
export function uidRanges(sel: SelectedMailbox, set: SequenceSet, uid: boolean, saved: readonly number[]): Array<[number, number]> {
  const s = substituteSaved(set, uid, saved);
  if (s.set.kind === 'saved') return [];
  if (s.uid) return resolveSequenceSet(s.set, sel.maxUid);
  // An empty mailbox answers `1:*` with nothing rather than BAD: clients send it blindly.
  if (sel.count > 0 && sequenceSetHighest(s.set) > sel.count) throw bad('Invalid message sequence number', 'CLIENTBUG');
  return resolveSequenceSet(s.set, sel.count).map(([lo, hi]) => [sel.uidAt(lo), sel.uidAt(hi)]);
}

/** Every known UID in the set, ascending (for STORE/COPY/MOVE, which touch rows one by one anyway). */
export function uidList(sel: SelectedMailbox, set: SequenceSet, uid: boolean, saved: readonly number[]): number[] {
  const out: number[] = [];
  for (const [lo, hi] of uidRanges(sel, set, uid, saved)) {
    for (const u of sel.uidsIn(lo, hi)) if (!sel.pending.has(u)) out.push(u);
  }
  return out;
}
