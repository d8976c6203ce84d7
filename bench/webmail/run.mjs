#!/usr/bin/env node
// bench/webmail: how fast the webmail's pages are on a folder of N messages (default 100,000),
// with the real delivery app (IMAP) and the webmail as their own processes, over HTTP as a
// browser would ask. Prints the median of R requests per page. Not part of npm test.
//
//   npx turbo run build && node bench/webmail/run.mjs --messages 100000 --repeat 7
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ensureCertificate, loadConfig, openMailDb } from '@postern/core';
import { indexMessage } from '@postern/mime';

const { values } = parseArgs({ options: { messages: { type: 'string', default: '100000' }, repeat: { type: 'string', default: '7' } } });
const N = Number(values.messages);
const R = Number(values.repeat);
const root = fileURLToPath(new URL('../../', import.meta.url));
const PASSWORD = 'bench password';

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

function message(i) {
  return Buffer.from(
    `From: Sender ${i % 500} <sender${i % 500}@example.org>\r\nTo: Bench <bench@bench.test>\r\n` +
      `Subject: Report ${i}\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\nMessage-ID: <w${i}@example.org>\r\n` +
      `MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello, message ${i} token${i}.\r\n${'lorem ipsum dolor sit amet '.repeat(40)}\r\n`,
  );
}

function start(app, configFile) {
  const child = spawn(process.execPath, [join(root, 'apps', app, 'dist', 'main.js'), '--config', configFile], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, POSTERN_LOG_LEVEL: 'warn' },
  });
  return child;
}

async function until(check, what) {
  for (let i = 0; i < 400; i++) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const dir = mkdtempSync(join(tmpdir(), 'postern-bench-webmail-'));
const [imap, webmail] = [await freePort(), await freePort()];
const file = join(dir, 'postern.toml');
writeFileSync(
  file,
  `hostname = "bench.test"\nprofile = "development"\ndata_dir = "data"\nlog_level = "warn"\n` +
    `[listen]\nimap = "127.0.0.1:${imap}"\nwebmail = "127.0.0.1:${webmail}"\n[webmail]\nsmtp = "127.0.0.1:1"\n`,
);
const config = loadConfig(file);
await ensureCertificate(config.tlsCert, config.tlsKey, 'localhost');
const mail = openMailDb(config);
mail.accounts.addDomain('bench.test');
const user = await mail.accounts.addUser('bench@bench.test', PASSWORD);
let t = Date.now();
for (let s = 0; s < N; s += 1000) {
  const batch = [];
  for (let i = s; i < Math.min(N, s + 1000); i++) {
    const content = message(i);
    batch.push({ userId: user.id, prefix: Buffer.alloc(0), content, index: indexMessage(content) });
  }
  await mail.store.deliver(batch);
}
mail.close();
console.log(`seeded ${N} messages in ${Date.now() - t} ms`);

const children = [start('delivery', file), start('webmail', file)];
const base = `http://127.0.0.1:${webmail}`;
try {
  await until(async () => (await fetch(`${base}/login`)).ok, 'webmail');
  await until(
    () =>
      new Promise((resolve) => {
        const s = connect(imap, '127.0.0.1', () => resolve(s.end() && true)).once('error', () => resolve(false));
      }),
    'IMAP',
  );
  // Log in as the browser does: the login form's token and cookie, then the session cookie.
  const form = await fetch(`${base}/login`);
  const token = /name="_csrf" value="([^"]+)"/.exec(await form.text())[1];
  const pre = form.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
  const login = await fetch(`${base}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: pre, 'content-type': 'application/x-www-form-urlencoded', origin: base },
    body: new URLSearchParams({ _csrf: token, user: 'bench@bench.test', password: PASSWORD }),
  });
  const cookie = login.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .filter((c) => c.startsWith('postern_session='))
    .join('; ');
  if (!cookie) throw new Error(`login failed: ${login.status}`);
  const get = async (path) => {
    const r = await fetch(`${base}${path}`, { headers: { cookie } });
    const body = await r.text();
    if (!r.ok) throw new Error(`${path}: ${r.status} ${body.slice(0, 200)}`);
    return body;
  };
  const lastPage = Math.ceil(N / 50) - 1;
  const firstUid = Number(/data-uid="(\d+)"/.exec(await get('/list?f=INBOX'))[1]);
  const pages = [
    ['list, newest page', '/list?f=INBOX'],
    ['list, page 1000', `/list?f=INBOX&p=${Math.min(1000, lastPage)}`],
    ['list, oldest page', `/list?f=INBOX&p=${lastPage}`],
    ['read one message', `/read?f=INBOX&u=${firstUid}`],
    ['new rows since a UID (live update)', `/newer?f=INBOX&after=${firstUid - 3}`],
    ['search subject', `/search?f=INBOX&by=subject&q=Report+${N - 7}`],
    ['search sender', `/search?f=INBOX&by=from&q=sender42%40example.org`],
    ['search full text (one hit)', `/search?f=INBOX&by=text&q=token${Math.floor(N / 2)}`],
  ];
  console.log(`webmail over IMAP, ${N} messages in INBOX, median of ${R}:`);
  for (const [label, path] of pages) {
    const times = [];
    let size = 0;
    for (let i = 0; i < R; i++) {
      t = process.hrtime.bigint();
      size = (await get(path)).length;
      times.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    times.sort((a, b) => a - b);
    console.log(`  ${label.padEnd(36)} ${times[Math.floor(R / 2)].toFixed(1).padStart(8)} ms  (${(size / 1024).toFixed(0)} KB)`);
  }
} finally {
  for (const c of children) c.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 500));
  rmSync(dir, { recursive: true, force: true });
}
