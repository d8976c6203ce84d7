/**
 * Where each import stopped: one marker per (user, source, source folder), so `postern import`
 * interrupted at any moment (Ctrl-C, kill -9, a dropped connection) goes on from there.
 *
 * Invariants:
 * - The marker is written after the batch it covers has committed, so it never runs ahead of
 *   what is stored. A kill between the batch's commit and the marker's write leaves the marker
 *   one batch behind; that batch is offered again and the delivery keys (delivery_keys, in the
 *   delivery's own transaction) answer "already stored": no duplicate either way.
 * - `validity` is the source folder's UIDVALIDITY (0 for files): when it changed, the source's
 *   UIDs mean other messages and the marker no longer applies.
 * - Gmail's message ids (X-GM-MSGID) seen in one label are remembered, so "[Gmail]/All Mail"
 *   brings in only what no label had.
 */
import { createHash } from 'node:crypto';
import { prepared, type Db } from '../sqlite.js';

export interface ImportMarker {
  validity: number;
  /** The last position stored, in the source's own order: a UID, a message number, a file name. */
  position: string;
  updated: number;
}

export class ImportState {
  constructor(private readonly db: Db) {}

  marker(userId: number, source: string, folder: string): ImportMarker | null {
    const row = prepared(this.db, 'SELECT validity, position, updated FROM import_progress WHERE user_id = ? AND source = ? AND folder = ?').get(
      userId,
      source,
      folder,
    ) as ImportMarker | undefined;
    return row ?? null;
  }

  setMarker(userId: number, source: string, folder: string, validity: number, position: string): void {
    prepared(
      this.db,
      `INSERT INTO import_progress (user_id, source, folder, validity, position, updated) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (user_id, source, folder) DO UPDATE SET validity = excluded.validity, position = excluded.position, updated = excluded.updated`,
    ).run(userId, source, folder, validity, position, Date.now());
  }

  /** Every marker of a source (`postern import --restart` forgets them). */
  forget(userId: number, source: string): number {
    return (
      prepared(this.db, 'DELETE FROM import_progress WHERE user_id = ? AND source = ?').run(userId, source).changes +
      prepared(this.db, 'DELETE FROM import_seen WHERE user_id = ? AND source = ?').run(userId, source).changes
    );
  }

  /** Remembers source-wide message ids (Gmail's X-GM-MSGID) as imported. */
  rememberIds(userId: number, source: string, ids: readonly string[]): void {
    if (ids.length === 0) return;
    this.db
      .transaction(() => {
        for (const id of ids) prepared(this.db, 'INSERT OR IGNORE INTO import_seen (user_id, source, email_id) VALUES (?, ?, ?)').run(userId, source, id);
      })
      .immediate();
  }

  /** Whether the mailbox holds a message with exactly this prefix and content (a selective restore skips it). */
  holds(mailboxId: number, prefix: Buffer, content: Buffer): boolean {
    const sha = createHash('sha256').update(content).digest();
    return (
      prepared(this.db, 'SELECT 1 FROM messages m JOIN contents c ON c.id = m.content_id WHERE m.mailbox_id = ? AND c.sha256 = ? AND m.prefix = ? LIMIT 1').get(
        mailboxId,
        sha,
        prefix,
      ) !== undefined
    );
  }

  /** Which of `ids` were remembered. */
  seenIds(userId: number, source: string, ids: readonly string[]): Set<string> {
    const out = new Set<string>();
    for (const id of ids) {
      if (prepared(this.db, 'SELECT 1 FROM import_seen WHERE user_id = ? AND source = ? AND email_id = ?').get(userId, source, id)) out.add(id);
    }
    return out;
  }
}

/** mail.db migration: the import markers and Gmail ids above. */
export const IMPORT_STATE_SCHEMA = `
  CREATE TABLE import_progress (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    source TEXT NOT NULL,                   -- imap://user@host:port, mbox:/abs/path, maildir:/abs/path
    folder TEXT NOT NULL,                   -- the folder's name at the source
    validity INTEGER NOT NULL,
    position TEXT NOT NULL,
    updated INTEGER NOT NULL,
    PRIMARY KEY (user_id, source, folder)
  ) WITHOUT ROWID;
  CREATE TABLE import_seen (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    source TEXT NOT NULL,
    email_id TEXT NOT NULL,
    PRIMARY KEY (user_id, source, email_id)
  ) WITHOUT ROWID;
`;
