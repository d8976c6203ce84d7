/**
 * `postern backup` while mail arrives on port 25, `postern restore` into a new directory:
 * every message that got its 250 before the backup began is there, under the same UIDVALIDITY
 * and UID, and both databases pass PRAGMA integrity_check. An encrypted backup refuses a wrong
 * passphrase in one clear line; a full restore refuses a data directory that has mail; a
 * selective restore puts deleted messages back into the live mailbox, once.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import nodemailer from 'nodemailer';
import { integrityCheck, loadConfig, openMailDb } from '@postern/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInstance, type Instance } from '../lib/instance.js';

const bin = fileURLToPath(new URL('../../apps/cli/bin/postern.js', import.meta.url));
let a: Instance;
const elsewhere = mkdtempSync(join(tmpdir(), 'postern-restore-'));

function postern(config: string, args: string[], env: Record<string, string> = {}): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [bin, '--config', config, ...args], { encoding: 'utf8', timeout: 300_000, env: { ...process.env, ...env } });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

function run(config: string, args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, [bin, '--config', config, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  return new Promise((r) => child.once('exit', (code) => r({ code, out, err })));
}

beforeAll(async () => {
  a = await createInstance({ domain: 'b.test', users: { alice: 'alice-password', bob: 'bob-password' } });
  await a.start();
}, 120_000);
afterAll(async () => {
  await a?.stop();
  rmSync(elsewhere, { recursive: true, force: true });
});

/** Sends to port 25 until stopped; `acked` lists each Message-ID whose 250 arrived, in order. */
function load(): { acked: string[]; stop(): Promise<void> } {
  const acked: string[] = [];
  let stopping = false;
  const t = nodemailer.createTransport({ host: '127.0.0.1', port: a.ports.smtp, ignoreTLS: true, pool: true, maxConnections: 2 });
  const worker = async (w: number): Promise<void> => {
    for (let i = 0; !stopping; i++) {
      const id = `<load-${w}-${i}@outside.test>`;
      await t.sendMail({
        envelope: { from: 'sender@outside.test', to: [i % 4 === 0 ? 'bob@b.test' : 'alice@b.test'] },
        raw: `From: sender@outside.test\r\nTo: alice@b.test\r\nSubject: Load ${w}-${i}\r\nMessage-ID: ${id}\r\nDate: Mon, 2 Nov 2026 10:00:00 +0000\r\n\r\nbody ${i}\r\n`,
      });
      acked.push(id);
    }
  };
  const workers = [worker(0), worker(1)];
  return {
    acked,
    async stop() {
      stopping = true;
      await Promise.all(workers);
      t.close();
    },
  };
}

describe('postern backup and restore', () => {
  const plain = join(elsewhere, 'plain.tar.gz');
  const secret = join(elsewhere, 'secret.tar.gz.enc');
  let ackedBefore: string[] = [];

  it('takes a plain and an encrypted backup while mail arrives', async () => {
    const l = load();
    while (l.acked.length < 60) await new Promise((r) => setTimeout(r, 20));
    ackedBefore = [...l.acked];
    const backup = await run(a.configFile, ['backup', '--to', plain]);
    writeFileSync(join(elsewhere, 'pass'), 'correct horse battery\n');
    const encrypted = await run(a.configFile, ['backup', '--to', secret, '--passphrase-file', join(elsewhere, 'pass')]);
    await l.stop();
    console.log(`${ackedBefore.length} messages acknowledged before the backup, ${l.acked.length} in all`);
    expect(backup.err).not.toMatch(/error/i);
    expect(backup.code).toBe(0);
    expect(backup.out).toContain(plain);
    expect(encrypted.code).toBe(0);
    expect(encrypted.out).toContain('encrypted');
  }, 300_000);

  it('refuses a wrong passphrase clearly, and a damaged file', () => {
    writeFileSync(join(elsewhere, 'wrong'), 'not the passphrase\n');
    const r = postern(join(elsewhere, 'never', 'postern.toml'), ['restore', secret, '--passphrase-file', join(elsewhere, 'wrong')]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/wrong passphrase/);
    const none = postern(join(elsewhere, 'never', 'postern.toml'), ['restore', secret], { POSTERN_BACKUP_PASSPHRASE: '' });
    expect(none.code).toBe(1);
    expect(none.err).toMatch(/passphrase/);
    // one byte changed in the middle: the GCM tag says so, and nothing is restored
    const bytes = readFileSync(secret);
    bytes[Math.floor(bytes.length / 2)]! ^= 0x55;
    writeFileSync(join(elsewhere, 'damaged.enc'), bytes);
    const damaged = postern(join(elsewhere, 'damaged', 'postern.toml'), [
      'restore',
      join(elsewhere, 'damaged.enc'),
      '--passphrase-file',
      join(elsewhere, 'pass'),
    ]);
    expect(damaged.code).toBe(1);
    expect(damaged.err).toMatch(/damaged|not a readable/);
    expect(readdirSync(join(elsewhere, 'damaged'))).toEqual([]);
  });

  it('restores into an empty directory: every message acknowledged before the backup, same UIDs, integrity ok', async () => {
    for (const [name, file, extra] of [
      ['plain', plain, [] as string[]],
      ['encrypted', secret, ['--passphrase-file', join(elsewhere, 'pass')]],
    ] as const) {
      const config = join(elsewhere, name, 'postern.toml');
      const r = postern(config, ['restore', file, ...extra]);
      expect(r.err).not.toMatch(/error/i);
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/integrity check ok/);
      const restored = loadConfig(config);
      expect(integrityCheck(join(restored.dataDir, 'mail.db'))).toBe('ok');
      expect(integrityCheck(join(restored.dataDir, 'queue.db'))).toBe('ok');
      const m = openMailDb(restored);
      try {
        const ids = new Map<string, number>();
        let uidValidity = 0;
        for (const who of ['alice@b.test', 'bob@b.test']) {
          const user = m.accounts.findUser(who)!;
          const box = (await m.store.mailbox(user.id, 'INBOX'))!;
          if (who === 'alice@b.test') uidValidity = box.uidValidity;
          for (const msg of await m.store.messages(box.id)) {
            const id = /Message-ID: (<[^>]+>)/i.exec(m.store.read(msg).toString())?.[1];
            if (id) ids.set(id, msg.uid);
          }
        }
        const missing = ackedBefore.filter((id) => !ids.has(id));
        expect(missing, `${name}: acknowledged before the backup, not restored`).toEqual([]);
        // the same UIDVALIDITY and UIDs as the live server: clients do not download again
        const live = a.db();
        const liveBox = (await live.store.mailbox(live.accounts.findUser('alice@b.test')!.id, 'INBOX'))!;
        expect(uidValidity).toBe(liveBox.uidValidity);
        for (const msg of await live.store.messages(liveBox.id)) {
          const id = /Message-ID: (<[^>]+>)/i.exec(live.store.read(msg).toString())?.[1];
          if (id && ids.has(id)) expect(ids.get(id)).toBe(msg.uid);
        }
      } finally {
        m.close();
      }
      // a second full restore finds mail there and refuses
      const again = postern(config, ['restore', file, ...extra]);
      expect(again.code).toBe(1);
      expect(again.err).toMatch(/empty data directory/);
    }
  });

  it('puts deleted messages back into the live mailbox (--user --search), once', async () => {
    const m = a.db();
    const user = m.accounts.findUser('alice@b.test')!;
    const box = (await m.store.mailbox(user.id, 'INBOX'))!;
    const doomed = (await m.store.messages(box.id)).filter((msg) => /Subject: Load 0-(1|2|3)\r\n/.test(m.store.read(msg).toString()));
    expect(doomed.length).toBe(3);
    const doomedBytes = doomed.map((d) => m.store.read(d).toString()).sort();
    await m.store.setFlags(
      box.id,
      doomed.map((d) => d.uid),
      'add',
      ['\\Deleted'],
    );
    await m.store.expunge(box.id);
    const before = (await m.store.mailbox(user.id, 'INBOX'))!.messages;
    const dry = postern(a.configFile, ['restore', plain, '--user', 'alice@b.test', '--search', 'Load 0-', '--dry-run']);
    expect(dry.code).toBe(0);
    const r = postern(a.configFile, ['restore', plain, '--user', 'alice@b.test', '--folder', 'INBOX', '--search', 'Load 0-']);
    expect(r.err).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    expect(r.out).toContain('restored 3 messages');
    expect((await m.store.mailbox(user.id, 'INBOX'))!.messages).toBe(before + 3);
    // the same bytes (our Received and Delivered-To prefix included) and flags
    const back = (await m.store.messages(box.id)).slice(-3);
    expect(back.map((msg) => m.store.read(msg).toString()).sort()).toEqual(doomedBytes);
    // again: every selected message is still there, nothing twice
    const again = postern(a.configFile, ['restore', plain, '--user', 'alice@b.test', '--search', 'Load 0-']);
    expect(again.out).toContain('restored 0 messages');
    expect((await m.store.mailbox(user.id, 'INBOX'))!.messages).toBe(before + 3);
    // deleted once more and restored once more: back again (what is there decides, not a memory of the last restore)
    const twice = (await m.store.messages(box.id)).slice(-1);
    await m.store.setFlags(box.id, [twice[0]!.uid], 'add', ['\\Deleted']);
    await m.store.expunge(box.id);
    expect(postern(a.configFile, ['restore', plain, '--user', 'alice@b.test', '--search', 'Load 0-']).out).toContain('restored 1 messages');
    expect((await m.store.mailbox(user.id, 'INBOX'))!.messages).toBe(before + 3);
    // --since in the future selects nothing
    expect(postern(a.configFile, ['restore', plain, '--user', 'alice@b.test', '--since', '2999-01-01']).out).toContain('restored 0 messages');
  });
});
