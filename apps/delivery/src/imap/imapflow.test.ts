/**
 * imapflow (a strict real client) across everything it does: list, status, mailbox
 * create/rename/delete, fetch of envelopes, body structure, parts and sources, search, flags,
 * copy, move, append, expunge, and IDLE with a delivery arriving meanwhile.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImapFlow } from 'imapflow';
import { createFixture, flow, message, type Fixture } from './__tests__/fixture.js';
import type { ImapServer } from './index.js';

const ALICE = 'alice@example.test';
const BOB = 'bob@example.test';

let fx: Fixture;
let server: ImapServer;

const MULTIPART =
  'From: Carol <carol@example.org>\r\n' +
  'To: alice@example.test\r\n' +
  'Subject: =?UTF-8?Q?Caf=C3=A9?= report\r\n' +
  'Date: Tue, 2 Jan 2024 09:00:00 +0000\r\n' +
  'MIME-Version: 1.0\r\n' +
  'Content-Type: multipart/mixed; boundary="XX"\r\n' +
  '\r\n' +
  '--XX\r\n' +
  'Content-Type: text/plain; charset=utf-8\r\n' +
  '\r\n' +
  'The quarterly numbers are attached.\r\n' +
  '--XX\r\n' +
  'Content-Type: application/octet-stream; name="data.bin"\r\n' +
  'Content-Disposition: attachment; filename="data.bin"\r\n' +
  'Content-Transfer-Encoding: base64\r\n' +
  '\r\n' +
  'AAECAwQF\r\n' +
  '--XX--\r\n';

beforeAll(async () => {
  fx = await createFixture([ALICE, BOB]);
  server = await fx.start();
  for (let i = 1; i <= 5; i++) await fx.deliver(ALICE, message(i), undefined, 'Return-Path: <sender@example.org>\r\n');
  await fx.deliver(ALICE, MULTIPART);
});

afterAll(async () => {
  await fx.cleanup();
});

async function withClient<T>(user: string, run: (c: ImapFlow) => Promise<T>): Promise<T> {
  const c = await flow(server.port, user);
  try {
    return await run(c);
  } finally {
    await c.logout().catch(() => undefined);
  }
}

describe('imapflow', () => {
  it('logs in over STARTTLS and lists mailboxes with special-use flags', async () => {
    await withClient(ALICE, async (c) => {
      expect(c.capabilities.has('IDLE')).toBe(true);
      expect(c.capabilities.has('MOVE')).toBe(true);
      const list = await c.list();
      const names = list.map((m) => m.path).sort();
      expect(names).toEqual(['Archive', 'Drafts', 'INBOX', 'Junk', 'Sent', 'Trash']);
      expect(list.find((m) => m.path === 'Sent')?.specialUse).toBe('\\Sent');
      expect(list.find((m) => m.path === 'Trash')?.specialUse).toBe('\\Trash');
      const status = await c.status('INBOX', { messages: true, unseen: true, uidNext: true, uidValidity: true, highestModseq: true });
      expect(status).toMatchObject({ messages: 6, unseen: 6, uidNext: 7 });
    });
  });

  it('fetches envelopes, body structure, parts and whole sources', async () => {
    await withClient(ALICE, async (c) => {
      const lock = await c.getMailboxLock('INBOX');
      try {
        expect(c.mailbox && c.mailbox.exists).toBe(6);
        const all = [];
        for await (const m of c.fetch('1:*', { envelope: true, uid: true, flags: true, size: true, internalDate: true, bodyStructure: true })) all.push(m);
        expect(all).toHaveLength(6);
        expect(all[0]?.envelope?.subject).toBe('Message 1');
        expect(all[0]?.envelope?.from?.[0]?.address).toBe('sender1@example.org');
        expect(all[5]?.envelope?.subject).toBe('Café report');
        expect(all[5]?.bodyStructure?.childNodes?.length).toBe(2);
        expect(all[5]?.bodyStructure?.childNodes?.[1]?.disposition).toBe('attachment');
        const prefix = 'Return-Path: <sender@example.org>\r\n';
        const one = await c.fetchOne('1', { source: true, headers: ['subject'] });
        expect(one && one.source?.toString()).toBe(prefix + message(1));
        expect(one && one.size === undefined).toBe(true);
        expect(one && one.headers?.toString()).toBe('Subject: Message 1\r\n\r\n');
        const part = await c.download('6', '2');
        const chunks: Buffer[] = [];
        for await (const ch of part.content ?? []) chunks.push(ch as Buffer);
        expect(Buffer.concat(chunks)).toEqual(Buffer.from([0, 1, 2, 3, 4, 5]));
        const text = await c.fetchOne('6', { bodyParts: ['1', '1.mime'] });
        expect(text && text.bodyParts?.get('1')?.toString()).toBe('The quarterly numbers are attached.');
        expect(text && text.bodyParts?.get('1.mime')?.toString()).toContain('Content-Type: text/plain; charset=utf-8');
        // imapflow fetches with BODY.PEEK: nothing was marked \Seen.
        const flags = await c.fetchOne('1', { flags: true });
        expect(flags && [...(flags.flags ?? [])]).toEqual([]);
      } finally {
        lock.release();
      }
    });
  });

  it('searches headers, text, flags and UIDs', async () => {
    await withClient(ALICE, async (c) => {
      const lock = await c.getMailboxLock('INBOX');
      try {
        expect(await c.search({ subject: 'message 3' })).toEqual([3]);
        expect(await c.search({ from: 'sender2@example.org' })).toEqual([2]);
        expect(await c.search({ body: 'quarterly' })).toEqual([6]);
        expect(await c.search({ text: 'quarter' })).toEqual([6]);
        await c.messageFlagsAdd('1', ['\\Seen']);
        expect(await c.search({ seen: true })).toEqual([1]);
        expect(await c.search({ seen: false }, { uid: true })).toEqual([2, 3, 4, 5, 6]);
        expect(await c.search({ header: { 'message-id': '<m4@example.org>' } })).toEqual([4]);
        expect(await c.search({ header: { 'return-path': 'sender@example.org' } })).toEqual([1, 2, 3, 4, 5]);
        expect(await c.search({ or: [{ subject: 'Message 1' }, { larger: 400 }] })).toEqual([1, 6]);
        expect(await c.search({ sentSince: new Date('2024-01-02T00:00:00Z') })).toEqual([6]);
      } finally {
        lock.release();
      }
    });
  });

  it('changes flags, copies, moves, expunges and appends', async () => {
    await withClient(ALICE, async (c) => {
      await c.mailboxCreate('Projects/2024');
      const lock = await c.getMailboxLock('INBOX');
      try {
        expect(await c.messageFlagsAdd('2:3', ['\\Flagged', '$Important'])).toBe(true);
        const f = await c.fetchOne('2', { flags: true });
        expect(f && [...(f.flags ?? [])].sort()).toEqual(['$Important', '\\Flagged']);
        await c.messageFlagsRemove('3', ['\\Flagged']);
        expect(await c.search({ flagged: true })).toEqual([2]);
        expect(await c.search({ keyword: '$important' })).toEqual([2, 3]);
        const copied = await c.messageCopy('1:2', 'Projects/2024');
        expect(copied && copied.uidMap?.size).toBe(2);
        const moved = await c.messageMove('3', 'Archive');
        expect(moved && [...(moved.uidMap?.entries() ?? [])]).toEqual([[3, 1]]);
        expect(c.mailbox && c.mailbox.exists).toBe(5);
        await c.messageFlagsAdd('1', ['\\Deleted']);
        await c.messageDelete('2', { uid: false });
        expect(c.mailbox && c.mailbox.exists).toBe(3);
      } finally {
        lock.release();
      }
      const appended = await c.append('Drafts', message(99, { subject: 'Draft' }), ['\\Draft', '\\Seen'], new Date('2024-03-04T05:06:07Z'));
      expect(appended && appended.uid).toBe(1);
      const st = await c.status('Projects/2024', { messages: true });
      expect(st).toMatchObject({ messages: 2 });
      const drafts = await c.getMailboxLock('Drafts');
      try {
        const d = await c.fetchOne('1', { flags: true, internalDate: true, envelope: true });
        expect(d && [...(d.flags ?? [])].sort()).toEqual(['\\Draft', '\\Seen']);
        expect(d && (d.internalDate as Date).toISOString()).toBe('2024-03-04T05:06:07.000Z');
        expect(d && d.envelope?.subject).toBe('Draft');
      } finally {
        drafts.release();
      }
    });
  });

  it('creates, renames and deletes mailboxes', async () => {
    await withClient(BOB, async (c) => {
      await c.mailboxCreate(['Lists', 'Node']);
      await c.mailboxRename('Lists/Node', 'Lists/Nodejs');
      let names = (await c.list()).map((m) => m.path);
      expect(names).toContain('Lists/Nodejs');
      expect(names).not.toContain('Lists/Node');
      expect((await c.mailboxCreate('INBOX')).created).toBe(false);
      await c.mailboxDelete('Lists/Nodejs');
      names = (await c.list()).map((m) => m.path);
      expect(names).not.toContain('Lists/Nodejs');
      const unicode = await c.mailboxCreate('Reçus');
      expect(unicode.path).toBe('Reçus');
      expect((await c.list()).map((m) => m.path)).toContain('Reçus');
    });
  });

  it('wakes from IDLE when a message is delivered', async () => {
    await withClient(BOB, async (c) => {
      await c.mailboxOpen('INBOX');
      const exists = new Promise<number>((resolve) => c.on('exists', (d: { count: number }) => resolve(d.count)));
      // imapflow would enter IDLE by itself after 15 s; ask for it now.
      void c.idle();
      await new Promise((r) => setTimeout(r, 200));
      await fx.deliver(BOB, message(7));
      expect(await exists).toBe(1);
    });
  });
});
