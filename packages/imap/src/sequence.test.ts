import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ImapParseError } from './errors.js';
import {
  compactSequenceSet,
  expandSequenceSet,
  formatSequenceSet,
  iterateSequenceSet,
  parseSequenceSet,
  resolveSequenceSet,
  sequenceSetContains,
  sequenceSetFromNumbers,
  sequenceSetHighest,
  sequenceSetSize,
  type SequenceSet,
} from './sequence.js';

describe('sequence sets', () => {
  it('parses ranges, stars and $', () => {
    expect(parseSequenceSet('1:3,5,7:*')).toEqual({
      kind: 'set',
      ranges: [
        { from: 1, to: 3 },
        { from: 5, to: 5 },
        { from: 7, to: '*' },
      ],
    });
    expect(parseSequenceSet('*')).toEqual({ kind: 'set', ranges: [{ from: '*', to: '*' }] });
    expect(parseSequenceSet('$')).toEqual({ kind: 'saved' });
  });

  it('rejects malformed sets', () => {
    for (const bad of ['', '0', '1:0', '01', '1,', ',1', '1::2', '1:2:3', 'a', '$,1', '4294967296', '1 2', '-1']) {
      expect(() => parseSequenceSet(bad), bad).toThrow(ImapParseError);
    }
    expect(parseSequenceSet('4294967295')).toEqual({ kind: 'set', ranges: [{ from: 4294967295, to: 4294967295 }] });
  });

  it('resolves against the mailbox size: reversed ranges, * and clipping', () => {
    expect(resolveSequenceSet(parseSequenceSet('1:*'), 100_000)).toEqual([[1, 100_000]]);
    expect(resolveSequenceSet(parseSequenceSet('4:2'), 10)).toEqual([[2, 4]]);
    expect(resolveSequenceSet(parseSequenceSet('5,1:3,2,8:*,20'), 9)).toEqual([
      [1, 3],
      [5, 5],
      [8, 9],
    ]);
    // RFC 9051 §6.4.8: a UID range 559:* includes the highest UID even when it is below 559.
    expect(resolveSequenceSet(parseSequenceSet('559:*'), 300)).toEqual([[300, 300]]);
    expect(resolveSequenceSet(parseSequenceSet('1:*'), 0)).toEqual([]);
    expect(() => resolveSequenceSet({ kind: 'saved' }, 5)).toThrow();
  });

  it('iterates lazily, counts and tests membership without expanding', () => {
    const s = parseSequenceSet('1:*');
    const it = iterateSequenceSet(s, 4_000_000_000);
    expect([it.next().value, it.next().value]).toEqual([1, 2]);
    expect(sequenceSetSize(s, 4_000_000_000)).toBe(4_000_000_000);
    expect(sequenceSetContains(parseSequenceSet('2:4,9'), 3, 10)).toBe(true);
    expect(sequenceSetContains(parseSequenceSet('2:4,9'), 5, 10)).toBe(false);
    expect(sequenceSetContains(parseSequenceSet('8:*'), 10, 10)).toBe(true);
    expect(sequenceSetContains(parseSequenceSet('9'), 9, 5)).toBe(false);
    expect(expandSequenceSet(parseSequenceSet('3,1:2,2'), 10)).toEqual([1, 2, 3]);
    expect(sequenceSetHighest(parseSequenceSet('3:*,7,2'))).toBe(7);
  });

  it('formats compactly, keeping the given order (COPYUID)', () => {
    expect(compactSequenceSet([1, 2, 3, 5, 7, 8, 9])).toBe('1:3,5,7:9');
    expect(compactSequenceSet([10, 11, 4, 5])).toBe('10:11,4:5');
    expect(compactSequenceSet([])).toBe('');
    expect(formatSequenceSet(sequenceSetFromNumbers([1, 2, 3, 5]))).toBe('1:3,5');
  });

  const seqNumber = fc.oneof(fc.integer({ min: 1, max: 0xffffffff }), fc.constant<'*'>('*'));
  const arbSet: fc.Arbitrary<SequenceSet> = fc.oneof(
    {
      weight: 10,
      arbitrary: fc.array(fc.record({ from: seqNumber, to: seqNumber }), { minLength: 1, maxLength: 20 }).map((ranges) => ({ kind: 'set' as const, ranges })),
    },
    { weight: 1, arbitrary: fc.constant<SequenceSet>({ kind: 'saved' }) },
  );

  it('round-trips format/parse (property)', () => {
    fc.assert(
      fc.property(arbSet, (s) => {
        // Single numbers format as "n"; parse gives from === to, as generated when from === to.
        const text = formatSequenceSet(s);
        expect(formatSequenceSet(parseSequenceSet(text))).toBe(text);
        const norm = s.kind === 'saved' ? s : { kind: 'set', ranges: s.ranges.map((r) => ({ ...r })) };
        expect(parseSequenceSet(text)).toEqual(norm);
      }),
    );
  });

  it('resolve agrees with a naive expansion, and compact formatting round-trips (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            from: fc.oneof(fc.integer({ min: 1, max: 60 }), fc.constant<'*'>('*')),
            to: fc.oneof(fc.integer({ min: 1, max: 60 }), fc.constant<'*'>('*')),
          }),
          { minLength: 1, maxLength: 8 },
        ),
        fc.integer({ min: 0, max: 50 }),
        (ranges, max) => {
          const s: SequenceSet = { kind: 'set', ranges };
          const naive = new Set<number>();
          for (const r of ranges) {
            const a = r.from === '*' ? max : r.from;
            const b = r.to === '*' ? max : r.to;
            for (let n = Math.min(a, b); n <= Math.max(a, b); n++) if (n >= 1 && n <= max) naive.add(n);
          }
          const expanded = expandSequenceSet(s, max);
          expect(expanded).toEqual([...naive].sort((x, y) => x - y));
          for (let n = 1; n <= max; n++) expect(sequenceSetContains(s, n, max)).toBe(naive.has(n));
          const compact = compactSequenceSet(expanded);
          if (expanded.length > 0) expect(expandSequenceSet(parseSequenceSet(compact), max)).toEqual(expanded);
        },
      ),
    );
  });
});
