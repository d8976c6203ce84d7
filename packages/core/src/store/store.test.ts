/** What the SQLite backend does beyond the conformance suite: contents shared and freed, user deletion. */
import { describe, expect, it } from 'vitest';
import { Accounts } from '../accounts.js';
import { openDatabase } from '../sqlite.js';
import { testIndex } from './__tests__/conformance.js';
import { MAIL_MIGRATIONS } from './schema.js';
import { MailStore } from './store.js';

async function setup() {
  const db = openDatabase(':memory:', MAIL_MIGRATIONS);
  const accounts = new Accounts(db);
  accounts.addDomain('example.org');
  const alice = (await accounts.addUser('alice@example.org', 'long enough')).id;
  const bob = (await accounts.addUser('bob@example.org', 'long enough')).id;
  const count = (table: string): unknown => db.prepare(`SELECT COUNT(*) FROM ${table}`).pluck().get();
  return { db, accounts, store: new MailStore(db), alice, bob, count };
}

const msg = (text: string): Buffer => Buffer.from(`Subject: ${text}\r\n\r\n${text}\r\n`);

describe('MailStore (SQLite)', () => {
  it('stores identical content once for several recipients and frees it when the last reference goes', async () => {
    const { db, store, alice, bob, count } = await setup();
    const content = msg('hello');
    await store.deliver([
      { userId: alice, prefix: Buffer.from('Delivered-To: alice@example.org\r\n'), content, index: testIndex(content) },
      { userId: bob, prefix: Buffer.from('Delivered-To: bob@example.org\r\n'), content, index: testIndex(content) },
    ]);
    expect(count('contents')).toBe(1);
    const inbox = (await store.mailbox(alice, 'INBOX'))!;
    await store.copy(inbox.id, [1], (await store.mailbox(alice, 'Trash'))!.id);
    await store.deleteMessages(inbox.id, [1]);
    expect(db.prepare('SELECT refs FROM contents').pluck().all()).toEqual([2]);
    await store.deleteMailbox(alice, 'Trash');
    expect(db.prepare('SELECT refs FROM contents').pluck().all()).toEqual([1]);
    await store.deleteMessages((await store.mailbox(bob, 'INBOX'))!.id, [1]);
    expect(count('contents')).toBe(0);
    expect(count('content_chunks')).toBe(0);
  });

  it("deletes a user's messages with the user, keeping contents another user holds", async () => {
    const { accounts, store, alice, bob, count } = await setup();
    const shared = msg('shared');
    const own = msg('own');
    await store.deliver([
      { userId: alice, prefix: Buffer.alloc(0), content: shared, index: testIndex(shared) },
      { userId: bob, prefix: Buffer.alloc(0), content: shared, index: testIndex(shared) },
    ]);
    await store.deliver([{ userId: alice, prefix: Buffer.alloc(0), content: own, index: testIndex(own) }]);
    expect(count('contents')).toBe(2);
    accounts.removeUser('alice@example.org');
    expect(await store.listMailboxes(alice)).toEqual([]);
    expect(count('contents')).toBe(1);
    expect((await store.mailbox(bob, 'INBOX'))!.messages).toBe(1);
  });
});
