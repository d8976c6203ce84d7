/**
 * A POP3 maildrop: the user's INBOX as it was at login (RFC 1939 §4: message numbers are fixed
 * for the session), with the session's deletion marks.
 *
 * Invariants:
 * - Nothing here writes to the store until `commit`, which runs only from QUIT in the UPDATE
 *   state: a dropped connection, a timeout or a crash deletes nothing.
 * - `commit` flags \Deleted and expunges exactly the marked UIDs, in one store call: messages
 *   another session (IMAP) flagged \Deleted are not expunged by us.
 * - UIDL is `<uidvalidity>.<uid>`, the same for a message in every session for as long as
 *   the INBOX keeps its UIDVALIDITY (RFC 1939 §7: the unique-id never changes).
 */
import type { MessageRecord, MessageStore } from '@postern/core';

export type MaildropEntry = { uid: number; size: number };

export class Maildrop {
  private readonly uidList: Uint32Array;
  private readonly sizes: Float64Array;
  private readonly deleted = new Set<number>();
  private liveCount: number;
  private liveSize: number;

  private constructor(
    private readonly store: MessageStore,
    readonly mailboxId: number,
    readonly uidValidity: number,
    messages: readonly MessageRecord[],
  ) {
    this.uidList = Uint32Array.from(messages, (m) => m.uid);
    this.sizes = Float64Array.from(messages, (m) => m.size);
    this.liveCount = messages.length;
    this.liveSize = messages.reduce((n, m) => n + m.size, 0);
  }

  /** The snapshot of a user's INBOX, or null when the user has none. */
  static async open(store: MessageStore, userId: number): Promise<Maildrop | null> {
    const inbox = await store.mailbox(userId, 'INBOX');
    if (!inbox) return null;
    return new Maildrop(store, inbox.id, inbox.uidValidity, await store.messages(inbox.id));
  }

  /** Messages not marked deleted, and their octets (STAT, RFC 1939 §5). */
  get count(): number {
    return this.liveCount;
  }

  get size(): number {
    return this.liveSize;
  }

  /** Highest message number (deleted ones included: numbers never shift in a session). */
  get length(): number {
    return this.uidList.length;
  }

  /** The message numbered `n` (1-based), or why not. */
  entry(n: number): MaildropEntry | 'no-such-message' | 'deleted' {
    if (!Number.isInteger(n) || n < 1 || n > this.uidList.length) return 'no-such-message';
    if (this.deleted.has(n)) return 'deleted';
    return { uid: this.uidList[n - 1]!, size: this.sizes[n - 1]! };
  }

  /** Every live message as [number, entry], in order (LIST and UIDL without argument). */
  *live(): Generator<[number, MaildropEntry]> {
    for (let i = 0; i < this.uidList.length; i++) {
      if (!this.deleted.has(i + 1)) yield [i + 1, { uid: this.uidList[i]!, size: this.sizes[i]! }];
    }
  }

  uidl(entry: MaildropEntry): string {
    return `${this.uidValidity}.${entry.uid}`;
  }

  /** Marks message `n` deleted; returns false when it is not a live message. */
  markDeleted(n: number): boolean {
    const e = this.entry(n);
    if (typeof e === 'string') return false;
    this.deleted.add(n);
    this.liveCount--;
    this.liveSize -= e.size;
    return true;
  }

  /** RSET (RFC 1939 §5): every mark undone. */
  reset(): void {
    this.deleted.clear();
    this.liveCount = this.uidList.length;
    this.liveSize = this.sizes.reduce((n, s) => n + s, 0);
  }

  /** The stored message behind a live entry, or null when IMAP expunged it meanwhile. */
  message(entry: MaildropEntry): Promise<MessageRecord | null> {
    return this.store.message(this.mailboxId, entry.uid);
  }

  /**
   * The UPDATE state (RFC 1939 §6): removes the marked messages in one unit of work. Returns
   * the UIDs actually expunged (a message IMAP expunged first is simply gone already).
   */
  async commit(): Promise<number[]> {
    if (this.deleted.size === 0) return [];
    const uids = [...this.deleted].sort((a, b) => a - b).map((n) => this.uidList[n - 1]!);
    return this.store.deleteMessages(this.mailboxId, uids);
  }
}
