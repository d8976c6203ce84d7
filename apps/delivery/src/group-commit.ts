/**
 * Group commit for deliveries: requests that arrive while a commit is being prepared are written
 * in the same SQLite transaction, so under load one fsync acknowledges many messages (as
 * Postfix's queue manager and Dovecot batch their work). With no load a request waits one
 * event-loop turn, not a timer.
 */
import type { DeliveryOutcome, DeliveryRequest, MailStore } from '@postern/core';

interface Pending {
  requests: DeliveryRequest[];
  resolve: (outcomes: DeliveryOutcome[]) => void;
  reject: (err: Error) => void;
}

export class GroupCommit {
  private pending: Pending[] = [];
  private scheduled = false;

  constructor(
    private readonly store: MailStore,
    /** Upper bound on messages per transaction (bounds the time a commit holds the lock). */
    private readonly maxBatch = 256,
  ) {}

  /** Resolves with one outcome per request once they are committed; rejects if the commit failed. */
  deliver(requests: DeliveryRequest[]): Promise<DeliveryOutcome[]> {
    return new Promise((resolve, reject) => {
      this.pending.push({ requests, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    while (this.pending.length > 0) {
      const batch: Pending[] = [];
      let n = 0;
      while (this.pending.length > 0 && (n === 0 || n + this.pending[0]!.requests.length <= this.maxBatch)) {
        const p = this.pending.shift()!;
        batch.push(p);
        n += p.requests.length;
      }
      let outcomes: DeliveryOutcome[];
      try {
        outcomes = this.store.deliver(batch.flatMap((p) => p.requests));
      } catch (err) {
        for (const p of batch) p.reject(err as Error);
        continue;
      }
      let i = 0;
      for (const p of batch) {
        p.resolve(outcomes.slice(i, i + p.requests.length));
        i += p.requests.length;
      }
    }
  }
}
