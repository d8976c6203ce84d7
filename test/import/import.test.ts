/**
 * Moving in: Dovecot filled with 2,000 messages (nested folders with non-ASCII names, keywords,
 * attachments, 8-bit headers, a \Sent called "Sent Items"), imported by `postern import
 * imap://`, killed with SIGKILL part way and run again: every folder, message, flag, keyword,
 * INTERNALDATE and BODY[] byte equal on both sides, nothing twice. Then the same mail out and in
 * again through Maildir and mbox (`postern export`, `postern import maildir:` / `mbox:`), and
 * Dovecot's own Maildir on disk read directly.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dovecotMissing, startDovecot, type Dovecot } from '../lib/dovecot.js';
import { createInstance, waitFor, type Instance } from '../lib/instance.js';

const missing = dovecotMissing('import from an IMAP server (Dovecot)');
const bin = fileURLToPath(new URL('../../apps/cli/bin/postern.js', import.meta.url));
const TOTAL = 2000;
const SOURCE_USER = 'old@source.test';
const SOURCE_PASS = 'source-password';
const FOLDERS = ['INBOX', 'Sent Items', 'Projekte/Berichte 2024', 'Ärger/Übersicht', 'Archiv/2023/Q1', 'Drafts'];
const TARGET = (f: string): string => (f === 'Sent Items' ? 'Sent' : f);
const KEYWORDS = ['$Forwarded', 'Projekt-X', '$Label1'];

let dovecot: Dovecot;
let a: Instance;

function message(i: number): Buffer {
  const subject = i % 3 === 0 ? `Grüße aus Köln Nr. ${i}` : `Message ${i}`;
  const head = `From: Jörg Müller <joerg@source.test>\r\nTo: old@source.test\r\nSubject: ${subject}\r\nMessage-ID: <m${i}@source.test>\r\nDate: Mon, 2 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n`;
  if (i % 7 === 0) {
    const attachment = Buffer.alloc(2000 + (i % 13) * 100, i % 251)
      .toString('base64')
      .replace(/.{76}/g, '$&\r\n');
    return Buffer.from(
      `${head}Content-Type: multipart/mixed; boundary="b${i}"\r\n\r\n--b${i}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nAnhang anbei, ${i}.\r\n--b${i}\r\nContent-Type: application/octet-stream; name="data${i}.bin"\r\nContent-Disposition: attachment; filename="data${i}.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\n${attachment}\r\n--b${i}--\r\n`,
    );
  }
  return Buffer.from(
    `${head}Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nHallo, das ist Nachricht ${i}.\r\nFrom here on a line that mbox must escape.\r\n`,
  );
}

function flagsOf(i: number): string[] {
  const f: string[] = [];
  if (i % 2 === 0) f.push('\\Seen');
  if (i % 5 === 0) f.push('\\Flagged');
  if (i % 11 === 0) f.push('\\Answered');
  if (i % 17 === 0) f.push(KEYWORDS[i % KEYWORDS.length]!);
  return f;
}

async function sourceClient(): Promise<ImapFlow> {
  const c = new ImapFlow({
    host: '127.0.0.1',
    port: dovecot.port,
    secure: false,
    auth: { user: SOURCE_USER, pass: SOURCE_PASS },
    logger: false,
    disableAutoIdle: true,
  });
  await c.connect();
  return c;
}

interface Seen {
  raw: Buffer;
  flags: string[];
  date: number;
}

const sorted = (f: Iterable<string>): string[] => [...f].filter((x) => x !== '\\Recent').sort();

async function sourceFolder(c: ImapFlow, folder: string): Promise<Seen[]> {
  await c.mailboxOpen(folder, { readOnly: true });
  const out: Seen[] = [];
  for await (const m of c.fetch('1:*', { uid: true, flags: true, internalDate: true, source: true })) {
    out.push({ raw: m.source!, flags: sorted(m.flags ?? []), date: new Date(m.internalDate!).getTime() });
  }
  return out;
}

async function ours(address: string, folder: string): Promise<Seen[]> {
  const m = a.db();
  const user = m.accounts.findUser(address)!;
  const box = await m.store.mailbox(user.id, folder);
  if (!box) return [];
  return (await m.store.messages(box.id)).map((r) => ({ raw: m.store.read(r), flags: sorted(r.flags), date: r.internalDate }));
}

async function stored(address: string): Promise<number> {
  const m = a.db();
  const user = m.accounts.findUser(address)!;
  return (await m.store.listMailboxes(user.id)).reduce((n, b) => n + b.messages, 0);
}

function postern(args: string[], input?: string): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [bin, '--config', a.configFile, ...args], { input, encoding: 'utf8', timeout: 300_000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

async function expectSame(address: string, expected: Map<string, Seen[]>, rename: (f: string) => string = TARGET): Promise<void> {
  for (const [folder, theirs] of expected) {
    const mine = await ours(address, rename(folder));
    expect(mine.length, `${address} ${folder}: count`).toBe(theirs.length);
    for (let i = 0; i < theirs.length; i++) {
      const t = theirs[i]!;
      const o = mine[i]!;
      expect(o.flags, `${folder} #${i + 1}: flags`).toEqual(t.flags);
      expect(o.date, `${folder} #${i + 1}: INTERNALDATE`).toBe(t.date);
      if (!o.raw.equals(t.raw)) expect(o.raw.toString('latin1'), `${folder} #${i + 1}: BODY[]`).toBe(t.raw.toString('latin1'));
    }
  }
}

const expected = new Map<string, Seen[]>();

beforeAll(async () => {
  if (missing) return;
  dovecot = await startDovecot({ [SOURCE_USER]: SOURCE_PASS });
  a = await createInstance({
    domain: 'a.test',
    users: { alice: 'alice-password', bob: 'bob-password', carol: 'carol-password', dave: 'dave-password', old: 'old-password' },
    apps: [],
  });
  await a.start();
  const c = await sourceClient();
  for (const f of FOLDERS) if (f !== 'INBOX' && f !== 'Sent Items' && f !== 'Drafts') await c.mailboxCreate(f);
  const base = Date.UTC(2025, 0, 1);
  for (let i = 1; i <= TOTAL; i++) {
    await c.append(FOLDERS[i % FOLDERS.length]!, message(i), flagsOf(i), new Date(base + i * 61_000));
  }
  for (const f of FOLDERS) expected.set(f, await sourceFolder(c, f));
  await c.logout();
}, 600_000);

afterAll(async () => {
  await a?.stop();
  await dovecot?.stop();
});

describe.skipIf(missing)('postern import imap://', () => {
  it('lists what would move with --dry-run, moving nothing', async () => {
    const r = postern(
      [
        'import',
        `imap://${encodeURIComponent(SOURCE_USER)}@127.0.0.1:${dovecot.port}`,
        '--user',
        'alice@a.test',
        '--tls',
        'none',
        '--dry-run',
        '--password-stdin',
      ],
      `${SOURCE_PASS}\n`,
    );
    expect(r.err).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`would import ${TOTAL} messages`);
    expect(await stored('alice@a.test')).toBe(0);
  });

  it('survives SIGKILL part way: run again, every message is there once, equal to the source', async () => {
    const args = [
      bin,
      '--config',
      a.configFile,
      'import',
      `imap://${encodeURIComponent(SOURCE_USER)}@127.0.0.1:${dovecot.port}`,
      '--user',
      'alice@a.test',
      '--tls',
      'none',
      '--password-stdin',
    ];
    const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdin.end(`${SOURCE_PASS}\n`);
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    let done = false;
    void exited.then(() => {
      done = true;
    });
    // kill -9 once a few batches are in, wherever the import is then
    await waitFor(async () => done || (await stored('alice@a.test')) >= 400, 120_000, 'the import to store 400 messages', 5);
    child.kill('SIGKILL');
    await exited;
    const before = await stored('alice@a.test');
    console.log(`killed with ${before} of ${TOTAL} messages stored`);
    if (before >= TOTAL) console.warn('the import finished before the kill: the resume below had nothing left to do');
    const again = postern(args.slice(3), `${SOURCE_PASS}\n`);
    expect(again.err + err).not.toMatch(/unexpected error/);
    expect(again.code).toBe(0);
    expect(await stored('alice@a.test')).toBe(TOTAL);
    await expectSame('alice@a.test', expected);
    // run once more: nothing new, nothing twice
    const third = postern(args.slice(3), `${SOURCE_PASS}\n`);
    expect(third.code).toBe(0);
    expect(third.out).toContain('imported 0 messages');
    expect(await stored('alice@a.test')).toBe(TOTAL);
    // the source's \Sent is our Sent, and the hierarchy came along
    const user = a.db().accounts.findUser('alice@a.test')!;
    const boxes = await a.db().store.listMailboxes(user.id);
    expect(boxes.find((b) => b.name === 'Sent')?.messages).toBe(expected.get('Sent Items')!.length);
    expect(boxes.map((b) => b.name)).not.toContain('Sent Items');
    expect(boxes.map((b) => b.name)).toEqual(expect.arrayContaining(['Projekte/Berichte 2024', 'Ärger/Übersicht', 'Archiv/2023/Q1']));
  }, 600_000);

  it('a wrong source password is one clear line', () => {
    const r = postern(
      ['import', `imap://${encodeURIComponent(SOURCE_USER)}@127.0.0.1:${dovecot.port}`, '--user', 'bob@a.test', '--tls', 'none', '--password-stdin'],
      'wrong\n',
    );
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/refused the login/);
  });
});

describe.skipIf(missing)('Maildir and mbox, out and in', () => {
  it('exports Maildir++ and imports it into another user: every byte and flag kept', async () => {
    const dir = join(a.dir, 'export-maildir');
    const out = postern(['export', 'alice@a.test', '--format', 'maildir', dir]);
    expect(out.err).toContain('INBOX: done, 333 messages');
    expect(out.code).toBe(0);
    const r = postern(['import', `maildir:${dir}`, '--user', 'bob@a.test']);
    expect(r.code).toBe(0);
    await expectSame('bob@a.test', expected);
    // resumable like any source: a second run stores nothing
    expect(postern(['import', `maildir:${dir}`, '--user', 'bob@a.test']).out).toContain('imported 0 messages');
  }, 300_000);

  it('exports mbox files and imports the tree into another user: every byte and flag kept', async () => {
    const dir = join(a.dir, 'export-mbox');
    expect(postern(['export', 'alice@a.test', '--format', 'mbox', dir]).code).toBe(0);
    // a body line "From here on" is escaped in the file, unescaped on the way in
    expect(readFileSync(join(dir, 'INBOX.mbox'), 'latin1')).toContain('\n>From here on');
    const r = postern(['import', `mbox:${dir}`, '--user', 'carol@a.test']);
    expect(r.code).toBe(0);
    await expectSame('carol@a.test', expected);
  }, 300_000);

  it("reads Dovecot's own Maildir on disk (Maildir++, modified UTF-7 names, dovecot-keywords)", async () => {
    const r = postern(['import', `maildir:${dovecot.maildir(SOURCE_USER)}`, '--user', 'dave@a.test']);
    expect(r.code).toBe(0);
    // on disk Dovecot's \Sent is only a name: "Sent Items" stays "Sent Items"
    await expectSame('dave@a.test', expected, (f) => f);
  }, 300_000);
});
