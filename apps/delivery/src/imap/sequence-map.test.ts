/**
 * The run-length sequence map against the obvious model (a sorted array of UIDs), through
 * random appends and removals, and its size for a mailbox without gaps.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SequenceMap } from './sequence-map.js';

function check(map: SequenceMap, model: number[]): void {
  expect(map.length).toBe(model.length);
  expect(map.maxUid).toBe(model.length === 0 ? 0 : model[model.length - 1]);
  model.forEach((uid, i) => {
    expect(map.uidAt(i + 1)).toBe(uid);
    expect(map.seqOf(uid)).toBe(i + 1);
  });
  const present = new Set(model);
  const top = (model[model.length - 1] ?? 0) + 2;
  for (let u = 0; u <= top; u++) if (!present.has(u)) expect(map.seqOf(u)).toBe(0);
  const lo = Math.floor(top / 3);
  const hi = Math.floor((2 * top) / 3);
  expect([...map.uidsIn(lo, hi)]).toEqual(model.filter((u) => u >= lo && u <= hi));
}

describe('SequenceMap', () => {
  it('behaves as a sorted array of UIDs through appends and removals', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('append' as const), gap: fc.nat(3) }),
      fc.record({ kind: fc.constant('remove' as const), picks: fc.array(fc.nat(200), { maxLength: 6 }) }),
    );
    fc.assert(
      fc.property(fc.array(fc.nat(3), { maxLength: 60 }), fc.array(op, { maxLength: 40 }), (gaps, ops) => {
        const model: number[] = [];
        let next = 1;
        for (const g of gaps) {
          next += g;
          model.push(next++);
        }
        const map = SequenceMap.from(model);
        check(map, model);
        for (const o of ops) {
          if (o.kind === 'append') {
            next += o.gap;
            map.append(next);
            model.push(next++);
          } else {
            // Some picks are UIDs the map has, some are not (those are ignored).
            const gone = new Set(o.picks.map((p) => (p % 2 === 0 && model.length > 0 ? (model[p % model.length] as number) : p)));
            const expected = model.map((u, i) => (gone.has(u) ? i + 1 : 0)).filter((s) => s > 0);
            expect(map.remove(gone)).toEqual(expected);
            model.splice(0, model.length, ...model.filter((u) => !gone.has(u)));
          }
          check(map, model);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('keeps a mailbox without gaps in one run, however large', () => {
    const map = SequenceMap.from(Uint32Array.from({ length: 100_000 }, (_, i) => i + 1));
    expect(map.length).toBe(100_000);
    expect(map.uidAt(54_321)).toBe(54_321);
    expect((map as unknown as { runs: number }).runs).toBe(1);
    map.remove(new Set([50_000]));
    expect((map as unknown as { runs: number }).runs).toBe(2);
    expect(map.seqOf(50_001)).toBe(50_000);
  });
});
