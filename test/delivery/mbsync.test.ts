/**
 * isync/mbsync pushes a nested Maildir folder tree into Postern over IMAP, twice. The parents
 * that CREATE makes implicitly ("Projekte" for "Projekte/Berichte 2024") are \Noselect
 * placeholders, as Dovecot makes them, so the second pass finds no empty selectable far-side
 * box it cannot match and exits 0. Deleting the last child removes the placeholder.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import { commandNeed, requirement } from '@postern/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInstance, freePort, type Instance } from '../lib/instance.js';

const missing = requirement('mbsync syncing a folder tree', [commandNeed('mbsync', 'isync')]) !== null;

let a: Instance;
let imapPort = 0;
const FOLDERS = ['Projekte/Berichte 2024', 'Projekte/Angebote', 'Archiv/2023/Q1'];

function maildir(root: string, folder: string, messages: number): void {
  const dir = join(root, folder);
  for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(dir, sub), { recursive: true });
  for (let i = 1; i <= messages; i++) {
    const body = `From: alice@a.test\r\nTo: alice@a.test\r\nSubject: ${folder} ${i}\r\nMessage-ID: <${folder.replace(/\W/g, '-')}-${i}@a.test>\r\nDate: Mon, 2 Nov 2026 10:00:00 +0000\r\n\r\nin ${folder}\r\n`;
    writeFileSync(join(dir, 'cur', `${1700000000 + i}.${i}_${folder.length}.host:2,S`), body);
  }
}

beforeAll(async () => {
  a = await createInstance({ domain: 'a.test', users: { alice: 'alice-password' } });
  imapPort = await freePort();
  await a.start({ listen: { imap: `127.0.0.1:${imapPort}` } });
});
afterAll(async () => {
  await a?.stop();
});

describe.skipIf(missing)('mbsync into Postern', () => {
  it('syncs a nested folder tree twice; the second pass exits 0 and changes nothing', async () => {
    const near = join(a.dir, 'maildir');
    maildir(near, 'INBOX', 1);
    for (const f of FOLDERS) maildir(near, f, 2);
    const rc = join(a.dir, 'mbsyncrc');
    writeFileSync(
      rc,
      [
        'IMAPAccount postern',
        'Host 127.0.0.1',
        `Port ${imapPort}`,
        'User alice@a.test',
        'Pass alice-password',
        'SSLType None',
        'AuthMechs LOGIN',
        '',
        'IMAPStore far',
        'Account postern',
        '',
        'MaildirStore near',
        `Path ${near}/`,
        `Inbox ${near}/INBOX`,
        'SubFolders Verbatim',
        '',
        'Channel tree',
        'Far :far:',
        'Near :near:',
        'Patterns *',
        'Create Both',
        'Expunge None',
        'SyncState *',
        '',
      ].join('\n'),
    );
    for (const pass of [1, 2]) {
      const r = spawnSync('mbsync', ['-c', rc, '-a'], { encoding: 'utf8', timeout: 60_000 });
      console.log(`mbsync pass ${pass}: exit ${r.status}\n${r.stdout}${r.stderr}`);
      expect(r.stderr).not.toMatch(/cannot be opened/);
      expect(r.status, `pass ${pass}`).toBe(0);
    }
    for (const f of FOLDERS) expect((await a.messages('alice@a.test', f)).map((m) => /Subject: (.*)\r\n/.exec(m.raw)?.[1])).toEqual([`${f} 1`, `${f} 2`]);
    // no mailbox was made for the parents: they are names, not folders
    const user = a.db().accounts.findUser('alice@a.test')!;
    const names = (await a.db().store.listMailboxes(user.id)).map((m) => m.name);
    expect(names).not.toContain('Projekte');
    expect(names).not.toContain('Archiv/2023');
    // and so mbsync mirrored no empty far-side parent back as a Maildir folder of its own
    expect(existsSync(join(near, 'Projekte', 'cur'))).toBe(false);
  });

  it('lists the parents \\Noselect, refuses to select them, and drops one with its last child', async () => {
    const c = new ImapFlow({
      host: '127.0.0.1',
      port: imapPort,
      secure: false,
      auth: { user: 'alice@a.test', pass: 'alice-password' },
      logger: false,
      disableAutoIdle: true,
      tls: { rejectUnauthorized: false },
    });
    await c.connect();
    try {
      await c.mailboxCreate('Alt/Nur ein Kind');
      const list = async (): Promise<Map<string, string[]>> => new Map((await c.list()).map((m) => [m.path, [...m.flags]]));
      let boxes = await list();
      expect(boxes.get('Alt')).toEqual(expect.arrayContaining(['\\Noselect', '\\HasChildren']));
      expect(boxes.get('Projekte')).toEqual(expect.arrayContaining(['\\Noselect']));
      expect(boxes.get('Alt/Nur ein Kind')).not.toContain('\\Noselect');
      await expect(c.mailboxOpen('Alt')).rejects.toThrow();
      await c.mailboxDelete('Alt/Nur ein Kind');
      boxes = await list();
      expect(boxes.has('Alt')).toBe(false);
      // CREATE of a placeholder's name makes it a real, selectable mailbox
      await c.mailboxCreate('Projekte');
      boxes = await list();
      expect(boxes.get('Projekte')).not.toContain('\\Noselect');
      expect((await c.mailboxOpen('Projekte')).path).toBe('Projekte');
    } finally {
      await c.logout();
    }
  });
});
