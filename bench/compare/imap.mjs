#!/usr/bin/env node
// bench/compare/imap: the same mailbox served by Postern's IMAP server and by Dovecot (Debian's
// dovecot-imapd, maildir, default indexes, no FTS plugin), in one run. For N messages (default
// 10,000 and 100,000): LOGIN, SELECT, UID FETCH 1:* (FLAGS), FETCH 1:* (ENVELOPE), SEARCH on a
// header, SEARCH TEXT, body fetch MB/s; each sequence twice (cold: the first time after the
// messages arrived; warm: again). Then the memory (PSS) the server needs for I connections in
// IDLE, for each I of `--idle` (a comma list: connections are added up to each count in turn,
// logged in `--idle-parallel` at a time). Then whole sessions: `--session-clients` clients (10)
// each looping connect / LOGIN / SELECT / FETCH 1:10 (FLAGS) / LOGOUT for `--session-seconds`
// (10), sessions per second (a reconnecting client's cost: the login, Postern's auth cache).
// Prints a table, writes JSON.
//
// Postern's mailbox is filled through its store (what LMTP delivery does: parse and index once);
// Dovecot's is written as maildir files and indexed with `doveadm force-resync`, its delivery-
// time equivalent. Needs root and dovecot-imapd.
//
//   npx turbo run build && node bench/compare/imap.mjs --messages 10000,100000 --idle 1000,10000
import { chownSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { execFileSync, spawnSync } from 'node:child_process';
import { indexMessage } from '@postern/mime';
import { available, startPostfixDovecot } from './lib/postfix-dovecot.mjs';
import { startPostern } from './lib/postern.mjs';
import { memoryBytes } from './lib/proc.mjs';
import { ImapClient, makeMessage, WORDS } from '../lib/imap.mjs';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '10000,100000' },
    idle: { type: 'string', default: '1000' },
    'idle-parallel': { type: 'string', default: '64' },
    big: { type: 'string', default: '20' },
    systems: { type: 'string', default: 'postern,dovecot' },
    out: { type: 'string', default: '' },
    'session-clients': { type: 'string', default: '10' },
    'session-seconds': { type: 'string', default: '10' },
  },
});
const here = fileURLToPath(new URL('.', import.meta.url));
const PASSWORD = 'bench-password';
const USER = 'user0@bench.test';
const BIG = Number(values.big);
const IDLE = values.idle
  .split(',')
  .map(Number)
  .filter((c) => c > 0)
  .sort((a, b) => a - b);
const IDLE_PARALLEL = Number(values['idle-parallel']);
const MAX_IDLE = IDLE.at(-1) ?? 0;

const messageAt = (i) => makeMessage(i, i < BIG ? 1024 * 1024 : 1500, USER);

async function timed(run) {
  const t = performance.now();
  const extra = await run();
  return { ms: performance.now() - t, extra };
}

async function operations(port, n) {
  const c = await ImapClient.open(port);
  await c.until('* OK');
  const out = {};
  // LOGIN apart: Postern checks an scrypt hash (slow by design), this Dovecot a plain passwd-file
  out.login_ms = (await timed(() => c.cmd('l', `LOGIN ${USER} ${PASSWORD}`))).ms;
  out.select_ms = (await timed(() => c.cmd('s', 'SELECT INBOX'))).ms;
  out.fetch_flags_ms = (await timed(() => c.cmd('f1', 'UID FETCH 1:* (FLAGS)'))).ms;
  out.fetch_envelope_ms = (await timed(() => c.cmd('f2', 'FETCH 1:* (ENVELOPE)'))).ms;
  const subj = await timed(() => c.cmd('q1', `SEARCH SUBJECT "Report ${WORDS[(4242 * 7) % WORDS.length]} 4242"`));
  out.search_header_ms = subj.ms;
  out.search_header_hits = subj.extra;
  const text = await timed(() => c.cmd('q2', `SEARCH TEXT "token${Math.floor(n / 2)}"`));
  out.search_text_ms = text.ms;
  out.search_text_hits = text.extra;
  if (BIG > 0) {
    const before = c.bytes;
    const r = await timed(() => c.cmd('b1', `FETCH 1:${BIG} (BODY.PEEK[])`));
    out.body_big_mb_s = (c.bytes - before) / 1e6 / (r.ms / 1000);
  }
  const before = c.bytes;
  const last = Math.min(n, BIG + 5000);
  const r = await timed(() => c.cmd('b2', `FETCH ${BIG + 1}:${last} (BODY.PEEK[])`));
  out.body_small_mb_s = (c.bytes - before) / 1e6 / (r.ms / 1000);
  c.socket.write('z LOGOUT\r\n');
  c.socket.destroy();
  return out;
}

/**
 * Whole sessions, as a phone or a webmail that reconnects does: CLIENTS loops of connect, LOGIN,
 * SELECT, FETCH 1:10 (FLAGS), LOGOUT for SECONDS. Returns sessions per second and the median and
 * worst session time.
 */
async function sessions(port, clients, seconds) {
  const times = [];
  const end = performance.now() + seconds * 1000;
  const loop = async () => {
    while (performance.now() < end) {
      const t = performance.now();
      const c = await ImapClient.open(port);
      await c.until('* OK');
      await c.cmd('l', `LOGIN ${USER} ${PASSWORD}`);
      await c.cmd('s', 'SELECT INBOX');
      await c.cmd('f', 'FETCH 1:10 (FLAGS)');
      await c.cmd('z', 'LOGOUT');
      c.socket.destroy();
      times.push(performance.now() - t);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: clients }, loop));
  const wall = (performance.now() - t0) / 1000;
  times.sort((a, b) => a - b);
  return { clients, per_s: times.length / wall, median_ms: times[Math.floor(times.length / 2)] ?? null, max_ms: times.at(-1) ?? null };
}

/** Runs `job(i)` for i in [0, count) with at most `width` in flight; stops at the first failure. */
async function pool(count, width, job) {
  let next = 0;
  let failed = null;
  const worker = async () => {
    while (next < count && !failed) {
      const i = next++;
      try {
        await job(i);
      } catch (e) {
        failed ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, count) }, worker));
  if (failed) throw failed;
}

/**
 * Server memory for each count of connections in IDLE (ascending): connections are added until
 * the next count is reached, and each count is measured against the same baseline, taken before
 * the first connection. LOGINs run IDLE_PARALLEL at a time (Postern's scrypt is ~50 ms each).
 */
async function idleMemory(port, roots, counts) {
  if (counts.length === 0) return [];
  await new Promise((r) => setTimeout(r, 300));
  const m0 = memoryBytes(roots());
  const clients = [];
  const out = [];
  const t = performance.now();
  try {
    for (const count of counts) {
      const have = clients.length;
      await pool(count - have, IDLE_PARALLEL, async () => {
        const k = await ImapClient.open(port);
        clients.push(k);
        // a connection that gets no answer is given up (the server closes nothing for us)
        const stuck = setTimeout(() => k.socket.destroy(), 60_000);
        try {
          await k.until('* OK');
          await k.cmd('l', `LOGIN ${USER} ${PASSWORD}`);
          await k.cmd('s', 'SELECT INBOX');
          k.socket.write('i IDLE\r\n');
          await k.until('+ ');
        } finally {
          clearTimeout(stuck);
        }
      });
      const setupMs = performance.now() - t;
      await new Promise((r) => setTimeout(r, 500 + count / 10));
      const m1 = memoryBytes(roots());
      const alive = clients.filter((k) => !k.closed).length;
      if (alive !== count) throw new Error(`${count - alive} of ${count} IDLE connections were closed by the server`);
      out.push({
        connections: count,
        per_connection_kb: (m1 - m0) / count / 1024,
        total_mb: m1 / 1024 / 1024,
        baseline_mb: m0 / 1024 / 1024,
        setup_ms: setupMs,
      });
      console.log(
        `  IDLE x${count}: ${((m1 - m0) / count / 1024).toFixed(1)} KB/connection, ${(m1 / 1024 / 1024).toFixed(0)} MB in all, set up in ${(setupMs / 1000).toFixed(1)} s`,
      );
    }
  } finally {
    await pool(clients.length, 500, (i) => clients[i].logout(5000));
  }
  return out;
}

async function postern(n) {
  const t = performance.now();
  const sys = await startPostern({
    users: 1,
    password: PASSWORD,
    apps: ['delivery'],
    connections: MAX_IDLE + 100,
    populate: async (mail, users) => {
      for (let start = 0; start < n; start += 1000) {
        const batch = [];
        for (let i = start; i < Math.min(n, start + 1000); i++) {
          const content = messageAt(i);
          batch.push({ userId: users[0].id, prefix: Buffer.alloc(0), content, index: indexMessage(content) });
        }
        await mail.store.deliver(batch);
      }
    },
  });
  // The fill ends when the delivery agent has also built the substring index (it does so after
  // delivery, in the background): as Dovecot's ends with force-resync's indexes.
  const until = Date.now() + 3_600_000;
  while ((await sys.substringsPending()) > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
  return { sys, port: sys.ports.imap, roots: () => sys.roots().delivery, fillMs: performance.now() - t };
}

async function dovecot(n) {
  const t = performance.now();
  const sys = await startPostfixDovecot({ users: 1, password: PASSWORD, postfix: false });
  const box = sys.maildir(USER);
  const nobody = { uid: Number(execFileSync('id', ['-u', 'nobody']).toString()), gid: Number(execFileSync('id', ['-g', 'nobody']).toString()) };
  for (const sub of ['', 'cur', 'new', 'tmp']) {
    mkdirSync(join(box, sub), { recursive: true });
    chownSync(join(box, sub), nobody.uid, nobody.gid);
  }
  const stamp = Math.floor(Date.now() / 1000) - n;
  for (let i = 0; i < n; i++) {
    const content = messageAt(i);
    const file = join(box, 'cur', `${stamp + i}.M${i}P1.bench,S=${content.length}:2,`);
    writeFileSync(file, content);
    chownSync(file, nobody.uid, nobody.gid);
  }
  const r = sys.doveadm('force-resync', '-u', USER, 'INBOX');
  if (r.status !== 0) throw new Error(`doveadm force-resync: ${r.stderr}`);
  return { sys, port: sys.ports.imap, roots: () => sys.roots().dovecot, fillMs: performance.now() - t };
}

/**
 * Descriptors: the bench holds one per IDLE connection and so does Postern's delivery process
 * (Dovecot: its anvil and stats processes, one per imap process), and the servers inherit this
 * process's limit. Node raises its soft limit to the hard one; where that is still short (often
 * 1024 or 4096), raised here with prlimit on our own pid (a raise of the hard limit needs
 * CAP_SYS_RESOURCE) before any server starts.
 */
function raiseFdLimit(needed) {
  const line = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
  const soft = line?.[1] === 'unlimited' ? Infinity : Number(line?.[1] ?? 0);
  if (soft >= needed) return soft;
  const want = Math.max(needed, 65_536);
  const r = spawnSync('prlimit', ['--pid', String(process.pid), `--nofile=${want}:${want}`], { encoding: 'utf8' });
  if (r.status !== 0)
    throw new Error(
      `--idle ${MAX_IDLE} needs ${needed} file descriptors per process, the limit is ${soft}, and prlimit could not raise it: ${r.stderr || r.error}`,
    );
  return want;
}
const fdLimit = raiseFdLimit(MAX_IDLE + 1024);

const why = values.systems.includes('dovecot') ? available() : null;
if (why) {
  console.error(`Dovecot: ${why}`);
  process.exit(2);
}
const load0 = loadavg();
console.log(
  `machine: ${cpus().length} x ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, node ${process.version}, open files limit ${fdLimit}, load average ${load0.map((l) => l.toFixed(1)).join(' ')}`,
);
const rows = [];
for (const n of values.messages.split(',').map(Number)) {
  for (const system of values.systems.split(',')) {
    const s = system === 'postern' ? await postern(n) : await dovecot(n);
    try {
      const cold = await operations(s.port, n);
      const warm = await operations(s.port, n);
      const idle = await idleMemory(s.port, s.roots, IDLE);
      const session = await sessions(s.port, Number(values['session-clients']), Number(values['session-seconds']));
      const row = { system, messages: n, fill_ms: s.fillMs, cold, warm, idle, sessions: session };
      rows.push(row);
      const f = (v, d = 0) => (v === null || v === undefined ? '-' : v.toFixed(d));
      for (const [pass, o] of [
        ['cold', cold],
        ['warm', warm],
      ]) {
        console.log(
          [
            system,
            n,
            pass,
            `login ${f(o.login_ms, 1)} ms`,
            `select ${f(o.select_ms, 1)} ms`,
            `flags ${f(o.fetch_flags_ms)} ms`,
            `envelope ${f(o.fetch_envelope_ms)} ms`,
            `search header ${f(o.search_header_ms, 1)} ms`,
            `search text ${f(o.search_text_ms, 1)} ms`,
            `body ${f(o.body_big_mb_s)} MB/s (1 MB), ${f(o.body_small_mb_s)} MB/s (1.5 KB)`,
          ].join('\t'),
        );
      }
      for (const i of idle)
        console.log(
          [
            system,
            n,
            `IDLE x${i.connections}`,
            `${f(i.per_connection_kb, 1)} KB/connection`,
            `${f(i.total_mb)} MB in all`,
            `setup ${f(i.setup_ms / 1000, 1)} s`,
          ].join('\t'),
        );
      console.log(
        [
          system,
          n,
          `sessions x${session.clients}`,
          `${f(session.per_s, 1)} sessions/s`,
          `median ${f(session.median_ms, 1)} ms`,
          `max ${f(session.max_ms)} ms`,
        ].join('\t'),
      );
    } finally {
      await s.sys.stop();
    }
  }
}
const out = values.out || join(here, 'results', `imap-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
mkdirSync(join(out, '..'), { recursive: true });
writeFileSync(
  out,
  JSON.stringify(
    {
      date: new Date().toISOString(),
      idle_parallel: IDLE_PARALLEL,
      machine: {
        cpus: cpus().length,
        model: cpus()[0]?.model,
        memory_gib: totalmem() / 2 ** 30,
        node: process.version,
        loadavg_start: load0,
        loadavg_end: loadavg(),
      },
      rows,
    },
    null,
    2,
  ),
);
console.log(`\nJSON: ${out}`);
