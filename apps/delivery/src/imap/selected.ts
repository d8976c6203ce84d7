/**
 * The selected mailbox of one session: its own message sequence map (RFC 9051 §2.3.1.2) and
 * the catch-up that reports what other sessions and processes changed.
 *
 * Invariants:
 * - `uids` (ascending) is what the client was told: sequence number n is uids[n-1]. It changes
 *   only when EXISTS (append) or EXPUNGE/VANISHED (removal) is sent.
 * - `modseq` is the HIGHESTMODSEQ up to which changes have been reported (or deliberately
 *   skipped because this session made them and already answered with their FETCH).
 * - Expunges seen while EXPUNGE may not be sent stay in `pending`: the messages keep their
 *   sequence numbers, FETCH/STORE skip them, and they are reported at the next allowed moment.
 */
import {
  existsResponse,
  expungeResponse,
  fetchResponse,
  vanishedResponse,
  type FetchResponseItem,
} from '@postern/imap';
import type { Mailbox, MailStore } from '@postern/core';

export interface SyncOptions {
  /** EXPUNGE/VANISHED may be sent now. */
  readonly expunge: boolean;
  readonly condstore: boolean;
  readonly qresync: boolean;
}

export class SelectedMailbox {
  private map: Uint32Array;
  private length: number;
  readonly pending = new Set<number>();

  constructor(
    readonly mailbox: Mailbox,
    uids: Uint32Array,
    public modseq: number,
    readonly readOnly: boolean,
  ) {
    this.map = uids;
    this.length = uids.length;
  }

  get id(): number {
    return this.mailbox.id;
  }

  get count(): number {
    return this.length;
  }

  /** UID of sequence number `seq` (1-based). */
  uidAt(seq: number): number {
    return this.map[seq - 1] as number;
  }

  get maxUid(): number {
    return this.length === 0 ? 0 : (this.map[this.length - 1] as number);
  }

  /** Sequence number of `uid`, or 0 when the client does not know that UID. */
  seqOf(uid: number): number {
    let lo = 0;
    let hi = this.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = this.map[mid] as number;
      if (v === uid) return mid + 1;
      if (v < uid) lo = mid + 1;
      else hi = mid - 1;
    }
    return 0;
  }

  /** The UIDs the client knows, as a plain view (no copy). */
  view(): Uint32Array {
    return this.map.subarray(0, this.length);
  }

  private append(uid: number): void {
    if (this.length === this.map.length) {
      const grown = new Uint32Array(Math.max(16, this.map.length * 2));
      grown.set(this.map.subarray(0, this.length));
      this.map = grown;
    }
    this.map[this.length++] = uid;
  }

  /** Removes the listed UIDs from the map in one pass; returns their sequence numbers (old numbering). */
  private remove(uids: ReadonlySet<number>): number[] {
    const seqs: number[] = [];
    let w = 0;
    for (let r = 0; r < this.length; r++) {
      const uid = this.map[r] as number;
      if (uids.has(uid)) seqs.push(r + 1);
      else this.map[w++] = uid;
    }
    this.length = w;
    return seqs;
  }

  /**
   * Catches up with the store: returns the untagged responses to send, in RFC order
   * (EXPUNGE/VANISHED, then EXISTS, then FETCH for flag changes).
   */
  sync(store: MailStore, opts: SyncOptions): Buffer[] {
    const snap = store.db.transaction(() => {
      const mb = store.mailboxById(this.id);
      if (!mb || mb.highestModseq === this.modseq) return { mb, expunged: [] as number[], changed: [] as ReturnType<MailStore['changedSince']> };
      return { mb, expunged: store.expungedSince(this.id, this.modseq), changed: store.changedSince(this.id, this.modseq) };
    })();
    const out: Buffer[] = [];
    if (snap.mb) {
      for (const uid of snap.expunged) if (this.seqOf(uid) > 0) this.pending.add(uid);
      this.modseq = snap.mb.highestModseq;
    }
    if (opts.expunge && this.pending.size > 0) out.push(...this.flushExpunges(opts.qresync));
    const before = this.length;
    const flagChanges: Array<{ uid: number; flags: string[]; modseq: number }> = [];
    for (const m of snap.changed) {
      if (m.uid > this.maxUid) this.append(m.uid);
      else if (!this.pending.has(m.uid) && this.seqOf(m.uid) > 0) flagChanges.push(m);
    }
    if (this.length !== before) out.push(existsResponse(this.length));
    for (const m of flagChanges) {
      const items: FetchResponseItem[] = [
        { kind: 'UID', value: m.uid },
        { kind: 'FLAGS', flags: m.flags },
      ];
      if (opts.condstore) items.push({ kind: 'MODSEQ', value: m.modseq });
      out.push(...fetchResponse(this.seqOf(m.uid), items));
    }
    return out;
  }

  /** Sends the expunges held back (or just made): EXPUNGE from the highest number down, or one VANISHED. */
  flushExpunges(qresync: boolean): Buffer[] {
    if (this.pending.size === 0) return [];
    const uids = [...this.pending].sort((a, b) => a - b);
    const seqs = this.remove(this.pending);
    this.pending.clear();
    // RFC 7162 §3.2.10: with QRESYNC enabled, VANISHED replaces EXPUNGE.
    if (qresync) return [vanishedResponse(uids, false)];
    // Highest first, so each number is still valid when the client reads it.
    return seqs.reverse().map((s) => expungeResponse(s));
  }
}
