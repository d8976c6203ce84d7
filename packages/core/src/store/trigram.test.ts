/**
 * Migration 3 (the substring index) on a database that already holds mail, streaming reads of
 * a message that vanishes, and the catch-up of the substring index.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../sqlite.js';
import { CHUNK_SIZE, type MessageIndex } from './contents.js';
import { MAIL_MIGRATIONS } from './schema.js';
import { MailStore } from './store.js';
import { ContentGoneError, messageChunks } from './stream.js';
import { completeTrigram, trigramPending, trigramPendingIn, type TrigramText } from './trigram.js';

function index(content: Buffer): MessageIndex {
  return {
    size: content.length,
    headerEnd: 0,
    envelope: 'NIL',
    bodyStructure: 'NIL',
    body: 'NIL',
    parts: [],
    subject: 'greetings',
    from: 'a@b.c',
    to: '',
    cc: '',
    bcc: '',
    fromAddress: 'a@b.c',
    messageId: null,
    inReplyTo: null,
    date: null,
    text: content.toString('utf8'),
    hasAttachments: false,
  };
}

const substring = (db: Db, s: string): number[] =>
  db.prepare('SELECT rowid FROM content_trigram WHERE content_trigram MATCH ?').pluck().all(`"${s}"`) as number[];

describe('substring index (migration 3)', () => {
  it('lists the contents a database already had as pending, and indexes them once on completion', () => {
    const dir = mkdtempSync(join(tmpdir(), 'postern-trigram-'));
    try {
      const file = join(dir, 'mail.db');
      const old = openDatabase(file, MAIL_MIGRATIONS.slice(0, 2));
      old
        .prepare(
          `INSERT INTO contents (id, sha256, size, refs, header_end, envelope, body_structure, body, parts) VALUES (7, x'00', 5, 1, 0, 'NIL', 'NIL', 'NIL', '[]')`,
        )
        .run();
      old.close();
      const db = openDatabase(file, MAIL_MIGRATIONS);
      expect(trigramPending(db, 10)).toEqual([7]);
      const text = index(Buffer.from('hello world'));
      expect(
        completeTrigram(db, [
          { id: 7, index: text },
          { id: 7, index: text },
        ]),
      ).toBe(1);
      expect(trigramPending(db, 10)).toEqual([]);
      expect(substring(db, 'lo wo')).toEqual([7]);
      expect(completeTrigram(db, [{ id: 7, index: text }])).toBe(0);
      db.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('lists new deliveries as pending (word index at once) and forgets freed contents, indexed or not', async () => {
    const db = openDatabase(':memory:', MAIL_MIGRATIONS);
    db.prepare("INSERT INTO domains (name, created) VALUES ('b.c', 0)").run();
    db.prepare("INSERT INTO users (domain_id, address, display_address, password_hash, created) VALUES (1, 'u@b.c', 'u@b.c', 'x', 0)").run();
    const store = new MailStore(db);
    const inbox = await store.createMailbox(1, 'INBOX');
    const other = await store.createMailbox(1, 'Other');
    const words = (w: string): number[] => db.prepare('SELECT rowid FROM content_fts WHERE content_fts MATCH ?').pluck().all(w) as number[];
    const deliver = async (body: string, mailbox = 'INBOX'): Promise<number> => {
      const content = Buffer.from(`Subject: x\r\n\r\n${body}\r\n`);
      const [out] = await store.deliver([{ userId: 1, prefix: Buffer.alloc(0), content, index: index(content), mailbox }]);
      expect(out?.ok).toBe(true);
      return db.prepare('SELECT max(id) FROM contents').pluck().get() as number;
    };
    const first = await deliver('something inside');
    const second = await deliver('another thing', 'Other');
    expect(words('something')).toEqual([first]);
    expect(substring(db, 'thing ins')).toEqual([]);
    expect(trigramPending(db, 10)).toEqual([first, second]);
    expect(trigramPendingIn(db, inbox.id, 10)).toEqual([first]);
    expect(trigramPendingIn(db, other.id, 10)).toEqual([second]);
    const text = async (id: number): Promise<TrigramText> => index(store.read((await store.message(id === first ? inbox.id : other.id, 1))!));
    expect(completeTrigram(db, [{ id: first, index: await text(first) }])).toBe(1);
    expect(substring(db, 'thing ins')).toEqual([first]);
    expect(trigramPendingIn(db, inbox.id, 10)).toEqual([]);
    // Freed: the indexed one leaves the substring index, the pending one the pending list.
    await store.deleteMessages(inbox.id, [1]);
    await store.deleteMessages(other.id, [1]);
    expect(substring(db, 'thing ins')).toEqual([]);
    expect(trigramPending(db, 10)).toEqual([]);
    expect(words('something')).toEqual([]);
  });
});

describe('messageChunks', () => {
  it('yields exactly the range, one chunk at a time, and stops with ContentGoneError when the message is freed', async () => {
    const db = openDatabase(':memory:', MAIL_MIGRATIONS);
    db.prepare("INSERT INTO domains (name, created) VALUES ('b.c', 0)").run();
    db.prepare("INSERT INTO users (domain_id, address, display_address, password_hash, created) VALUES (1, 'u@b.c', 'u@b.c', 'x', 0)").run();
    const store = new MailStore(db);
    const mb = await store.createMailbox(1, 'INBOX');
    const content = Buffer.alloc(CHUNK_SIZE * 3 + 10, 'a');
    content.write('Subject: big\r\n\r\n');
    await store.deliver([{ userId: 1, prefix: Buffer.from('Return-Path: <a@b.c>\r\n'), content, index: index(Buffer.from('x')) }]);
    const msg = (await store.message(mb.id, 1))!;
    const whole = Buffer.concat([...messageChunks(db, msg)]);
    expect(whole.equals(store.read(msg))).toBe(true);
    const start = 5;
    const end = CHUNK_SIZE * 2 + 100;
    const pieces = [...messageChunks(db, msg, start, end)];
    expect(pieces.every((p) => p.length <= CHUNK_SIZE)).toBe(true);
    expect(Buffer.concat(pieces).equals(store.read(msg, start, end))).toBe(true);
    const it = messageChunks(db, msg);
    it.next();
    it.next();
    await store.deleteMessages(mb.id, [1]);
    expect(() => it.next()).toThrow(ContentGoneError);
  });
});
