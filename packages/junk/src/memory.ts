/**
 * Training data in memory: the classifier's counts for the benchmarks and tests, and the shape
 * a stored implementation (per user, in the message store) keeps. Training counts a message's
 * distinct tokens once; untraining takes exactly that back, so a message moved from Junk to the
 * INBOX is untrained as spam before it is trained as ham (no double counting).
 */
import type { Counts, TokenCounts } from './classify.js';

export class MemoryTraining {
  private readonly table = new Map<string, Counts>();
  readonly totals: Counts = { spam: 0, ham: 0 };

  /** Adds (`delta` 1) or takes back (-1) one message's tokens as spam or ham. */
  learn(tokens: readonly string[], spam: boolean, delta: 1 | -1 = 1): void {
    const side = spam ? 'spam' : 'ham';
    this.totals[side] = Math.max(0, this.totals[side] + delta);
    for (const t of new Set(tokens)) {
      let c = this.table.get(t);
      if (!c) {
        if (delta < 0) continue;
        c = { spam: 0, ham: 0 };
        this.table.set(t, c);
      }
      c[side] = Math.max(0, c[side] + delta);
      if (c.spam === 0 && c.ham === 0) this.table.delete(t);
    }
  }

  counts(tokens: readonly string[]): TokenCounts {
    const found = new Map<string, Counts>();
    for (const t of tokens) {
      const c = this.table.get(t);
      if (c) found.set(t, c);
    }
    return { totals: { ...this.totals }, tokens: found };
  }

  /** Distinct tokens known. */
  get size(): number {
    return this.table.size;
  }
}
