/**
 * The store conformance suite: what every MessageStore backend must do, written against the
 * interface alone (no SQL, no database handle). A backend's test file calls storeConformance
 * with a factory; SQLite's is ../store-conformance.test.ts, PostgreSQL's is meant to follow.
 */
import { describe, expect, it } from 'vitest';
import type { DeliveryRequest, MessageStore, SearchCriteria, StoreChange } from '../interface.js';
import type { MessageIndex } from '../contents.js';
import { CHUNK_SIZE } from '../contents.js';

export interface StoreFixture {
  store: MessageStore;
  /** Two users with the default mailboxes. */
  alice: number;
  bob: number;
  /** The same data opened as another process would open it (its own connection). */
  otherProcess(): Promise<MessageStore>;
  close(): Promise<void>;
}

/** A fresh, empty backend; `quotaBytes` is the default quota (0: none). */
export type StoreFactory = (options: { quotaBytes?: number }) => Promise<StoreFixture>;

export function testIndex(content: Buffer, over: Partial<MessageIndex> = {}): MessageIndex {
  const text = content.toString('utf8');
  const headerEnd = text.indexOf('\r\n\r\n');
  const subject = /^Subject: (.*)$/m.exec(text)?.[1]?.trim() ?? '';
  return {
    size: content.length,
    headerEnd: headerEnd < 0 ? 0 : headerEnd + 4,
    envelope: `("x" "${subject}")`,
    bodyStructure: '("text" "plain" NIL NIL NIL "7bit" 0 0)',
    body: '("text" "plain" NIL NIL NIL "7bit" 0 0)',
    parts: [],
    subject,
    from: 'Alice <a@b.c>',
    to: 'd@e.f',
    cc: '',
    bcc: '',
    fromAddress: 'a@b.c',
    messageId: null,
    inReplyTo: null,
    date: null,
    text: headerEnd < 0 ? text : text.slice(headerEnd + 4),
    hasAttachments: false,
    ...over,
  };
}

const msg = (subject: string, body = subject, extra = ''): Buffer => Buffer.from(`Subject: ${subject}\r\n${extra}\r\n${body}\r\n`);

const request = (userId: number, content: Buffer, over: Partial<DeliveryRequest> = {}): DeliveryRequest => ({
  userId,
  prefix: Buffer.alloc(0),
  content,
  index: testIndex(content),
  ...over,
});

async function until(check: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function storeConformance(name: string, factory: StoreFactory): void {
  const withStore = (quotaBytes: number, run: (f: StoreFixture) => Promise<void>) => async () => {
    const f = await factory({ quotaBytes });
    try {
      await run(f);
    } finally {
      await f.close();
    }
  };

  describe(`MessageStore conformance: ${name}`, () => {
    it(
      'gives every user the special-use mailboxes',
      withStore(0, async ({ store, alice }) => {
        expect((await store.listMailboxes(alice)).map((m) => [m.name, m.specialUse])).toEqual([
          ['Archive', '\\Archive'],
          ['Drafts', '\\Drafts'],
          ['INBOX', null],
          ['Junk', '\\Junk'],
          ['Sent', '\\Sent'],
          ['Trash', '\\Trash'],
        ]);
      }),
    );

    it(
      'delivers to several users, reads byte for byte, keeps the counters',
      withStore(0, async ({ store, alice, bob }) => {
        const content = msg('hello');
        const out = await store.deliver([
          request(alice, content, { prefix: Buffer.from('Delivered-To: alice@example.org\r\n') }),
          request(bob, content, { prefix: Buffer.from('Delivered-To: bob@example.org\r\n') }),
        ]);
        expect(out.every((o) => o.ok)).toBe(true);
        const inbox = (await store.mailbox(bob, 'inbox'))!;
        const [m] = await store.messages(inbox.id);
        expect(store.read(m!).toString()).toBe(`Delivered-To: bob@example.org\r\n${content.toString()}`);
        expect(inbox.messages).toBe(1);
        expect(inbox.unseen).toBe(1);
        expect(inbox.size).toBe(m!.size);
        expect(await store.usage(bob)).toBe(m!.size);
      }),
    );

    it(
      'group-commits concurrent deliveries, each with its own UID',
      withStore(0, async ({ store, alice }) => {
        const all = await Promise.all(Array.from({ length: 20 }, (_, i) => store.deliver([request(alice, msg(`m${i}`))])));
        const uids = all.map(([o]) => (o && o.ok ? o.uid : 0));
        expect([...uids].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
        // a delivery key makes a repeated delivery a duplicate, stored once
        const first = await store.deliver([request(alice, msg('once'), { deliveryKey: 'Q1' })]);
        const again = await store.deliver([request(alice, msg('once'), { deliveryKey: 'Q1' })]);
        expect(first[0]).toMatchObject({ ok: true, uid: 21 });
        expect(again[0]).toMatchObject({ ok: true, duplicate: true });
        expect((await store.mailbox(alice, 'INBOX'))!.messages).toBe(21);
      }),
    );

    it(
      'keeps UIDs strictly increasing and modseqs and counters exact through flags, copy, move and expunge',
      withStore(0, async ({ store, alice }) => {
        const inbox = (await store.mailbox(alice, 'INBOX'))!;
        for (let i = 0; i < 5; i++) await store.deliver([request(alice, msg(`m${i}`))]);
        const uids = async (): Promise<number[]> => [...(await store.snapshot(alice, 'INBOX'))!.uids];
        expect(await uids()).toEqual([1, 2, 3, 4, 5]);
        const before = (await store.mailboxById(inbox.id))!.highestModseq;
        const r1 = await store.setFlags(inbox.id, [1, 2], 'add', ['\\Seen', '$Important']);
        expect(r1.changed.map((c) => c.flags)).toEqual([
          ['\\Seen', '$Important'],
          ['\\Seen', '$Important'],
        ]);
        expect(r1.changed[0]!.modseq).toBeGreaterThan(before);
        expect(r1.highestModseq).toBe(r1.changed[0]!.modseq);
        expect((await store.mailboxById(inbox.id))!.unseen).toBe(3);
        // no change, no modseq
        const same = await store.setFlags(inbox.id, [1], 'add', ['\\Seen']);
        expect(same.changed).toEqual([]);
        expect(same.highestModseq).toBe(r1.highestModseq);
        // CONDSTORE: UNCHANGEDSINCE older than the message's modseq refuses it (RFC 7162 §3.1.3)
        const r2 = await store.setFlags(inbox.id, [1, 3], 'add', ['\\Flagged'], before);
        expect(r2.modified).toEqual([1]);
        expect(r2.changed.map((c) => c.uid)).toEqual([3]);

        const archive = (await store.mailbox(alice, 'Archive'))!;
        const copied = await store.copy(inbox.id, [3, 2], archive.id);
        expect(copied.uidValidity).toBe(archive.uidValidity);
        expect(copied.mapping).toEqual([
          [2, 1],
          [3, 2],
        ]);
        const [c1] = await store.messages(archive.id, 1, 1);
        expect(c1!.flags).toEqual(['\\Seen', '$Important']);
        const moved = await store.move(inbox.id, [4], archive.id);
        expect(moved.mapping).toEqual([[4, 3]]);
        expect(await uids()).toEqual([1, 2, 3, 5]);
        expect(await store.expungedSince(inbox.id, 0)).toEqual([4]);

        await store.setFlags(inbox.id, [1, 5], 'add', ['\\Deleted']);
        expect(await store.deletedCount(inbox.id)).toBe(2);
        expect(await store.expunge(inbox.id, [5])).toEqual([5]);
        expect(await store.expunge(inbox.id)).toEqual([1]);
        const after = (await store.mailboxById(inbox.id))!;
        expect(after.messages).toBe(2);
        expect(after.unseen).toBe(1);
        expect(after.uidNext).toBe(6);
        expect(after.size).toBe((await store.messages(inbox.id)).reduce((n, m) => n + m.size, 0));
        await store.deliver([request(alice, msg('late'))]);
        expect(await uids()).toEqual([2, 3, 6]);
        const changes = await store.changesSince(inbox.id, before);
        expect(changes.changed.map((m) => m.uid)).toEqual([2, 3, 6]);
        expect(changes.expunged).toEqual([1, 4, 5]);
        expect(changes.mailbox!.highestModseq).toBeGreaterThan(before);
        // nothing since the latest modseq
        expect(await store.changesSince(inbox.id, changes.mailbox!.highestModseq)).toMatchObject({ expunged: [], changed: [] });
      }),
    );

    it(
      'answers SELECT from one snapshot, with QRESYNC changes of the same instant',
      withStore(0, async ({ store, alice }) => {
        for (let i = 0; i < 3; i++) await store.deliver([request(alice, msg(`m${i}`))]);
        const mb = (await store.mailbox(alice, 'INBOX'))!;
        await store.setFlags(mb.id, [1], 'add', ['\\Seen']);
        const snap = (await store.snapshot(alice, 'inbox', { changesSince: mb.highestModseq }))!;
        expect(snap.mailbox.messages).toBe(3);
        expect([...snap.uids]).toEqual([1, 2, 3]);
        expect(snap.firstUnseenUid).toBe(2);
        expect(snap.changes!.changed.map((m) => [m.uid, m.flags])).toEqual([[1, ['\\Seen']]]);
        expect(await store.snapshot(alice, 'Nope')).toBeNull();
      }),
    );

    it(
      'fetches pages with what was asked, and only what changed since a modseq',
      withStore(0, async ({ store, alice }) => {
        for (let i = 0; i < 7; i++) await store.deliver([request(alice, msg(`m${i}`), { prefix: Buffer.from('X-P: 1\r\n') })]);
        const mb = (await store.mailbox(alice, 'INBOX'))!;
        const none = { envelope: false, bodyStructure: false, body: false, layout: false };
        const page = await store.fetchPage(mb.id, { fromUid: 2, toUid: 6, limit: 3 }, none);
        expect(page.map((r) => r.uid)).toEqual([2, 3, 4]);
        expect(page[0]!.envelope).toBeUndefined();
        expect(page[0]!.prefixLength).toBe(8);
        const full = await store.fetchPage(mb.id, { fromUid: 1, toUid: 1, limit: 10 }, { envelope: true, bodyStructure: true, body: true, layout: true });
        expect(full[0]).toMatchObject({ uid: 1, envelope: '("x" "m0")', headerEnd: 15, parts: [], flags: [] });
        const { highestModseq } = await store.setFlags(mb.id, [5], 'add', ['\\Answered']);
        const changed = await store.fetchPage(mb.id, { fromUid: 1, toUid: 0xffffffff, limit: 100, changedSince: highestModseq - 1 }, none);
        expect(changed.map((r) => [r.uid, r.flags, r.modseq])).toEqual([[5, ['\\Answered'], highestModseq]]);
      }),
    );

    it(
      'reads ranges and chunks across chunk boundaries',
      withStore(0, async ({ store, alice }) => {
        const big = Buffer.alloc(CHUNK_SIZE * 2 + 1234);
        for (let i = 0; i < big.length; i++) big[i] = (i * 7) % 251;
        const prefix = Buffer.from('Return-Path: <x@y.z>\r\n');
        await store.deliver([request(alice, big, { prefix })]);
        const [m] = await store.messages((await store.mailbox(alice, 'INBOX'))!.id);
        const whole = Buffer.concat([prefix, big]);
        expect(store.read(m!).equals(whole)).toBe(true);
        expect(Buffer.concat([...store.chunks(m!)]).equals(whole)).toBe(true);
        for (const [s, e] of [
          [0, 5],
          [10, 40],
          [CHUNK_SIZE - 3, CHUNK_SIZE + 30],
          [CHUNK_SIZE * 2, whole.length],
          [5, whole.length + 100],
        ] as const) {
          expect(store.read(m!, s, e).equals(whole.subarray(s, e)), `${s}-${e}`).toBe(true);
          expect(Buffer.concat([...store.chunks(m!, s, e)]).equals(whole.subarray(s, e)), `chunks ${s}-${e}`).toBe(true);
        }
      }),
    );

    it(
      'searches by flags, fields, headers, text as substrings, dates, sizes, UIDs and modseq',
      withStore(0, async ({ store, alice }) => {
        const day = Date.UTC(2026, 0, 10);
        await store.deliver([request(alice, msg('Quarterly report', 'the numbers are fine', 'X-Tag: blue\r\n'), { internalDate: day })]);
        await store.deliver([request(alice, msg('Lunch', 'hello world and more'), { internalDate: day + 86_400_000 })]);
        await store.deliver([request(alice, msg('Re: Lunch', `${'x'.repeat(500)} bye`), { internalDate: day + 2 * 86_400_000 })]);
        const mb = (await store.mailbox(alice, 'INBOX'))!;
        await store.setFlags(mb.id, [2], 'add', ['\\Flagged', 'Work']);
        const find = async (c: SearchCriteria, maxUid = 3): Promise<number[]> => (await store.search(mb.id, c, { maxUid })).uids;
        expect(await find({ type: 'all' })).toEqual([1, 2, 3]);
        expect(await find({ type: 'all' }, 2)).toEqual([1, 2]);
        expect(await find({ type: 'flag', flag: '\\Flagged', set: true })).toEqual([2]);
        expect(await find({ type: 'flag', flag: '\\Flagged', set: false })).toEqual([1, 3]);
        expect(await find({ type: 'keyword', keyword: 'work', set: true })).toEqual([2]);
        expect(await find({ type: 'field', field: 'subject', value: 'lunch' })).toEqual([2, 3]);
        expect(await find({ type: 'field', field: 'from', value: 'alice' })).toEqual([1, 2, 3]);
        expect(await find({ type: 'header', field: 'X-Tag', value: 'BLU' })).toEqual([1]);
        expect(await find({ type: 'header', field: 'x-tag', value: '' })).toEqual([1]);
        // RFC 9051 §6.4.4: substrings, across word boundaries, case-insensitively
        expect(await find({ type: 'text', value: 'lo WO' })).toEqual([2]);
        expect(await find({ type: 'body', value: 'umber' })).toEqual([1]);
        expect(await find({ type: 'text', value: 'Quarterly' })).toEqual([1]);
        expect(await find({ type: 'body', value: 'Quarterly' })).toEqual([]);
        expect(await find({ type: 'date', of: 'internal', from: day + 86_400_000 })).toEqual([2, 3]);
        expect(await find({ type: 'date', of: 'internal', from: day, before: day + 86_400_000 })).toEqual([1]);
        expect(await find({ type: 'larger', size: 400 })).toEqual([3]);
        expect(await find({ type: 'smaller', size: 400 })).toEqual([1, 2]);
        expect(
          await find({
            type: 'uids',
            ranges: [
              [1, 1],
              [3, 9],
            ],
          }),
        ).toEqual([1, 3]);
        expect(await find({ type: 'not', criteria: { type: 'uids', ranges: [[2, 2]] } })).toEqual([1, 3]);
        expect(await find({ type: 'or', left: { type: 'uids', ranges: [[1, 1]] }, right: { type: 'flag', flag: '\\Flagged', set: true } })).toEqual([1, 2]);
        expect(
          await find({
            type: 'and',
            criteria: [
              { type: 'field', field: 'subject', value: 'lunch' },
              { type: 'not', criteria: { type: 'field', field: 'subject', value: 're:' } },
            ],
          }),
        ).toEqual([2]);
        const flagged = await store.search(mb.id, { type: 'modseq', min: mb.highestModseq + 1 }, { maxUid: 3 });
        expect(flagged.uids).toEqual([2]);
        expect(flagged.modseqs).toEqual([mb.highestModseq + 1]);
      }),
    );

    it(
      'refuses what is over the limits: quota per recipient, MULTIAPPEND all or none, a search too big',
      withStore(100, async ({ store, alice, bob }) => {
        const small = msg('small');
        const large = Buffer.alloc(200, 'a');
        const out = await store.deliver([request(alice, large), request(bob, small)]);
        expect(out.map((o) => o.ok)).toEqual([false, true]);
        expect(out[0]).toMatchObject({ ok: false, reason: 'over-quota' });
        const inbox = (await store.mailbox(alice, 'INBOX'))!;
        await expect(store.append(inbox.id, [{ content: large, index: testIndex(large) }])).rejects.toMatchObject({ code: 'OVERQUOTA' });
        const half = Buffer.alloc(60, 'b');
        await expect(
          store.append(inbox.id, [
            { content: half, index: testIndex(half) },
            { content: half, index: testIndex(half) },
          ]),
        ).rejects.toMatchObject({ code: 'OVERQUOTA' });
        expect((await store.mailboxById(inbox.id))!.messages).toBe(0);
        const appended = await store.append(inbox.id, [
          { content: small, index: testIndex(small), flags: ['\\Seen'] },
          { content: small, index: testIndex(small) },
        ]);
        expect(appended).toEqual({ uidValidity: inbox.uidValidity, uids: [1, 2] });
        let deep: SearchCriteria = { type: 'all' };
        for (let i = 0; i < 2000; i++) deep = { type: 'not', criteria: deep };
        await expect(store.search(inbox.id, deep, { maxUid: 10 })).rejects.toMatchObject({ code: 'LIMIT' });
        await expect(store.append(999_999, [{ content: small, index: testIndex(small) }])).rejects.toMatchObject({ code: 'TRYCREATE' });
      }),
    );

    it(
      'creates, renames and deletes mailboxes as RFC 9051 says',
      withStore(0, async ({ store, alice }) => {
        await store.createMailbox(alice, 'Projects/2026/Q4');
        // the parents are placeholders, only names (IMAP lists them \Noselect): no mailbox of their own
        expect(await store.mailbox(alice, 'Projects/2026')).toBeNull();
        await expect(store.createMailbox(alice, 'a//b')).rejects.toMatchObject({ code: 'CANNOT' });
        // renaming a placeholder renames what is under it
        await store.renameMailbox(alice, 'Projects', 'Old/Projects');
        expect(await store.mailbox(alice, 'Old/Projects/2026/Q4')).not.toBeNull();
        expect(await store.mailbox(alice, 'Projects/2026/Q4')).toBeNull();
        await expect(store.renameMailbox(alice, 'Projects', 'X')).rejects.toThrow(/no such mailbox/);
        // a placeholder's name can become a mailbox, once
        await store.createMailbox(alice, 'Old');
        await expect(store.createMailbox(alice, 'Old')).rejects.toThrow(/exists/);
        await store.deliver([request(alice, msg('in'))]);
        await store.renameMailbox(alice, 'INBOX', 'Saved');
        expect((await store.mailbox(alice, 'INBOX'))!.messages).toBe(0);
        expect((await store.mailbox(alice, 'Saved'))!.messages).toBe(1);
        await expect(store.deleteMailbox(alice, 'INBOX')).rejects.toThrow(/cannot/);
        await store.setSubscribed(alice, 'Saved', false);
        expect((await store.mailbox(alice, 'Saved'))!.subscribed).toBe(false);
        await store.deleteMailbox(alice, 'Saved');
        expect(await store.mailbox(alice, 'Saved')).toBeNull();
      }),
    );

    it(
      "deletes exactly the given messages (POP3's UPDATE), leaving others' \\Deleted alone",
      withStore(0, async ({ store, alice }) => {
        for (let i = 0; i < 3; i++) await store.deliver([request(alice, msg(`m${i}`))]);
        const mb = (await store.mailbox(alice, 'INBOX'))!;
        await store.setFlags(mb.id, [3], 'add', ['\\Deleted']);
        expect(await store.deleteMessages(mb.id, [1, 2])).toEqual([1, 2]);
        expect((await store.messages(mb.id)).map((m) => m.uid)).toEqual([3]);
      }),
    );

    it(
      'tells subscribers of its own commits and of commits made by another process',
      withStore(0, async ({ store, alice, otherProcess }) => {
        const mb = (await store.mailbox(alice, 'INBOX'))!;
        const seen: StoreChange[] = [];
        const stop = store.subscribe((c) => seen.push(c));
        await store.deliver([request(alice, msg('own'))]);
        expect(seen).toContainEqual({ mailboxId: mb.id });
        const other = await otherProcess();
        seen.length = 0;
        await other.deliver([request(alice, msg('theirs'))]);
        await until(() => seen.length > 0);
        const changes = await store.changesSince(mb.id, mb.highestModseq);
        expect(changes.changed.map((m) => m.uid)).toEqual([1, 2]);
        stop();
        seen.length = 0;
        await store.deliver([request(alice, msg('unheard'))]);
        expect(seen).toEqual([]);
      }),
    );
  });
}
