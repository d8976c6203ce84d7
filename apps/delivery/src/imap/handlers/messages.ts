/**
 * STORE (RFC 9051 §6.4.6, UNCHANGEDSINCE of RFC 7162 §3.1.3), EXPUNGE and UID EXPUNGE
 * (RFC 4315), COPY with COPYUID and MOVE (RFC 6851).
 *
 * Expunges, our own included, reach the client through the session's catch-up, which the
 * dispatcher runs before the tagged response: one path for every EXPUNGE/VANISHED.
 */
import { fetchResponse, sequenceSetFromNumbers, untaggedStatus, type CommandOf, type FetchResponseItem } from '@postern/imap';
import { no, ok, type Reply } from '../reply.js';
import type { ImapSession } from '../session.js';
import { storeCall } from '../store-errors.js';
import { uidList, uidRanges } from '../targets.js';

/** Rows per page when STORE reports the flags of its set. */
const FLAGS_PAGE = 5000;
const FLAGS_ONLY = { envelope: false, bodyStructure: false, body: false, layout: false } as const;

function writable(s: ImapSession): void {
  if (s.sel().readOnly) throw no('mailbox is read-only', 'READ-ONLY');
}

export async function cmdStore(s: ImapSession, c: CommandOf<'STORE'>): Promise<Reply> {
  writable(s);
  const sel = s.sel();
  if (c.unchangedSince !== null) s.condstore = true;
  // Report others' changes first, so ours can be skipped by the catch-up afterwards.
  await s.catchUp(false);
  const uids = uidList(sel, c.set, c.uid, s.savedSearch);
  const flags = c.flags.filter((f) => f.toLowerCase() !== '\\recent');
  const before = sel.modseq;
  const { changed, modified, highestModseq } = await s.store.setFlags(sel.id, uids, c.action, flags, c.unchangedSince ?? undefined);
  sel.advanceOwnModseq(before, changed[0]?.modseq, highestModseq);
  const skip = new Set(modified);
  const out: Buffer[] = [];
  if (!c.silent) {
    // Every message of the set gets its current flags (RFC 9051 §6.4.6), read in pages.
    for (const [lo, hi] of uidRanges(sel, sequenceSetFromNumbers(uids), true, [])) {
      let from = lo;
      for (;;) {
        const rows = await s.store.fetchPage(sel.id, { fromUid: from, toUid: hi, limit: FLAGS_PAGE }, FLAGS_ONLY);
        for (const r of rows) {
          const seq = sel.seqOf(r.uid);
          if (seq === 0 || skip.has(r.uid)) continue;
          const items: FetchResponseItem[] = [];
          if (c.uid) items.push({ kind: 'UID', value: r.uid });
          items.push({ kind: 'FLAGS', flags: r.flags });
          if (s.condstore) items.push({ kind: 'MODSEQ', value: r.modseq });
          out.push(...fetchResponse(seq, items));
        }
        const last = rows[rows.length - 1];
        if (rows.length < FLAGS_PAGE || !last) break;
        from = last.uid + 1;
      }
    }
  } else if (s.condstore) {
    // RFC 7162 §3.1.3: with .SILENT the new MODSEQ is still reported for what changed.
    for (const ch of changed) {
      const items: FetchResponseItem[] = [];
      if (c.uid) items.push({ kind: 'UID', value: ch.uid });
      items.push({ kind: 'MODSEQ', value: ch.modseq });
      out.push(...fetchResponse(sel.seqOf(ch.uid), items));
    }
  }
  if (out.length > 0) await s.io.send(out);
  if (modified.length > 0) {
    const set = c.uid ? modified : modified.map((u) => sel.seqOf(u));
    return ok('Conditional STORE failed for some messages', { code: 'MODIFIED', set });
  }
  return ok(`${c.uid ? 'UID ' : ''}STORE completed`);
}

export async function cmdExpunge(s: ImapSession, c: CommandOf<'EXPUNGE'>): Promise<Reply> {
  writable(s);
  const sel = s.sel();
  if (c.uid) {
    const uids = uidList(sel, c.set, true, s.savedSearch);
    if (uids.length > 0) await s.store.expunge(sel.id, uids);
  } else {
    await s.store.expunge(sel.id);
  }
  return ok(`${c.uid ? 'UID ' : ''}EXPUNGE completed`);
}

async function destination(s: ImapSession, name: string): Promise<number> {
  const user = s.user;
  if (!user) throw new Error('no user');
  const mb = await s.store.mailbox(user.id, name);
  // RFC 9051 §6.4.7: a missing destination is [TRYCREATE].
  if (!mb) throw no('no such mailbox', 'TRYCREATE');
  return mb.id;
}

export async function cmdCopyMove(s: ImapSession, c: CommandOf<'COPY' | 'MOVE'>): Promise<Reply> {
  const sel = s.sel();
  if (c.name === 'MOVE') writable(s);
  const dest = await destination(s, c.mailbox);
  const uids = uidList(sel, c.set, c.uid, s.savedSearch);
  const verb = `${c.uid ? 'UID ' : ''}${c.name}`;
  if (uids.length === 0) return ok(`${verb} completed (no messages)`);
  const result = await storeCall(() => (c.name === 'MOVE' ? s.store.move(sel.id, uids, dest) : s.store.copy(sel.id, uids, dest)));
  if (result.mapping.length === 0) return ok(`${verb} completed`);
  const code = {
    code: 'COPYUID' as const,
    uidValidity: result.uidValidity,
    sourceUids: result.mapping.map(([a]) => a),
    destinationUids: result.mapping.map(([, b]) => b),
  };
  if (c.name === 'MOVE') {
    // RFC 6851 §4.3: COPYUID comes in an untagged OK before the expunges.
    await s.io.send(untaggedStatus('OK', 'Moved', code));
    return ok(`${verb} completed`);
  }
  return ok(`${verb} completed`, code);
}
