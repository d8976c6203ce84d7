/**
 * `postern start` with the MX port already taken (Postfix or Exim still installed): the
 * transfer app cannot bind it, `start` says which app could not listen on what, stops what it
 * started, never prints "Postern is running", and exits non-zero.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { freePort, portOpen } from '../lib/instance.js';

const bin = fileURLToPath(new URL('../../apps/cli/bin/postern.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'postern-port-taken-'));
const config = join(dir, 'postern.toml');
let holder: Server | null = null;
afterAll(() => {
  holder?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Holds 127.0.0.1:25 when we can (root, nobody else on it), else some other port in its role. */
async function takePort(): Promise<number> {
  for (const port of [25, 0]) {
    const s = createServer();
    const ok = await new Promise<boolean>((resolve) => {
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (ok) {
      holder = s;
      return (s.address() as { port: number }).port;
    }
  }
  throw new Error('could not hold any port');
}

it('reports the app and the address it could not bind, and exits 1', async () => {
  expect(spawnSync(process.execPath, [bin, '--config', config, 'init', '--dev'], { encoding: 'utf8' }).status).toBe(0);
  const taken = await takePort();
  console.log(`holding 127.0.0.1:${taken} as the MX port`);
  let text = readFileSync(config, 'utf8');
  for (const key of ['smtp', 'submission', 'submissions', 'lmtp', 'imap', 'imaps', 'pop3', 'pop3s', 'webmail']) {
    const port = key === 'smtp' ? taken : await freePort();
    text = text.replace(new RegExp(`^${key} = "127\\.0\\.0\\.1:\\d+"`, 'm'), `${key} = "127.0.0.1:${port}"`);
  }
  writeFileSync(config, text);
  const submission = Number(/^submission = "127\.0\.0\.1:(\d+)"/m.exec(text)?.[1]);
  const started = Date.now();
  const child = spawn(process.execPath, [bin, '--config', config, 'start'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.once('exit', (c) => {
      clearTimeout(t);
      resolve(c);
    });
  });
  console.log(`postern start gave up after ${Date.now() - started} ms`);
  expect(code).toBe(1);
  expect(out).toContain(`postern-transfer: cannot listen on 127.0.0.1:${taken}: address already in use`);
  expect(out).toMatch(new RegExp(`postern: not running: transfer could not listen after \\d+ tries: cannot listen on 127\\.0\\.0\\.1:${taken}`));
  expect(out).not.toMatch(/Postern is running/);
  expect(out).not.toMatch(/at .*\.js:\d+/); // no stack trace
  // what did start (delivery) was stopped again; submission never took mail nobody delivers
  expect(await portOpen(submission)).toBe(false);
});
