/**
 * A session's message sequence numbers (RFC 9051 §2.3.1.2): number n is the n-th smallest UID
 * the client knows. Kept as runs of consecutive UIDs rather than one number per message: UIDs
 * are handed out in order, so a mailbox has gaps only where messages were expunged, and a
 * 100,000-message INBOX is usually a handful of runs instead of 400 KB in every session that
 * selects it (bench/compare/imap.mjs --idle: 10,000 IDLE sessions on one held 4 GB). The worst
 * case, every other message expunged, costs 8 bytes per run for n/2 runs: what the plain array did.
 */
export class SequenceMap {
  /** First UID of each run. */
  private starts: Uint32Array;
  /** Messages in runs 0..i together: run i holds sequence numbers ends[i-1]+1 .. ends[i]. */
  private ends: Uint32Array;
  private runs = 0;

  private constructor(capacity: number) {
    this.starts = new Uint32Array(Math.max(4, capacity));
    this.ends = new Uint32Array(Math.max(4, capacity));
  }

  /** From ascending UIDs. */
  static from(uids: ArrayLike<number>): SequenceMap {
    let runs = 0;
    for (let i = 0; i < uids.length; i++) if (i === 0 || (uids[i] as number) !== (uids[i - 1] as number) + 1) runs++;
    const map = new SequenceMap(runs);
    for (let i = 0; i < uids.length; i++) map.append(uids[i] as number);
    return map;
  }

  get length(): number {
    return this.runs === 0 ? 0 : (this.ends[this.runs - 1] as number);
  }

  get maxUid(): number {
    return this.runs === 0 ? 0 : this.lastUid(this.runs - 1);
  }

  private before(run: number): number {
    return run === 0 ? 0 : (this.ends[run - 1] as number);
  }

  private lastUid(run: number): number {
    return (this.starts[run] as number) + (this.ends[run] as number) - this.before(run) - 1;
  }

  /** UID of sequence number `seq` (1 ≤ seq ≤ length). */
  uidAt(seq: number): number {
    let lo = 0;
    let hi = this.runs - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.ends[mid] as number) < seq) lo = mid + 1;
      else hi = mid;
    }
    return (this.starts[lo] as number) + seq - this.before(lo) - 1;
  }

  /** The run that holds `uid` or would (the last run starting at or below it); -1 if none. */
  private runOf(uid: number): number {
    let lo = 0;
    let hi = this.runs - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.starts[mid] as number) <= uid) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }

  /** Sequence number of `uid`, or 0 when it is not in the map. */
  seqOf(uid: number): number {
    const run = this.runOf(uid);
    if (run < 0 || uid > this.lastUid(run)) return 0;
    return this.before(run) + uid - (this.starts[run] as number) + 1;
  }

  /** Adds a UID above every UID in the map. */
  append(uid: number): void {
    if (this.runs > 0 && uid === this.maxUid + 1) {
      this.ends[this.runs - 1]!++;
      return;
    }
    if (this.runs === this.starts.length) {
      const grow = (a: Uint32Array): Uint32Array => {
        const b = new Uint32Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.starts = grow(this.starts);
      this.ends = grow(this.ends);
    }
    this.starts[this.runs] = uid;
    this.ends[this.runs] = this.length + 1;
    this.runs++;
  }

  /** The map's UIDs in [lo, hi], ascending. */
  *uidsIn(lo: number, hi: number): Generator<number> {
    for (let run = Math.max(0, this.runOf(lo)); run < this.runs; run++) {
      const start = this.starts[run] as number;
      if (start > hi) return;
      const last = Math.min(this.lastUid(run), hi);
      for (let uid = Math.max(start, lo); uid <= last; uid++) yield uid;
    }
  }

  /** Removes the listed UIDs; returns the sequence numbers they had, ascending. */
  remove(uids: ReadonlySet<number>): number[] {
    const found = [...uids].map((u) => [u, this.seqOf(u)] as const).filter(([, seq]) => seq > 0);
    found.sort((a, b) => a[0] - b[0]);
    const gone = found.map(([u]) => u);
    const seqs = found.map(([, seq]) => seq);
    if (gone.length === 0) return seqs;
    const old = { starts: this.starts, ends: this.ends, runs: this.runs };
    this.starts = new Uint32Array(Math.max(4, old.runs + gone.length));
    this.ends = new Uint32Array(this.starts.length);
    this.runs = 0;
    let g = 0;
    for (let run = 0; run < old.runs; run++) {
      const start = old.starts[run] as number;
      const last = start + (old.ends[run] as number) - (run === 0 ? 0 : (old.ends[run - 1] as number)) - 1;
      // The run minus the removed UIDs inside it, as up to (removed + 1) pieces.
      let from = start;
      while (g < gone.length && (gone[g] as number) <= last) {
        const u = gone[g++] as number;
        this.appendRange(from, u - 1);
        from = u + 1;
      }
      this.appendRange(from, last);
    }
    return seqs;
  }

  private appendRange(first: number, last: number): void {
    if (first > last) return;
    this.starts[this.runs] = first;
    this.ends[this.runs] = this.length + last - first + 1;
    this.runs++;
  }
}
