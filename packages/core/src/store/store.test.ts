import { describe, expect, it } from 'vitest';
import { Accounts } from '../accounts.js';
import { openDatabase } from '../sqlite.js';
import { CHUNK_SIZE, type MessageIndex } from './contents.js';
import { MAIL_MIGRATIONS } from './schema.js';
import { MailStore, StoreError } from './store.js';

function index(content: Buffer, subject = 's'): MessageIndex {
  return {
    size: content.length,
    headerEnd: 0,
    envelope: 'NIL',
    bodyStructure: '("text" "plain" NIL NIL NIL "7bit" 0 0)',
    body: '("text" "plain" NIL NIL NIL "7bit" 0 0)',
    parts: [],
    subject,
    from: 'a@b.c',
    to: 'd@e.f',
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

async function setup(quota = 0): Promise<{ store: MailStore; alice: number; bob: number }> {
  const db = openDatabase(':memory:', MAIL_MIGRATIONS);
  const accounts = new Accounts(db);
  accounts.addDomain('example.org');
  const alice = (await accounts.addUser('alice@example.org', 'long enough')).id;
  const bob = (await accounts.addUser('bob@example.org', 'long enough')).id;
  return { store: new MailStore(db, { defaultQuotaBytes: quota }), alice, bob };
}

const msg = (text: string): Buffer => Buffer.from(`Subject: ${text}\r\n\r\n${text}\r\n`);

describe('MailStore', () => {
  it('gives every user the special-use mailboxes', async () => {
    const { store, alice } = await setup();
    expect(store.listMailboxes(alice).map((m) => [m.name, m.specialUse])).toEqual([
      ['Archive', '\\Archive'],
      ['Drafts', '\\Drafts'],
      ['INBOX', null],
      ['Junk', '\\Junk'],
      ['Sent', '\\Sent'],
      ['Trash', '\\Trash'],
    ]);
  });

  it('delivers in one transaction, stores identical content once, reads byte for byte', async () => {
    const { store, alice, bob } = await setup();
    const content = msg('hello');
    const out = store.deliver([
      { userId: alice, prefix: Buffer.from('Delivered-To: alice@example.org\r\n'), content, index: index(content) },
      { userId: bob, prefix: Buffer.from('Delivered-To: bob@example.org\r\n'), content, index: index(content) },
    ]);
    expect(out.every((o) => o.ok)).toBe(true);
    expect(store.db.prepare('SELECT COUNT(*) FROM contents').pluck().get()).toBe(1);
    const inbox = store.mailbox(bob, 'inbox')!;
    const [m] = store.messages(inbox.id);
    expect(store.read(m!).toString()).toBe(`Delivered-To: bob@example.org\r\n${content.toString()}`);
    expect(inbox.messages).toBe(1);
    expect(inbox.unseen).toBe(1);
    expect(inbox.size).toBe(m!.size);
  });

  it('keeps UIDs strictly increasing and counters exact through flags, copy, move and expunge', async () => {
    const { store, alice } = await setup();
    const inbox = store.mailbox(alice, 'INBOX')!;
    for (let i = 0; i < 5; i++) store.deliver([{ userId: alice, prefix: Buffer.alloc(0), content: msg(`m${i}`), index: index(msg(`m${i}`)) }]);
    expect([...store.uids(inbox.id)]).toEqual([1, 2, 3, 4, 5]);
    const before = store.mailboxById(inbox.id)!.highestModseq;
    const { changed } = store.store(inbox.id, [1, 2], 'add', ['\\Seen', '$Important']);
    expect(changed.map((c) => c.flags)).toEqual([
      ['\\Seen', '$Important'],
      ['\\Seen', '$Important'],
    ]);
    expect(changed[0]!.modseq).toBeGreaterThan(before);
    expect(store.mailboxById(inbox.id)!.unseen).toBe(3);
    // CONDSTORE: UNCHANGEDSINCE older than the message's modseq refuses it
    const r = store.store(inbox.id, [1, 3], 'add', ['\\Flagged'], before);
    expect(r.modified).toEqual([1]);
    expect(r.changed.map((c) => c.uid)).toEqual([3]);

    const archive = store.mailbox(alice, 'Archive')!;
    const copied = store.copy(inbox.id, [2, 3], archive.id);
    expect(copied.mapping).toEqual([
      [2, 1],
      [3, 2],
    ]);
    const moved = store.move(inbox.id, [4], archive.id);
    expect(moved.mapping).toEqual([[4, 3]]);
    expect([...store.uids(inbox.id)]).toEqual([1, 2, 3, 5]);
    expect(store.expungedSince(inbox.id, 0)).toEqual([4]);

    store.store(inbox.id, [1, 5], 'add', ['\\Deleted']);
    expect(store.expunge(inbox.id, [5])).toEqual([5]);
    expect(store.expunge(inbox.id)).toEqual([1]);
    const after = store.mailboxById(inbox.id)!;
    expect(after.messages).toBe(2);
    expect(after.unseen).toBe(1);
    expect(after.uidNext).toBe(6);
    expect(after.size).toBe(store.messages(inbox.id).reduce((n, m) => n + m.size, 0));
    store.deliver([{ userId: alice, prefix: Buffer.alloc(0), content: msg('late'), index: index(msg('late')) }]);
    expect([...store.uids(inbox.id)]).toEqual([2, 3, 6]);
    expect(store.changedSince(inbox.id, before).map((m) => m.uid)).toEqual([2, 3, 6]);
  });

  it('frees content when the last reference goes', async () => {
    const { store, alice } = await setup();
    const inbox = store.mailbox(alice, 'INBOX')!;
    store.deliver([{ userId: alice, prefix: Buffer.alloc(0), content: msg('x'), index: index(msg('x')) }]);
    store.copy(inbox.id, [1], store.mailbox(alice, 'Trash')!.id);
    store.store(inbox.id, [1], 'add', ['\\Deleted']);
    store.expunge(inbox.id);
    expect(store.db.prepare('SELECT refs FROM contents').pluck().all()).toEqual([1]);
    store.deleteMailbox(alice, 'Trash');
    expect(store.db.prepare('SELECT COUNT(*) FROM contents').pluck().get()).toBe(0);
    expect(store.db.prepare('SELECT COUNT(*) FROM content_chunks').pluck().get()).toBe(0);
  });

  it('reads ranges across chunk boundaries', async () => {
    const { store, alice } = await setup();
    const big = Buffer.alloc(CHUNK_SIZE * 2 + 1234);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) % 251;
    const prefix = Buffer.from('Return-Path: <x@y.z>\r\n');
    store.deliver([{ userId: alice, prefix, content: big, index: index(big) }]);
    const [m] = store.messages(store.mailbox(alice, 'INBOX')!.id);
    const whole = Buffer.concat([prefix, big]);
    expect(store.read(m!).equals(whole)).toBe(true);
    expect(Buffer.concat([...store.stream(m!)]).equals(whole)).toBe(true);
    for (const [s, e] of [
      [0, 5],
      [10, 40],
      [CHUNK_SIZE - 3, CHUNK_SIZE + 30],
      [CHUNK_SIZE * 2, whole.length],
      [5, whole.length + 100],
    ] as const) {
      expect(store.read(m!, s, e).equals(whole.subarray(s, e)), `${s}-${e}`).toBe(true);
    }
  });

  it('enforces quotas per delivery without failing the batch', async () => {
    const { store, alice, bob } = await setup(100);
    const small = msg('small');
    const large = Buffer.alloc(200, 'a');
    const out = store.deliver([
      { userId: alice, prefix: Buffer.alloc(0), content: large, index: index(large) },
      { userId: bob, prefix: Buffer.alloc(0), content: small, index: index(small) },
    ]);
    expect(out.map((o) => o.ok)).toEqual([false, true]);
    expect(() => store.append(store.mailbox(alice, 'INBOX')!.id, large, index(large))).toThrow(StoreError);
  });

  it('creates, renames and deletes mailboxes as RFC 9051 says', async () => {
    const { store, alice } = await setup();
    store.createMailbox(alice, 'Projects/2026/Q4');
    // the parents are placeholders, only names (IMAP lists them \Noselect): no mailbox of their own
    expect(store.mailbox(alice, 'Projects/2026')).toBeNull();
    expect(() => store.createMailbox(alice, 'a//b')).toThrow(StoreError);
    // renaming a placeholder renames what is under it
    store.renameMailbox(alice, 'Projects', 'Old/Projects');
    expect(store.mailbox(alice, 'Old/Projects/2026/Q4')).not.toBeNull();
    expect(store.mailbox(alice, 'Projects/2026/Q4')).toBeNull();
    expect(() => store.renameMailbox(alice, 'Projects', 'X')).toThrow(/no such mailbox/);
    // a placeholder's name can become a mailbox, once
    store.createMailbox(alice, 'Old');
    expect(() => store.createMailbox(alice, 'Old')).toThrow(/exists/);
    store.deliver([{ userId: alice, prefix: Buffer.alloc(0), content: msg('in'), index: index(msg('in')) }]);
    store.renameMailbox(alice, 'INBOX', 'Saved');
    expect(store.mailbox(alice, 'INBOX')!.messages).toBe(0);
    expect(store.mailbox(alice, 'Saved')!.messages).toBe(1);
    expect(() => store.deleteMailbox(alice, 'INBOX')).toThrow(/cannot/);
  });
});
