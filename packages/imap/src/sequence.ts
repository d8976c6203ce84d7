/**
 * Sequence sets (RFC 9051 §9 `sequence-set`, RFC 5182 `$`).
 *
 * A set is kept as the client wrote it: a list of ranges whose ends are numbers or `*`.
 * Nothing here ever materialises one number per message unless `expandSequenceSet` is called:
 * `1:*` on a 100,000 message mailbox is one range, resolved to `[[1, 100000]]`.
 */
import { ImapParseError } from './errors.js';

/** A sequence number or UID, or `*` ("the largest number in use"). */
export type SeqNumber = number | '*';

/** `from:to` as written (order not normalised); a single number has `from === to`. */
export interface SeqRange {
  readonly from: SeqNumber;
  readonly to: SeqNumber;
}

export type SequenceSet =
  | { readonly kind: 'set'; readonly ranges: readonly SeqRange[] }
  /** `$`: the result saved by an earlier `SEARCH RETURN (SAVE)` (RFC 5182 §2.1). */
  | { readonly kind: 'saved' };

/** Largest value of `nz-number` / `uniqueid` (RFC 9051 §9: unsigned 32-bit). */
export const MAX_SEQ_NUMBER = 0xffffffff;

function parseSeqNumber(text: string, whole: string): SeqNumber {
  if (text === '*') return '*';
  // nz-number = digit-nz *DIGIT: no zero, no leading zeros
  if (!/^[1-9][0-9]{0,9}$/.test(text)) throw new ImapParseError(`Invalid sequence set "${whole}"`, null);
  const n = Number(text);
  if (n > MAX_SEQ_NUMBER) throw new ImapParseError(`Sequence number out of range in "${whole}"`, null);
  return n;
}

/** Parses `1:3,5,7:*` or `$`. Throws ImapParseError (without a tag) on bad syntax. */
export function parseSequenceSet(text: string): SequenceSet {
  if (text === '$') return SAVED_SET;
  if (text.length === 0) throw new ImapParseError('Empty sequence set', null);
  const ranges: SeqRange[] = [];
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf(',', start);
    if (end === -1) end = text.length;
    const item = text.slice(start, end);
    const colon = item.indexOf(':');
    if (colon === -1) {
      const n = parseSeqNumber(item, text);
      ranges.push({ from: n, to: n });
    } else {
      ranges.push({ from: parseSeqNumber(item.slice(0, colon), text), to: parseSeqNumber(item.slice(colon + 1), text) });
    }
    start = end + 1;
  }
  return { kind: 'set', ranges };
}

const SAVED_SET: SequenceSet = { kind: 'saved' };

/** Formats a set back to its wire form, ranges in the order they were given. */
export function formatSequenceSet(set: SequenceSet): string {
  if (set.kind === 'saved') return '$';
  let out = '';
  for (const r of set.ranges) {
    if (out.length > 0) out += ',';
    out += r.from === r.to ? String(r.from) : `${r.from}:${r.to}`;
  }
  return out;
}

/**
 * Compact form of a list of numbers: runs of consecutive ascending numbers become `a:b`
 * (`[1,2,3,5,7,8,9]` -> `1:3,5,7:9`). The order is kept, which COPYUID needs (RFC 4315 §3:
 * the source and destination sets correspond element by element); sort first for a canonical set.
 * Returns the empty string for no numbers (callers decide whether to send anything).
 */
export function compactSequenceSet(numbers: Iterable<number>): string {
  let out = '';
  let runStart = -1;
  let prev = -1;
  for (const n of numbers) {
    if (runStart !== -1 && n === prev + 1) {
      prev = n;
      continue;
    }
    if (runStart !== -1) out += runStart === prev ? `${runStart},` : `${runStart}:${prev},`;
    runStart = n;
    prev = n;
  }
  if (runStart !== -1) out += runStart === prev ? `${runStart}` : `${runStart}:${prev}`;
  return out;
}

/** Builds a SequenceSet from numbers, compressing runs as `compactSequenceSet` does. */
export function sequenceSetFromNumbers(numbers: Iterable<number>): SequenceSet {
  const ranges: SeqRange[] = [];
  let runStart = -1;
  let prev = -1;
  for (const n of numbers) {
    if (runStart !== -1 && n === prev + 1) {
      prev = n;
      continue;
    }
    if (runStart !== -1) ranges.push({ from: runStart, to: prev });
    runStart = n;
    prev = n;
  }
  if (runStart !== -1) ranges.push({ from: runStart, to: prev });
  return { kind: 'set', ranges };
}

function requireConcrete(set: SequenceSet): readonly SeqRange[] {
  if (set.kind === 'saved') throw new Error('The saved search result ($) must be substituted before resolving a sequence set');
  return set.ranges;
}

/**
 * Resolves a set against `max` (the number of messages for sequence numbers, the highest UID in
 * use for UIDs): `*` becomes `max`, `a:b` means min..max of the two (RFC 9051 §9: `4:2` = `2:4`,
 * and a UID range `559:*` still includes the highest UID), everything is clipped to `1..max`,
 * and the result is sorted and merged into disjoint closed intervals.
 * Cost is proportional to the number of ranges written, never to the number of messages.
 */
export function resolveSequenceSet(set: SequenceSet, max: number): Array<[number, number]> {
  const ranges = requireConcrete(set);
  const out: Array<[number, number]> = [];
  if (max < 1) return out;
  for (const r of ranges) {
    const a = r.from === '*' ? max : r.from;
    const b = r.to === '*' ? max : r.to;
    const lo = Math.max(1, Math.min(a, b));
    const hi = Math.min(max, Math.max(a, b));
    if (lo <= hi) out.push([lo, hi]);
  }
  out.sort((x, y) => x[0] - y[0]);
  let w = 0;
  for (let i = 1; i < out.length; i++) {
    const cur = out[i] as [number, number];
    const last = out[w] as [number, number];
    if (cur[0] <= last[1] + 1) {
      if (cur[1] > last[1]) last[1] = cur[1];
    } else {
      out[++w] = cur;
    }
  }
  out.length = out.length === 0 ? 0 : w + 1;
  return out;
}

/** True when `n` is in the set resolved against `max`. */
export function sequenceSetContains(set: SequenceSet, n: number, max: number): boolean {
  for (const r of requireConcrete(set)) {
    const a = r.from === '*' ? max : r.from;
    const b = r.to === '*' ? max : r.to;
    if (n >= Math.min(a, b) && n <= Math.max(a, b) && n <= max) return true;
  }
  return false;
}

/** Lazily yields every number of the resolved set, ascending, without duplicates. */
export function* iterateSequenceSet(set: SequenceSet, max: number): Generator<number, void, undefined> {
  for (const [lo, hi] of resolveSequenceSet(set, max)) {
    for (let n = lo; n <= hi; n++) yield n;
  }
}

/** Every number of the resolved set as an array. Only when the caller really wants the list. */
export function expandSequenceSet(set: SequenceSet, max: number): number[] {
  return Array.from(iterateSequenceSet(set, max));
}

/** How many numbers the resolved set holds. */
export function sequenceSetSize(set: SequenceSet, max: number): number {
  let count = 0;
  for (const [lo, hi] of resolveSequenceSet(set, max)) count += hi - lo + 1;
  return count;
}

/**
 * The largest number written explicitly (ignoring `*`), 0 if none. A message sequence set whose
 * highest explicit number exceeds the mailbox size is a client error (RFC 9051 §6.4.5 "BAD").
 */
export function sequenceSetHighest(set: SequenceSet): number {
  let hi = 0;
  for (const r of requireConcrete(set)) {
    if (r.from !== '*' && r.from > hi) hi = r.from;
    if (r.to !== '*' && r.to > hi) hi = r.to;
  }
  return hi;
}
