/**
 * `postern mail` as a user types it, through the built binary (`node apps/cli/bin/postern.js`):
 * send with an attachment (body on standard input), list, read, search, the Sent copy, and the
 * refusals. Against a running Postern instance (configured listeners), and against Dovecot
 * (explicit --imap/--smtp) where it is installed.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../lib/instance.js';
import { sendAs, type Backend } from './lib/backend.js';
import { dovecotAvailable, dovecotBackend } from './lib/dovecot.js';
import { posternBackend } from './lib/postern.js';

const bin = fileURLToPath(new URL('../../apps/cli/bin/postern.js', import.meta.url));

interface Result {
  code: number;
  out: string;
  err: string;
}

/** Runs the binary without blocking this process (a test server may live in it). */
function postern(args: string[], opts: { input?: string; env?: Record<string, string> } = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      env: { ...process.env, POSTERN_PASSWORD: '', POSTERN_USER: '', ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, out, err });
    });
    child.stdin.end(opts.input ?? '');
  });
}

interface JsonRow {
  uid: number;
  from: string;
  subject: string;
  flags: string[];
  attachments: boolean;
}

function suite(name: string, make: () => Promise<Backend & { instance?: { configFile: string } }>, enabled: boolean): void {
  describe.skipIf(!enabled)(`postern mail against ${name}`, () => {
    let b: Backend & { instance?: { configFile: string } };
    let dir: string;
    let where: string[];
    const tag = Math.random().toString(36).slice(2, 8);

    beforeAll(async () => {
      b = await make();
      dir = mkdtempSync(join(tmpdir(), 'postern-mail-cli-'));
      // Against Postern: the configured listeners; against Dovecot: explicit endpoints.
      where = b.instance
        ? ['--config', b.instance.configFile, 'mail', '--user', b.me.address]
        : ['mail', '--user', b.me.address, '--imap', `${b.imap.host}:${b.imap.port}`, '--smtp', `${b.smtp.host}:${b.smtp.port}`];
    });
    afterAll(async () => {
      await b?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    const list = async (folder = 'INBOX'): Promise<JsonRow[]> => {
      const r = await postern([...where, 'list', folder, '--json'], { env: { POSTERN_PASSWORD: b.me.password } });
      expect(r.err).toBe('');
      return JSON.parse(r.out) as JsonRow[];
    };

    it('sends with an attachment, the body on standard input after the password', async () => {
      const file = join(dir, 'notes.txt');
      writeFileSync(file, `attached ${tag}\n`);
      const r = await postern([...where, '--password-stdin', 'send', '--to', b.me.address, '--subject', `CLI hello ${tag}`, '--attach', file], {
        input: `${b.me.password}\nFirst line ${tag}\nSecond line\n`,
      });
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      expect(r.out).toMatch(new RegExp(`^sent <[^>]+> to ${b.me.address.replace('.', '\\.')}\\n$`));
      const row = await waitFor(async () => (await list()).find((m) => m.subject === `CLI hello ${tag}`), 30_000, 'the message in INBOX');
      expect(row).toMatchObject({ from: b.me.address, attachments: true });
      expect(row.flags).not.toContain('\\Seen');
      expect((await list('Sent')).map((m) => m.subject)).toContain(`CLI hello ${tag}`);
    });

    it('lists as a table and reads a message, marking it read', async () => {
      const table = await postern([...where, 'list'], { env: { POSTERN_PASSWORD: b.me.password } });
      expect(table.code).toBe(0);
      expect(table.out.split('\n')[0]).toMatch(/^UID\s+DATE\s+FROM\s+SUBJECT\s+SIZE\s+FLAGS$/);
      expect(table.out).toContain(`[@] CLI hello ${tag}`);
      const uid = (await list()).find((m) => m.subject === `CLI hello ${tag}`)!.uid;
      const r = await postern([...where, 'read', String(uid)], { env: { POSTERN_PASSWORD: b.me.password } });
      expect(r.err).toBe('');
      expect(r.out).toContain(`Subject: CLI hello ${tag}`);
      expect(r.out).toContain(`From:    ${b.me.address}`);
      expect(r.out).toContain(`First line ${tag}\nSecond line`);
      expect(r.out).toMatch(/Attachment: notes\.txt \(text\/plain, \d+ bytes/);
      expect((await list()).find((m) => m.uid === uid)!.flags).toContain('\\Seen');
      const raw = await postern([...where, 'read', String(uid), 'INBOX', '--raw'], { env: { POSTERN_PASSWORD: b.me.password } });
      expect(raw.out).toMatch(/^Message-ID: <[^>]+>\r$/im);
      expect(raw.out).toContain(Buffer.from(`attached ${tag}\n`).toString('base64'));
    });

    it('searches sender, subject and text', async () => {
      await sendAs(
        b,
        b.other,
        b.me.address,
        `From: ${b.other.address}\r\nTo: ${b.me.address}\r\nSubject: Lunch plans\r\n\r\nShall we meet at the harbour-${tag}?\r\n`,
      );
      await waitFor(async () => (await list()).some((m) => m.subject === 'Lunch plans'), 30_000, 'the second message');
      const search = async (q: string): Promise<string[]> => {
        const r = await postern([...where, 'search', q, '--json'], { env: { POSTERN_PASSWORD: b.me.password } });
        expect(r.code).toBe(0);
        return (JSON.parse(r.out) as JsonRow[]).map((m) => m.subject);
      };
      expect(await search(`harbour-${tag}`)).toEqual(['Lunch plans']);
      expect(await search(b.other.address)).toEqual(['Lunch plans']);
      expect(await search(`CLI hello ${tag}`)).toEqual([`CLI hello ${tag}`]);
      expect(await search(`absent-${tag}`)).toEqual([]);
    });

    it('keeps escape sequences in a message away from the terminal', async () => {
      const esc = '\u001b[2J\u001b]0;pwned\u0007';
      await sendAs(
        b,
        b.other,
        b.me.address,
        `From: ${b.other.address}\r\nTo: ${b.me.address}\r\nSubject: =?utf-8?b?${Buffer.from(`Bell ${esc} ${tag}`).toString('base64')}?=\r\n\r\nText ${esc} here\r\n`,
      );
      const row = await waitFor(async () => (await list()).find((m) => m.subject.startsWith('Bell')), 30_000, 'the escape message');
      expect(row.subject).not.toMatch(/[\u0000-\u001f]/);
      const r = await postern([...where, 'read', String(row.uid)], { env: { POSTERN_PASSWORD: b.me.password } });
      expect(r.out).not.toMatch(/[\u0000-\u0009\u000b-\u001f]/);
      expect(r.out).toContain('Text [2J]0;pwned here');
    });

    it('refuses a wrong password and says so', async () => {
      const r = await postern([...where, '--password-stdin', 'list'], { input: 'not-the-password\n' });
      expect(r.code).toBe(77);
      expect(r.err).toMatch(/refused the login/);
      const none = await postern([...where.filter((a) => a !== '--user' && a !== b.me.address), 'list']);
      expect(none.code).toBe(1);
      expect(none.err).toMatch(/--user ADDRESS/);
    });

    it('reports a message too big for the server, and sends nothing', async () => {
      const file = join(dir, 'big.bin');
      writeFileSync(file, Buffer.alloc(Math.floor(b.messageSize * 0.9), 7));
      const r = await postern([...where, 'send', '--to', b.me.address, '--subject', `Big ${tag}`, '--attach', file, '--body', 'x'], {
        env: { POSTERN_PASSWORD: b.me.password },
      });
      expect(r.code).toBe(75);
      expect(r.err).toMatch(/too big/);
      expect(r.out).toBe('');
    });

    it('reports a recipient the server refuses', async (t) => {
      if (!b.refusesUnknownRecipients) return t.skip();
      const domain = b.me.address.split('@')[1]!;
      const r = await postern([...where, 'send', '--to', `nobody-${tag}@${domain}`, '--subject', 'x', '--body', 'x', '--no-save'], {
        env: { POSTERN_PASSWORD: b.me.password },
      });
      expect(r.code).not.toBe(0);
      expect(r.err).toContain(`nobody-${tag}@${domain}`);
    });
  });
}

suite('Postern', () => posternBackend(), true);
suite('Dovecot (interop)', () => dovecotBackend(), dovecotAvailable('postern mail against Dovecot'));
