/**
 * IDLE (RFC 2177, RFC 9051 §6.3.13): updates are pushed as soon as the store reports a commit
 * to the selected mailbox (or one it cannot place: another process's), until the client sends
 * DONE.
 */
import { continuation } from '@postern/imap';
import { bad, ok, type Reply } from '../reply.js';
import type { ImapSession } from '../session.js';

export async function cmdIdle(s: ImapSession): Promise<Reply> {
  let scheduled = false;
  let chain: Promise<void> = Promise.resolve();
  const wake = (): void => {
    if (scheduled) return;
    scheduled = true;
    // After the current turn: the committing transaction has finished and its events are all out.
    setImmediate(() => {
      scheduled = false;
      chain = chain.then(() => s.catchUp(true)).catch((e: unknown) => s.log.warn({ err: e }, 'imap idle update failed'));
    });
  };
  const unsubscribe = s.store.subscribe(({ mailboxId }) => {
    if (s.selected && (mailboxId === null || mailboxId === s.selected.id)) wake();
  });
  try {
    await s.io.send(continuation('idling'));
    // Anything that came in between the command and now.
    wake();
    const line = await s.io.readLine();
    await chain;
    if (line === null) {
      if (s.io.closed) return ok();
      throw bad('expected DONE');
    }
    if (line.toString('latin1').toUpperCase() !== 'DONE') throw bad('expected DONE');
    return ok('IDLE terminated');
  } finally {
    unsubscribe();
  }
}
