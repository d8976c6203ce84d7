/**
 * The one import loop every source goes through (IMAP, mbox, Maildir, a backup's mailbox):
 * folder by folder, messages in the source's order, in bounded batches through the store's
 * delivery path, each message indexed exactly as delivered mail is.
 *
 * Invariants:
 * - Memory is bounded by one batch (BATCH_MESSAGES messages or BATCH_BYTES bytes, whichever
 *   comes first; one larger message is a batch of its own), never by the mailbox's size.
 * - Each message carries a delivery key made of source, folder, validity and position: a batch
 *   offered twice (a kill after the commit, before the marker) is stored once.
 * - The marker of a folder moves only after its batch committed (see core's import-state.ts).
 */
import type { DeliveryRequest, Mailbox, MailDb } from '@postern/core';
import { canonicalMailboxName, validMailboxName } from '@postern/core';
import { indexMessage } from '@postern/mime';
import { CliError } from '../context.js';
import type { Progress } from '../progress.js';

export const BATCH_MESSAGES = 200;
export const BATCH_BYTES = 8 * 1024 * 1024;

export interface SourceMessage {
  raw: Buffer;
  /** Headers we prepended at delivery, kept apart as the store keeps them (a restore from a backup). */
  prefix?: Buffer;
  flags: string[];
  internalDate: number;
  /** Where this message is in its folder, in increasing order (a UID, a number, a file name). */
  position: string;
  /** A source-wide id of the message (Gmail's X-GM-MSGID). */
  emailId?: string;
}

export interface FolderPlan {
  count: number;
  bytes: number;
  batches(): AsyncIterable<SourceMessage[]>;
}

export interface SourceFolder {
  /** The name at the source: the marker's key. */
  sourceName: string;
  /** Our name, "/"-separated. */
  name: string;
  specialUse: string | null;
  /** UIDVALIDITY at the source; 0 where there is none (files). */
  validity: number;
  /** Gmail's All Mail: only messages whose emailId no other folder of the source had. */
  onlyUnseenIds?: boolean;
  /**
   * A selective restore: a message whose exact bytes the target mailbox still holds is left out,
   * and that alone keeps it from being stored twice (no marker, no delivery key), so a message
   * restored, deleted again and restored again comes back the second time too.
   */
  skipPresent?: boolean;
  /** What is left after `after` (null: everything). */
  plan(after: string | null): Promise<FolderPlan>;
}

export interface ImportSource {
  /** Stable name of the source, the markers' key: `imap://user@host:993`, `mbox:/abs/file`. */
  id: string;
  folders(): Promise<SourceFolder[]>;
  close(): Promise<void>;
}

export interface ImportOptions {
  folders?: readonly string[];
  dryRun?: boolean;
  progress: Progress;
  /** Set by SIGINT: stop after the batch in hand. */
  stopping?: () => boolean;
}

export interface FolderResult {
  folder: string;
  target: string;
  messages: number;
  bytes: number;
  alreadyThere: number;
}

const EMPTY = Buffer.alloc(0);

/** A source name we can store: our separator kept, IMAP wildcards and control characters replaced. */
export function storableName(name: string): string {
  const clean = canonicalMailboxName(
    name
      .replace(/[\x00-\x1f\x7f*%]/g, '_')
      .split('/')
      .map((level) => level || '_')
      .join('/'),
  );
  return validMailboxName(clean) ? clean : `Imported/${clean.slice(0, 400).replace(/\//g, '_')}`;
}

async function targetMailbox(m: MailDb, userId: number, folder: SourceFolder): Promise<Mailbox> {
  const name = storableName(folder.name);
  if (name === 'INBOX') {
    const inbox = await m.store.mailbox(userId, 'INBOX');
    if (!inbox) throw new CliError('the user has no INBOX');
    return inbox;
  }
  const boxes = await m.store.listMailboxes(userId);
  // the source's \Sent is our Sent, whatever either is called (RFC 6154)
  if (folder.specialUse) {
    const same = boxes.find((b) => b.specialUse === folder.specialUse);
    if (same) return same;
  }
  const existing = await m.store.mailbox(userId, name);
  if (existing) return existing;
  return m.store.createMailbox(userId, name, folder.specialUse);
}

function wanted(folder: SourceFolder, only: readonly string[] | undefined): boolean {
  if (!only || only.length === 0) return true;
  return only.some((f) => f === folder.sourceName || f === folder.name || folder.name.startsWith(`${f}/`));
}

/** Imports `source` into the user's mailboxes; returns what each folder brought. */
export async function runImport(m: MailDb, userId: number, source: ImportSource, o: ImportOptions): Promise<FolderResult[]> {
  const results: FolderResult[] = [];
  const folders = (await source.folders()).filter((f) => wanted(f, o.folders));
  // the folders whose messages other folders may also hold go last (Gmail's All Mail)
  folders.sort((a, b) => Number(a.onlyUnseenIds ?? false) - Number(b.onlyUnseenIds ?? false));
  for (const folder of folders) {
    if (o.stopping?.()) break;
    let marker = folder.skipPresent ? null : await m.imports.marker(userId, source.id, folder.sourceName);
    if (marker && marker.validity !== folder.validity) {
      o.progress.note(`${folder.sourceName}: UIDVALIDITY changed at the source (${marker.validity} -> ${folder.validity}); importing it again from the start`);
      marker = null;
    }
    const plan = await folder.plan(marker?.position ?? null);
    const result: FolderResult = { folder: folder.sourceName, target: storableName(folder.name), messages: 0, bytes: 0, alreadyThere: 0 };
    results.push(result);
    if (o.dryRun) {
      result.messages = plan.count;
      result.bytes = plan.bytes;
      continue;
    }
    const mb = await targetMailbox(m, userId, folder);
    result.target = mb.name;
    o.progress.folderStart(folder.sourceName === mb.name ? mb.name : `${folder.sourceName} -> ${mb.name}`, plan.count, plan.bytes);
    for await (let batch of plan.batches()) {
      if (batch.length === 0) continue;
      const last = batch[batch.length - 1]!.position;
      const offered = batch.length;
      const offeredBytes = batch.reduce((n, msg) => n + msg.raw.length + (msg.prefix?.length ?? 0), 0);
      if (folder.onlyUnseenIds) {
        const seen = await m.imports.seenIds(
          userId,
          source.id,
          batch.flatMap((msg) => (msg.emailId ? [msg.emailId] : [])),
        );
        batch = batch.filter((msg) => !msg.emailId || !seen.has(msg.emailId));
      }
      if (folder.skipPresent) {
        const present = await Promise.all(batch.map((msg) => m.imports.holds(mb.id, msg.prefix ?? EMPTY, msg.raw)));
        result.alreadyThere += present.filter(Boolean).length;
        batch = batch.filter((_msg, i) => !present[i]);
      }
      const requests: DeliveryRequest[] = batch.map((msg) => ({
        userId,
        mailbox: mb.name,
        prefix: msg.prefix ?? EMPTY,
        content: msg.raw,
        index: indexMessage(msg.raw),
        flags: msg.flags,
        internalDate: msg.internalDate,
        ...(folder.skipPresent ? {} : { deliveryKey: `import ${source.id} ${folder.sourceName} ${folder.validity} ${msg.position}` }),
      }));
      const outcomes = requests.length > 0 ? await m.store.deliver(requests) : [];
      for (const [i, out] of outcomes.entries()) {
        if (!out.ok)
          throw new CliError(`${mb.name}: ${out.message} (${out.reason}); ${result.messages} messages of ${folder.sourceName} stored, run again to go on`);
        if (out.duplicate) result.alreadyThere++;
        else {
          result.messages++;
          result.bytes += requests[i]!.content.length + requests[i]!.prefix.length;
        }
      }
      await m.imports.rememberIds(
        userId,
        source.id,
        batch.flatMap((msg) => (msg.emailId ? [msg.emailId] : [])),
      );
      if (!folder.skipPresent) await m.imports.setMarker(userId, source.id, folder.sourceName, folder.validity, last);
      o.progress.advance(offered, offeredBytes);
      if (o.stopping?.()) break;
    }
    o.progress.folderEnd();
  }
  return results;
}
