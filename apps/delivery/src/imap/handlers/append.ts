/**
 * APPEND (RFC 9051 §6.3.12) with MULTIAPPEND (RFC 3502: all messages or none), APPENDUID
 * (RFC 4315) and APPENDLIMIT (RFC 7889). The message is indexed here, once, like a delivery.
 */
import type { CommandOf } from '@postern/imap';
import type { AppendRequest } from '@postern/core';
import { no, ok, type Reply } from '../reply.js';
import type { ImapSession } from '../session.js';
import { storeCall } from '../store-errors.js';

export async function cmdAppend(s: ImapSession, c: CommandOf<'APPEND'>): Promise<Reply> {
  const user = s.user;
  if (!user) throw new Error('no user');
  const mb = await s.store.mailbox(user.id, c.mailbox);
  if (!mb) throw no('no such mailbox', 'TRYCREATE');
  for (const m of c.messages) {
    if (m.data.length > s.opts.appendLimit) throw no(`message larger than ${s.opts.appendLimit} octets`, 'TOOBIG');
    if (m.data.length === 0) throw no('empty message', 'CANNOT');
  }
  const prepared: AppendRequest[] = [];
  for (const m of c.messages) {
    // off the session thread for a big message (index-pool.ts); a failure there is temporary
    const { index, raw } = await s.indexer.index(m.data).catch((err: unknown) => {
      s.log.error({ err }, 'indexing an appended message failed');
      throw no('could not index the message, try again later', 'UNAVAILABLE');
    });
    prepared.push({
      content: raw,
      index,
      flags: m.flags.filter((f) => f.toLowerCase() !== '\\recent'),
      internalDate: m.internalDate ? m.internalDate.date.getTime() : Date.now(),
    });
  }
  // one unit of work: every message or none (RFC 3502 §3)
  const result = await storeCall(() => s.store.append(mb.id, prepared));
  if (result.uids.length === 0) return ok('APPEND completed');
  return ok('APPEND completed', { code: 'APPENDUID', uidValidity: result.uidValidity, uids: result.uids });
}
