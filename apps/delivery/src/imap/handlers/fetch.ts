/**
 * FETCH and UID FETCH (RFC 9051 §6.4.5, §6.4.9; RFC 7162 CHANGEDSINCE and VANISHED).
 * Pages of messages are read in one store call each and written with back-pressure, so `1:*` on 100,000
 * messages streams in constant memory; a large body section is a literal streamed chunk by
 * chunk from the store, each chunk written only once the socket has taken the one before.
 */
import { fetchResponseText, isFetchTextKind, vanishedResponse, type CommandOf, type FetchTextItem } from '@postern/imap';
import { ContentGoneError, type FetchNeeds, type FetchRecord } from '@postern/core';
import { fetchResponseParts } from '../fetch-response.js';
import type { LiteralSource } from '../literal.js';
import { renderItems, setsSeen, type RenderContext } from '../render.js';
import { bad, ok, type Reply } from '../reply.js';
import type { ImapSession } from '../session.js';
import { uidRanges } from '../targets.js';

const FLUSH_BYTES = 256 * 1024;

export async function cmdFetch(s: ImapSession, c: CommandOf<'FETCH'>): Promise<Reply> {
  const sel = s.sel();
  const asksModseq = c.attributes.some((a) => a.kind === 'MODSEQ');
  if (asksModseq || c.changedSince !== null) s.condstore = true; // RFC 7162 §3.1: CONDSTORE-enabling
  if (c.vanished && !(c.uid && c.changedSince !== null && s.qresync)) throw bad('VANISHED needs UID FETCH, CHANGEDSINCE and QRESYNC', 'CLIENTBUG');
  const ranges = uidRanges(sel, c.set, c.uid, s.savedSearch);
  const bodies = c.attributes.some(
    (a) => a.kind === 'BODY[]' || a.kind === 'BINARY[]' || a.kind === 'BINARY.SIZE' || (a.kind.startsWith('RFC822') && a.kind !== 'RFC822.SIZE'),
  );
  const needs: FetchNeeds = {
    envelope: c.attributes.some((a) => a.kind === 'ENVELOPE'),
    bodyStructure: c.attributes.some((a) => a.kind === 'BODYSTRUCTURE'),
    body: c.attributes.some((a) => a.kind === 'BODY'),
    layout: bodies,
  };
  const markSeen = !sel.readOnly && c.attributes.some(setsSeen);
  const ctx: RenderContext = {
    store: s.store,
    uid: c.uid,
    modseq: asksModseq || c.changedSince !== null,
    addFlags: markSeen,
  };

  if (c.vanished && c.changedSince !== null) {
    // RFC 7162 §3.2.6: UIDs in the set expunged since CHANGEDSINCE, before the FETCH responses.
    const gone = (await s.store.expungedSince(sel.id, c.changedSince)).filter((u) => ranges.some(([lo, hi]) => u >= lo && u <= hi));
    if (gone.length > 0) await s.io.send(vanishedResponse(gone, true));
  }

  const pageSize = bodies ? 25 : 2000;
  let out: Buffer[] = [];
  let bytes = 0;
  // A flag sync (`UID FETCH 1:* (FLAGS)`) or a header listing carries no literal: its responses
  // are built as one string per page, one Buffer instead of one per message (bench/imap).
  const textOnly = c.attributes.every((a) => isFetchTextKind(a.kind));
  let text = '';
  for (const [lo, hi] of ranges) {
    let from = lo;
    while (from <= hi) {
      const rows = await s.store.fetchPage(sel.id, { fromUid: from, toUid: hi, limit: pageSize, changedSince: c.changedSince }, needs);
      if (rows.length === 0) break;
      if (markSeen) await markPageSeen(s, rows);
      for (const row of rows) {
        const seq = sel.seqOf(row.uid);
        if (seq === 0 || sel.pending.has(row.uid)) continue;
        if (textOnly) {
          text += fetchResponseText(seq, renderItems(ctx, row, c.attributes) as FetchTextItem[]);
          if (text.length >= FLUSH_BYTES) {
            await s.io.send(Buffer.from(text, 'utf8'));
            if (s.io.closed) return ok();
            text = '';
          }
          continue;
        }
        for (const part of fetchResponseParts(seq, renderItems(ctx, row, c.attributes))) {
          if (Buffer.isBuffer(part)) {
            out.push(part);
            bytes += part.length;
            continue;
          }
          if (out.length > 0) await s.io.send(out);
          out = [];
          bytes = 0;
          if (!(await streamLiteral(s, part))) return ok();
        }
        if (bytes >= FLUSH_BYTES) {
          await s.io.send(out);
          if (s.io.closed) return ok();
          out = [];
          bytes = 0;
        }
      }
      const last = rows[rows.length - 1]!.uid;
      if (rows.length < pageSize || last >= hi) break;
      from = last + 1;
    }
  }
  if (text.length > 0) await s.io.send(Buffer.from(text, 'utf8'));
  if (out.length > 0) await s.io.send(out);
  return ok(`${c.uid ? 'UID ' : ''}FETCH completed`);
}

/**
 * Writes a literal's bytes as the store yields them, waiting for the socket between chunks.
 * Once `{n}` is out, nothing but n bytes may follow: if the message vanishes part way (expunged
 * and freed by another session) or the bytes do not add up, the only honest move left is to
 * drop the connection; the client reconnects and learns of the expunge. False when the
 * connection is gone.
 */
async function streamLiteral(s: ImapSession, src: LiteralSource): Promise<boolean> {
  let sent = 0;
  try {
    for (const chunk of src.chunks()) {
      sent += chunk.length;
      if (sent > src.length) break;
      await s.io.send(chunk);
      if (s.io.closed) return false;
    }
  } catch (e) {
    if (!(e instanceof ContentGoneError)) s.log.error({ err: e }, 'imap literal stream failed');
    else s.log.info({ err: e.message }, 'imap fetch: message vanished while streaming');
    s.io.abort();
    return false;
  }
  if (sent !== src.length) {
    s.log.error({ sent, length: src.length }, 'imap literal length mismatch');
    s.io.abort();
    return false;
  }
  return true;
}

/** Sets \Seen on the page's unseen messages before rendering, so the FLAGS sent are the new ones. */
async function markPageSeen(s: ImapSession, rows: FetchRecord[]): Promise<void> {
  const sel = s.sel();
  const unseen = rows.filter((r) => !r.flags.includes('\\Seen') && sel.seqOf(r.uid) > 0);
  if (unseen.length === 0) return;
  const before = sel.modseq;
  const { changed, highestModseq } = await s.store.setFlags(
    sel.id,
    unseen.map((r) => r.uid),
    'add',
    ['\\Seen'],
  );
  const byUid = new Map(changed.map((ch) => [ch.uid, ch]));
  for (const r of unseen) {
    const ch = byUid.get(r.uid);
    if (ch === undefined) continue;
    r.flags = ch.flags;
    r.modseq = ch.modseq;
  }
  sel.advanceOwnModseq(before, changed[0]?.modseq, highestModseq);
}
