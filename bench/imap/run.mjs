#!/usr/bin/env node
// bench/imap: a mailbox of N messages (default 100,000) served by the IMAP server in its own
// process; prints the time of LOGIN+SELECT, UID FETCH 1:* (FLAGS), FETCH 1:* (ENVELOPE), SEARCH on
// a header, SEARCH TEXT (FTS5), body fetch MB/s, and the server's memory per IDLE connection
// with C connections idling. Not part of npm test.
//
//   npx turbo run build && node bench/imap/run.mjs --messages 100000 --idle 1000
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { configFromObject, createLogger, ensureCertificate, openMailDb, TlsMaterial } from '@postern/core';
import { indexMessage } from '@postern/mime';
import { ImapClient, makeMessage } from '../lib/imap.mjs';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '100000' },
    idle: { type: 'string', default: '1000' },
    big: { type: 'string', default: '20' },
    serve: { type: 'string' },
  },
});
const root = fileURLToPath(new URL('../../', import.meta.url));
const PASSWORD = 'bench password';
const config = (dir) =>
  configFromObject(
    {
      hostname: 'bench.test',
      data_dir: dir,
      profile: 'development',
      limits: { connections_per_ip: 5000, connections_total: 5000, imap_connections_per_user: 5000 },
    },
    join(dir, 'postern.toml'),
  );

async function timed(label, run) {
  const t = process.hrtime.bigint();
  const extra = await run();
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  console.log(`${label.padEnd(44)} ${ms.toFixed(1).padStart(9)} ms${extra ? `  ${extra}` : ''}`);
  return ms;
}

async function main() {
  const N = Number(values.messages);
  const IDLE = Number(values.idle);
  const BIG = Number(values.big);
  const dir = mkdtempSync(join(tmpdir(), 'postern-bench-imap-'));
  const cfg = config(dir);
  await ensureCertificate(cfg.tlsCert, cfg.tlsKey, 'localhost');
  const mail = openMailDb(cfg);
  mail.accounts.addDomain('bench.test');
  const user = await mail.accounts.addUser('bench@bench.test', PASSWORD);
  const idler = await mail.accounts.addUser('idle@bench.test', PASSWORD);
  await timed(`deliver ${N} messages (setup)`, async () => {
    for (let start = 0; start < N; start += 1000) {
      const batch = [];
      for (let i = start; i < Math.min(N, start + 1000); i++) {
        const content = makeMessage(i, i < BIG ? 1024 * 1024 : 1500, 'bench@bench.test');
        batch.push({ userId: user.id, prefix: Buffer.alloc(0), content, index: indexMessage(content) });
      }
      await mail.store.deliver(batch);
    }
    await mail.store.deliver([
      {
        userId: idler.id,
        prefix: Buffer.alloc(0),
        content: makeMessage(1, 500, 'idle@bench.test'),
        index: indexMessage(makeMessage(1, 500, 'idle@bench.test')),
      },
    ]);
  });
  // What the delivery agent does after delivery, in the background (core's store/trigram.ts).
  const inbox = await mail.store.mailbox(user.id, 'INBOX');
  await timed('substring index for SEARCH TEXT (setup)', () => mail.store.completeSubstringIndex(inbox.id));
  mail.close();
  console.log(`${'mail.db size'.padEnd(44)} ${(statSync(join(dir, 'mail.db')).size / 1e6).toFixed(1).padStart(9)} MB`);

  const child = fork(fileURLToPath(import.meta.url), ['--serve', dir], {
    execArgv: ['--expose-gc', ...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean)],
    stdio: 'inherit',
  });
  const ask = (m) => new Promise((resolve) => child.once('message', resolve) && child.send(m));
  const { port } = await new Promise((resolve) => child.once('message', resolve));
  try {
    const c = await ImapClient.open(port);
    await c.until('* OK');
    await c.cmd('l', `LOGIN bench@bench.test "${PASSWORD}"`);
    await timed(`SELECT INBOX (${N} messages)`, () => c.cmd('s', 'SELECT INBOX'));
    await timed('SELECT INBOX again (warm)', () => c.cmd('s2', 'SELECT INBOX'));
    let before = c.bytes;
    await timed('UID FETCH 1:* (FLAGS)', async () => {
      await c.cmd('f1', 'UID FETCH 1:* (FLAGS)');
      return `${((c.bytes - before) / 1e6).toFixed(1)} MB`;
    });
    before = c.bytes;
    await timed('FETCH 1:* (ENVELOPE)', async () => {
      await c.cmd('f2', 'FETCH 1:* (ENVELOPE)');
      return `${((c.bytes - before) / 1e6).toFixed(1)} MB`;
    });
    await timed('SEARCH SUBJECT "Report kilo 4242"', () => c.cmd('q1', 'SEARCH SUBJECT "Report kilo 4242"'));
    await timed('SEARCH FROM sender42@', () => c.cmd('q2', 'SEARCH FROM sender42@'));
    await timed(`SEARCH TEXT "token${Math.floor(N / 2)}" (FTS5)`, () => c.cmd('q3', `SEARCH TEXT "token${Math.floor(N / 2)}"`));
    await timed('SEARCH BODY "whiskey xray" (FTS5, many hits)', () => c.cmd('q4', 'SEARCH BODY "whiskey xray"'));
    await timed(`SEARCH TEXT "oken${Math.floor(N / 2)}" (inside a word)`, async () => `${await c.cmd('q6', `SEARCH TEXT "oken${Math.floor(N / 2)}"`)} hits`);
    await timed('SEARCH BODY "ipsum dolor" (every message)', async () => `${await c.cmd('q7', 'SEARCH BODY "ipsum dolor"')} hits`);
    await timed('SEARCH UNSEEN LARGER 10000', () => c.cmd('q5', 'SEARCH UNSEEN LARGER 10000'));
    if (BIG > 0) {
      before = c.bytes;
      const ms = await timed(`FETCH 1:${BIG} (BODY.PEEK[]) (1 MB each)`, () => c.cmd('b1', `FETCH 1:${BIG} (BODY.PEEK[])`));
      console.log(`${'  body fetch throughput'.padEnd(44)} ${((c.bytes - before) / 1e6 / (ms / 1000)).toFixed(1).padStart(9)} MB/s`);
    }
    before = c.bytes;
    const small = Math.min(N, BIG + 5000);
    const ms2 = await timed(`FETCH ${BIG + 1}:${small} (BODY.PEEK[]) (~2 KB each)`, () => c.cmd('b2', `FETCH ${BIG + 1}:${small} (BODY.PEEK[])`));
    console.log(`${'  small body fetch throughput'.padEnd(44)} ${((c.bytes - before) / 1e6 / (ms2 / 1000)).toFixed(1).padStart(9)} MB/s`);
    c.socket.destroy();

    if (IDLE > 0) {
      await new Promise((r) => setTimeout(r, 200));
      const m0 = (await ask('mem')).mem;
      const idlers = [];
      for (let i = 0; i < IDLE; i++) {
        const k = await ImapClient.open(port);
        await k.until('* OK');
        await k.cmd('l', `LOGIN idle@bench.test "${PASSWORD}"`);
        await k.cmd('s', 'SELECT INBOX');
        k.socket.write('i IDLE\r\n');
        await k.until('+ ');
        idlers.push(k);
      }
      const m1 = (await ask('mem')).mem;
      console.log(
        `memory per IDLE connection (${IDLE} idling)      rss ${((m1.rss - m0.rss) / IDLE / 1024).toFixed(1)} KB, heap ${((m1.heapUsed - m0.heapUsed) / IDLE / 1024).toFixed(1)} KB`,
      );
      for (const k of idlers) k.socket.destroy();
    }
  } finally {
    child.send('stop');
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

async function serve() {
  {
    // The server process.
    const dir = values.serve;
    const cfg = config(dir);
    const mail = openMailDb(cfg);
    const { startImapServer } = await import(join(root, 'apps/delivery/dist/imap/index.js'));
    const server = await startImapServer({
      config: cfg,
      accounts: mail.accounts,
      store: mail.store,
      tls: new TlsMaterial(cfg.tlsCert, cfg.tlsKey),
      logger: createLogger('bench', 'silent'),
      listen: '127.0.0.1:0',
      implicitTls: false,
    });
    process.on('message', (m) => {
      if (m === 'mem') {
        globalThis.gc?.();
        process.send({ mem: process.memoryUsage() });
      }
      if (m === 'stop') server.close().then(() => process.exit(0));
    });
    process.send({ port: server.port });
  }
}

if (values.serve) await serve();
else await main();
