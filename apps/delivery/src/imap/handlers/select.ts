/**
 * SELECT / EXAMINE (RFC 9051 §6.3.2-3, CONDSTORE and QRESYNC parameters of RFC 7162 §3.2.5),
 * CLOSE and UNSELECT (RFC 3691).
 *
 * SELECT reads the mailbox row (counters), the UID list and the first unseen UID in one store
 * snapshot, so they agree; it never reads message rows or contents.
 */
import {
  existsResponse,
  fetchResponse,
  flagsResponse,
  recentResponse,
  resolveSequenceSet,
  untaggedStatus,
  vanishedResponse,
  type CommandOf,
} from '@postern/imap';
import { bad, no, ok, type Reply } from '../reply.js';
import { SelectedMailbox } from '../selected.js';
import type { ImapSession } from '../session.js';

export const SYSTEM_FLAGS = ['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft'];

/** Leaves the selected state (RFC 7162 §3.2.11: `[CLOSED]` once QRESYNC is on). */
async function deselect(s: ImapSession): Promise<void> {
  if (!s.selected) return;
  s.selected = null;
  s.state = 'authenticated';
  if (s.qresync) await s.io.send(untaggedStatus('OK', 'Previous mailbox closed', { code: 'CLOSED' }));
}

export async function cmdSelect(s: ImapSession, c: CommandOf<'SELECT' | 'EXAMINE'>): Promise<Reply> {
  if (c.qresync && !s.qresync) throw bad('QRESYNC is not enabled', 'CLIENTBUG');
  await deselect(s);
  if (c.condstore) s.condstore = true;
  const user = s.user;
  if (!user) throw new Error('no user in the authenticated state');
  const q = c.qresync;
  // RFC 7162 §3.2.5.2: with QRESYNC, what changed since the client's modseq, read with the rest
  const snap = await s.store.snapshot(user.id, c.mailbox, q ? { changesSince: q.modSeq, uidValidity: q.uidValidity } : {});
  if (!snap) throw no('no such mailbox', 'NONEXISTENT');
  const { mailbox: mb, uids, firstUnseenUid: firstUnseen } = snap;
  const readOnly = c.name === 'EXAMINE';
  const sel = new SelectedMailbox(mb, uids, mb.highestModseq, readOnly);
  const out: Buffer[] = [
    flagsResponse(SYSTEM_FLAGS),
    untaggedStatus('OK', readOnly ? 'No permanent flags permitted' : 'Flags permitted', {
      code: 'PERMANENTFLAGS',
      flags: readOnly ? [] : [...SYSTEM_FLAGS, '\\*'],
    }),
    existsResponse(uids.length),
    // IMAP4rev1 clients expect RECENT; we keep no \Recent, so it is always 0.
    recentResponse(0),
  ];
  if (firstUnseen !== null) out.push(untaggedStatus('OK', 'First unseen', { code: 'UNSEEN', value: sel.seqOf(firstUnseen) }));
  out.push(
    untaggedStatus('OK', 'UIDs valid', { code: 'UIDVALIDITY', value: mb.uidValidity }),
    untaggedStatus('OK', 'Predicted next UID', { code: 'UIDNEXT', value: mb.uidNext }),
    untaggedStatus('OK', 'Highest', { code: 'HIGHESTMODSEQ', value: mb.highestModseq }),
  );
  if (q && snap.changes && q.uidValidity === mb.uidValidity && q.modSeq < mb.highestModseq) {
    // RFC 7162 §3.2.5.2: what vanished and what changed since the client's modseq.
    let vanished = snap.changes.expunged;
    if (q.knownUids && q.knownUids.kind === 'set') {
      const known = resolveSequenceSet(q.knownUids, 0xffffffff);
      vanished = vanished.filter((u) => known.some(([lo, hi]) => u >= lo && u <= hi));
    }
    if (vanished.length > 0) out.push(vanishedResponse(vanished, true));
    for (const m of snap.changes.changed) {
      const seq = sel.seqOf(m.uid);
      if (seq === 0) continue;
      out.push(
        ...fetchResponse(seq, [
          { kind: 'UID', value: m.uid },
          { kind: 'FLAGS', flags: m.flags },
          { kind: 'MODSEQ', value: m.modseq },
        ]),
      );
    }
  }
  await s.io.send(out);
  s.selected = sel;
  s.state = 'selected';
  return ok(`${c.name} completed`, { code: readOnly ? 'READ-ONLY' : 'READ-WRITE' });
}

/** RFC 9051 §6.4.1: CLOSE expunges silently (no EXPUNGE responses) unless read-only. */
export async function cmdClose(s: ImapSession): Promise<Reply> {
  const sel = s.sel();
  if (!sel.readOnly) await s.store.expunge(sel.id);
  s.selected = null;
  s.state = 'authenticated';
  return ok('CLOSE completed');
}

export function cmdUnselect(s: ImapSession): Reply {
  s.selected = null;
  s.state = 'authenticated';
  return ok('UNSELECT completed');
}
