/**
 * Migration 3 (the substring index) on a database that already holds mail, streaming reads of
 * a message that vanishes, and the catch-up of the substring index.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../sqlite.js';
import { CHUNK_SIZE, type MessageIndex } from './contents.js';
import { MAIL_MIGRATIONS } from './schema.js';
import { MailStore } from './store.js';
import { ContentGoneError, messageChunks } from './stream.js';
import { completeTrigram, trigramPending } from './trigram.js';

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

const substring = (db: MailStore['db'], s: string): number[] =>
  db.prepare('SELECT rowid FROM content_trigram WHERE content_trigram MATCH ?').pluck().all(`"${s}"`) as number[];

describe('substring index (migration 3)', () => {
  it('lists the contents a database already had as pending, and indexes them once on completion', () => {
    const dir = mkdtempSync(join(tmpdir(), 'postern-trigram-'));
    try {
      const file = join(dir, 'mail.db');
      const old = openDatabase(file, MAIL_MIGRATIONS.slice(0, 2));
      old.prepare(
        `INSERT INTO contents (id, sha256, size, refs, header_end, envelope, body_structure, body, parts) VALUES (7, x'00', 5, 1, 0, 'NIL', 'NIL', 'NIL', '[]')`,
      ).run();
      old.close();
      const db = openDatabase(file, MAIL_MIGRATIONS);
      expect(trigramPending(db, 10)).toEqual([7]);
      const text = index(Buffer.from('hello world'));
      expect(completeTrigram(db, [{ id: 7, index: text }, { id: 7, index: text }])).toBe(1);
      expect(trigramPending(db, 10)).toEqual([]);
      expect(substring(db, 'lo wo')).toEqual([7]);
      expect(completeTrigram(db, [{ id: 7, index: text }])).toBe(0);
      db.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('indexes new deliveries at once and forgets freed contents', () => {
    const db = openDatabase(':memory:', MAIL_MIGRATIONS);
    db.prepare("INSERT INTO domains (name, created) VALUES ('b.c', 0)").run();
    db.prepare("INSERT INTO users (domain_id, address, display_address, password_hash, created) VALUES (1, 'u@b.c', 'u@b.c', 'x', 0)").run();
    const store = new MailStore(db);
    store.createMailbox(1, 'INBOX');
    const content = Buffer.from('Subject: x\r\n\r\nsomething inside\r\n');
    const [out] = store.deliver([{ userId: 1, prefix: Buffer.alloc(0), content, index: index(content) }]);
    expect(out?.ok).toBe(true);
    expect(substring(db, 'thing ins')).toHaveLength(1);
    expect(trigramPending(db, 10)).toEqual([]);
    const mb = store.mailbox(1, 'INBOX')!;
    store.store(mb.id, [1], 'add', ['\\Deleted']);
    store.expunge(mb.id);
    expect(substring(db, 'thing ins')).toEqual([]);
  });
});

describe('messageChunks', () => {
  it('yields exactly the range, one chunk at a time, and stops with ContentGoneError when the message is freed', () => {
    const db = openDatabase(':memory:', MAIL_MIGRATIONS);
    db.prepare("INSERT INTO domains (name, created) VALUES ('b.c', 0)").run();
    db.prepare("INSERT INTO users (domain_id, address, display_address, password_hash, created) VALUES (1, 'u@b.c', 'u@b.c', 'x', 0)").run();
    const store = new MailStore(db);
    const mb = store.createMailbox(1, 'INBOX');
    const content = Buffer.alloc(CHUNK_SIZE * 3 + 10, 'a');
    content.write('Subject: big\r\n\r\n');
    store.deliver([{ userId: 1, prefix: Buffer.from('Return-Path: <a@b.c>\r\n'), content, index: index(Buffer.from('x')) }]);
    const msg = store.message(mb.id, 1)!;
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
    store.store(mb.id, [1], 'add', ['\\Deleted']);
    store.expunge(mb.id);
    expect(() => it.next()).toThrow(ContentGoneError);
  });
});
