/**
 * Durability of the delivery agent: under a steady LMTP load the process is killed with SIGKILL
 * at random moments and restarted. Every message that got its 250 must be in the mailbox exactly
 * once and byte for byte; nothing half-stored may appear.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import nodemailer from 'nodemailer';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig, openMailDb } from '@postern/core';

const entry = fileURLToPath(new URL('../../apps/delivery/dist/main.js', import.meta.url));

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

const dir = mkdtempSync(join(tmpdir(), 'postern-kill9-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function startAgent(file: string): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [entry, '--config', file], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, POSTERN_LOG_LEVEL: 'info' } });
    let out = '';
    const timer = setTimeout(() => reject(new Error(`delivery did not start: ${out}`)), 20_000);
    const onData = (d: Buffer): void => {
      out += d.toString();
      if (out.includes('LMTP listening')) {
        clearTimeout(timer);
        resolve(child);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (!out.includes('LMTP listening')) reject(new Error(`delivery exited ${code}: ${out}`));
    });
  });
}

describe('delivery agent under kill -9', () => {
  it('keeps every acknowledged message exactly once, intact', async () => {
    const port = await freePort();
    const file = join(dir, 'postern.toml');
    writeFileSync(file, `hostname = "mail.example.org"\ndata_dir = "data"\n[listen]\nlmtp = "127.0.0.1:${port}"\n`);
    const config = loadConfig(file);
    const setup = openMailDb(config);
    setup.accounts.addDomain('example.org');
    await setup.accounts.addUser('alice@example.org', 'long enough');
    setup.close();

    const acked = new Map<string, string>(); // X-Seq -> body
    let seq = 0;
    const rounds = 5;
    for (let round = 0; round < rounds; round++) {
      const child = await startAgent(file);
      const transport = nodemailer.createTransport({ host: '127.0.0.1', port, lmtp: true, pool: true, maxConnections: 8, maxMessages: Infinity });
      let stop = false;
      const senders = Array.from({ length: 8 }, async () => {
        // bounded: at most 400 messages per sender per round
        for (let i = 0; i < 400 && !stop; i++) {
          const n = `${round}-${seq++}`;
          const body = `Subject: kill test ${n}\r\nX-Seq: ${n}\r\n\r\n${'payload '.repeat(50 + (seq % 200))}${n}\r\n`;
          try {
            const info = await transport.sendMail({ envelope: { from: 's@r.test', to: ['alice@example.org'] }, raw: body });
            if (info.accepted.length === 1) acked.set(n, body);
          } catch {
            return; // the agent died under us: unacknowledged, may or may not be stored
          }
        }
      });
      await new Promise((r) => setTimeout(r, 150 + Math.floor(Math.random() * 400)));
      child.kill('SIGKILL');
      stop = true;
      await Promise.all(senders);
      transport.close();
      await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.once('exit', r)));
    }
    expect(acked.size).toBeGreaterThan(20);

    const check = openMailDb(config);
    try {
      const u = check.accounts.findUser('alice@example.org')!;
      const mb = (await check.store.mailbox(u.id, 'INBOX'))!;
      const counts = new Map<string, number>();
      const texts = new Map<string, string>();
      for (const m of await check.store.messages(mb.id)) {
        const text = check.store.read(m).toString();
        const n = /X-Seq: (\S+)/.exec(text)?.[1] ?? '?';
        counts.set(n, (counts.get(n) ?? 0) + 1);
        texts.set(n, text);
      }
      for (const [n, body] of acked) {
        expect(counts.get(n), `message ${n}`).toBe(1);
        expect(texts.get(n)!.endsWith(body)).toBe(true);
      }
      // no duplicates at all, acknowledged or not (a message is stored in one transaction)
      for (const [n, c] of counts) expect(c, `message ${n}`).toBe(1);
      expect(mb.messages).toBe(counts.size);
      expect(check.db.pragma('integrity_check', { simple: true })).toBe('ok');
    } finally {
      check.close();
    }
  });
});
