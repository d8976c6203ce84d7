/**
 * The `postern` command as a user runs it: through the built binary, in a fresh directory.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import nodemailer from 'nodemailer';
import { afterAll, describe, expect, it } from 'vitest';

const bin = fileURLToPath(new URL('../../apps/cli/bin/postern.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'postern-cli-'));
const config = join(dir, 'postern.toml');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function postern(args: string[], input?: string): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [bin, '--config', config, ...args], { input, encoding: 'utf8', cwd: dir, timeout: 30_000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

describe('postern (the built binary)', () => {
  it('initialises a development setup', () => {
    const r = postern(['init', '--dev', '--domain', 'example.test']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const text = readFileSync(config, 'utf8');
    expect(text).toContain('hostname = "mail.example.test"');
    expect(text).toContain('lmtp = "127.0.0.1:2424"');
    expect(postern(['init', '--dev']).code).not.toBe(0); // does not overwrite
    expect(JSON.parse(postern(['domain', 'list', '--json']).out)).toEqual([{ domain: 'example.test', catch_all: null }]);
  });

  it('manages users and aliases, JSON on request, errors on stderr', () => {
    expect(postern(['user', 'add', 'alice@example.test', '--password-stdin'], 'correct horse\n')).toMatchObject({ code: 0 });
    expect(postern(['user', 'add', 'bob@example.test', '--password-stdin'], 'battery staple\n')).toMatchObject({ code: 0 });
    const dup = postern(['user', 'add', 'alice@example.test', '--password-stdin'], 'correct horse\n');
    expect(dup.code).toBe(1);
    expect(dup.err).toMatch(/exists already/);
    const foreign = postern(['user', 'add', 'carol@elsewhere.test', '--password-stdin'], 'correct horse\n');
    expect(foreign.code).toBe(1);
    expect(foreign.err).toMatch(/not local/);
    expect(postern(['user', 'add', 'dave@example.test', '--password-stdin'], 'short\n').err).toMatch(/8 characters/);
    expect(JSON.parse(postern(['user', 'list', '--json']).out).map((u: { address: string }) => u.address)).toEqual(['alice@example.test', 'bob@example.test']);
    expect(postern(['alias', 'add', 'team@example.test', 'alice@example.test', 'bob@example.test']).code).toBe(0);
    expect(JSON.parse(postern(['alias', 'list', '--json']).out)).toEqual([
      { address: 'team@example.test', targets: ['alice@example.test', 'bob@example.test'] },
    ]);
    expect(postern(['user', 'passwd', 'bob@example.test', '--password-stdin'], 'a new password\n').code).toBe(0);
    const table = postern(['user', 'list']).out;
    expect(table.split('\n')[0]).toMatch(/^ADDRESS\s+MESSAGES\s+BYTES$/);
    expect(postern(['frobnicate']).code).not.toBe(0);
  });

  it('manages Sieve scripts: put checks first, list, get, activate, delete', () => {
    writeFileSync(join(dir, 'bad.sieve'), 'require "fileinto";\nfileinto "a"\n');
    const bad = postern(['sieve', 'put', 'alice@example.test', 'main', join(dir, 'bad.sieve')]);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('line 3, column 1: expected ";" or "{" after the command "fileinto"');
    const script = 'require "fileinto";\nif header :contains "subject" "[dev]" { fileinto "Dev"; }\n';
    expect(postern(['sieve', 'put', 'alice@example.test', 'main', '-', '--activate'], script)).toMatchObject({
      code: 0,
      out: 'stored main for alice@example.test (active)\n',
    });
    const list = JSON.parse(postern(['sieve', 'list', 'alice@example.test', '--json']).out);
    expect(list).toMatchObject([{ name: 'main', active: 'yes', size: script.length, last_error: '' }]);
    expect(postern(['sieve', 'get', 'alice@example.test', 'main']).out).toBe(script);
    expect(postern(['sieve', 'delete', 'alice@example.test', 'main'])).toMatchObject({ code: 1 });
    expect(postern(['sieve', 'deactivate', 'alice@example.test']).code).toBe(0);
    expect(postern(['sieve', 'delete', 'alice@example.test', 'main']).code).toBe(0);
    expect(postern(['sieve', 'get', 'alice@example.test', 'main'])).toMatchObject({ code: 1, err: expect.stringContaining('has no script main') });
  });

  it('refuses a bad config with the file, the key and what was expected', () => {
    const bad = join(dir, 'bad.toml');
    writeFileSync(bad, 'hostname = "mail.example.test"\n[limits]\nmessage_size = -5\n');
    const r = spawnSync(process.execPath, [bin, '--config', bad, 'domain', 'list'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`${bad}: limits.message_size: expected a positive integer (bytes), found number -5`);
  });

  it('starts the stack, shows stored mail, and stops on SIGTERM', async () => {
    // Move every listener to a free port so the test never collides with a running `npm start`.
    let text = readFileSync(config, 'utf8');
    const ports: Record<string, number> = {};
    for (const key of ['smtp', 'submission', 'submissions', 'lmtp', 'imap', 'imaps', 'pop3', 'pop3s', 'webmail']) {
      ports[key] = await freePort();
      text = text.replace(new RegExp(`^${key} = "127\\.0\\.0\\.1:\\d+"`, 'm'), `${key} = "127.0.0.1:${ports[key]}"`);
    }
    writeFileSync(config, text);
    const child = spawn(process.execPath, [bin, '--config', config, 'start'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    try {
      // bounded wait: the summary comes once every app is listening
      for (let i = 0; i < 400 && !/Postern is running/.test(out); i++) await new Promise((r) => setTimeout(r, 100));
      expect(out).toMatch(/Postern is running/);
      expect(out).toContain(`127.0.0.1:${ports['imap']}`);
      const info = await nodemailer.createTransport({ host: '127.0.0.1', port: ports['lmtp']!, lmtp: true }).sendMail({
        envelope: { from: 'x@remote.test', to: ['team@example.test'] },
        raw: 'From: X <x@remote.test>\r\nSubject: hello there\r\nDate: Mon, 2 Nov 2026 10:00:00 +0000\r\n\r\nbody\r\n',
      });
      expect(info.accepted).toEqual(['team@example.test']);
      const ls = postern(['mailbox', 'ls', 'bob@example.test', '--json']);
      expect(ls.code).toBe(0);
      const rows = JSON.parse(ls.out) as Array<Record<string, unknown>>;
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ uid: 1, from: 'X <x@remote.test>', subject: 'hello there', flags: [] });
      expect(typeof rows[0]!['date']).toBe('string');
      expect(rows[0]!['size']).toBeGreaterThan(50);
      const cat = postern(['mailbox', 'cat', 'bob@example.test', '1']);
      expect(cat.out).toBe(
        'Return-Path: <x@remote.test>\r\nDelivered-To: team@example.test\r\nFrom: X <x@remote.test>\r\nSubject: hello there\r\nDate: Mon, 2 Nov 2026 10:00:00 +0000\r\n\r\nbody\r\n',
      );
      expect(postern(['mailbox', 'cat', 'bob@example.test', '99']).err).toMatch(/no message with UID 99/);
      expect(postern(['mailbox', 'ls', 'bob@example.test', 'Nope']).code).toBe(1);
    } finally {
      child.kill('SIGTERM');
      const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
      expect(code).toBe(0);
      expect(out).toMatch(/stopping/);
    }
  });
});
