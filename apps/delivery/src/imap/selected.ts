/**
 * The selected mailbox of one session: its own message sequence map (RFC 9051 §2.3.1.2) and
 * the catch-up that reports what other sessions and processes changed.
 *
 * Invariants:
 * - The sequence map (sequence-map.ts) is what the client was told: sequence number n is its
 *   n-th UID. It changes only when EXISTS (append) or EXPUNGE/VANISHED (removal) is sent.
 * - `modseq` is the HIGHESTMODSEQ up to which changes have been reported (or deliberately
 *   skipped because this session made them and already answered with their FETCH).
 * - Expunges seen while EXPUNGE may not be sent stay in `pending`: the messages keep their
 *   sequence numbers, FETCH/STORE skip them, and they are reported at the next allowed moment.
 */
import { existsResponse, expungeResponse, fetchResponse, vanishedResponse, type FetchResponseItem } from '@postern/imap';
import type { Mailbox, MessageStore } from '@postern/core';
import { SequenceMap } from './sequence-map.js';

export interface SyncOptions {
  /** EXPUNGE/VANISHED may be sent now. */
  readonly expunge: boolean;
  readonly condstore: boolean;
  readonly qresync: boolean;
}

export class SelectedMailbox {
  private readonly map: SequenceMap;
  readonly pending = new Set<number>();

  constructor(
    readonly mailbox: Mailbox,
    uids: ArrayLike<number>,
    public modseq: number,
    readonly readOnly: boolean,
  ) {
    this.map = SequenceMap.from(uids);
  }

  get id(): number {
    return this.mailbox.id;
  }

  get count(): number {
    return this.map.length;
  }

  /** UID of sequence number `seq` (1-based). */
  uidAt(seq: number): number {
    return this.map.uidAt(seq);
  }

  get maxUid(): number {
    return this.map.maxUid;
  }

  /** Sequence number of `uid`, or 0 when the client does not know that UID. */
  seqOf(uid: number): number {
    return this.map.seqOf(uid);
  }

  /** The UIDs the client knows in [lo, hi], ascending. */
  uidsIn(lo: number, hi: number): Iterable<number> {
    return this.map.uidsIn(lo, hi);
  }

  /**
   * Catches up with the store: returns the untagged responses to send, in RFC order
   * (EXPUNGE/VANISHED, then EXISTS, then FETCH for flag changes).
   */
  async sync(store: MessageStore, opts: SyncOptions): Promise<Buffer[]> {
    const snap = await store.changesSince(this.id, this.modseq);
    const out: Buffer[] = [];
    if (snap.mailbox) {
      for (const uid of snap.expunged) if (this.seqOf(uid) > 0) this.pending.add(uid);
      this.modseq = snap.mailbox.highestModseq;
    }
    if (opts.expunge && this.pending.size > 0) out.push(...this.flushExpunges(opts.qresync));
    const before = this.map.length;
    const flagChanges: Array<{ uid: number; flags: string[]; modseq: number }> = [];
    for (const m of snap.changed) {
      if (m.uid > this.maxUid) this.map.append(m.uid);
      else if (!this.pending.has(m.uid) && this.seqOf(m.uid) > 0) flagChanges.push(m);
    }
    if (this.map.length !== before) out.push(existsResponse(this.map.length));
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

  /**
   * After this session changed flags and already reported them, the catch-up must not report
   * them again: the session's modseq moves past the change when nothing else happened in between
   * (the change took exactly the next modseq, and it is still the mailbox's highest).
   */
  advanceOwnModseq(before: number, changeModseq: number | undefined, highestModseq: number): void {
    if (changeModseq === undefined || this.modseq !== before) return;
    if (highestModseq === changeModseq && changeModseq === before + 1) this.modseq = changeModseq;
  }

  /** Sends the expunges held back (or just made): EXPUNGE from the highest number down, or one VANISHED. */
  flushExpunges(qresync: boolean): Buffer[] {
    if (this.pending.size === 0) return [];
    const uids = [...this.pending].sort((a, b) => a - b);
    const seqs = this.map.remove(this.pending);
    this.pending.clear();
    // RFC 7162 §3.2.10: with QRESYNC enabled, VANISHED replaces EXPUNGE.
    if (qresync) return [vanishedResponse(uids, false)];
    // Highest first, so each number is still valid when the client reads it.
    return seqs.reverse().map((s) => expungeResponse(s));
  }
}
