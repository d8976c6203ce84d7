import { describe, expect, it } from 'vitest';
import { exitsWithin, lastLines, restartDelay } from './supervision.js';

describe('the restart policy', () => {
  it('restarts at once after one exit and backs off while the app keeps exiting', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 9, 20].map(restartDelay)).toEqual([100, 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  });

  it('counts exits within a window and keeps the last stderr lines', () => {
    expect(exitsWithin({ exits: [1_000, 50_000, 100_000] }, 120_000, 60_000)).toBe(1);
    expect(lastLines('a\n\nb\r\nc\n', 2)).toEqual(['b', 'c']);
  });
});
