#!/usr/bin/env node
// bench/soak: a steady mixed load on a whole stack under `postern start` for a configured time,
// sampling what must stay flat. Load (every client bounded, all stop at the end):
// - inbound mail on port 25 (--inbound per second, 4 kept connections) and authenticated
//   submissions (--submissions per second), to 10 local users;
// - IMAP sessions (imapflow) for 7 users in a loop: LOGIN, SELECT, FETCH the newest 20
//   (ENVELOPE FLAGS), STORE \Seen, STORE \Deleted on all but the newest 100, EXPUNGE, IDLE 5 s,
//   LOGOUT; plus one session that stays in IDLE the whole time;
// - POP3 downloads for 2 users every 3 s (STAT, RETR 1, DELE 1, QUIT);
// - webmail page loads every 2 s (the message list and one message) for one user, whose
//   mailbox only grows (so mail.db must grow by what is stored, and no more).
// Every --sample seconds: each app's RSS and open file descriptors (/proc), mail.db and
// queue.db with their WAL files, the queue length, and the delay from 250 to stored of the
// messages stored since the last sample (median, p99). Prints a table and a summary; writes
// JSON and an SVG plot to bench/soak/results/.
//
//   npx turbo run build && node bench/soak/run.mjs                 # 10 minutes
//   node bench/soak/run.mjs --duration 3600 --sample 30            # the hour the issue asks for
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { percentile } from '../compare/lib/load.mjs';
import { startStack } from '../lib/stack.mjs';
import { plotSvg } from './plot.mjs';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '600' },
    sample: { type: 'string', default: '10' },
    inbound: { type: 'string', default: '5' },
    submissions: { type: 'string', default: '1' },
    // samples before this many seconds are warm-up (not in the growth figures)
    warmup: { type: 'string', default: '60' },
    out: { type: 'string', default: '' },
  },
});
const DURATION_MS = Number(values.duration) * 1000;
const SAMPLE_MS = Number(values.sample) * 1000;
const WARMUP_MS = Number(values.warmup) * 1000;
const IN_RATE = Number(values.inbound);
const SUB_RATE = Number(values.submissions);
const here = fileURLToPath(new URL('.', import.meta.url));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const stack = await startStack({ users: 10, connections: 300, logLevel: 'warn' });
const users = stack.users;
const password = stack.password;
const t0 = Date.now();
const endAt = t0 + DURATION_MS;
const running = () => Date.now() < endAt;
const acked = new Map(); // seq -> time of the 250
const stored = []; // [time stored, delay ms]
const counts = { inbound: 0, submitted: 0, send_errors: 0, imap_cycles: 0, imap_errors: 0, pop3: 0, pop3_errors: 0, webmail: 0, webmail_errors: 0, skipped: 0 };

const LINE = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.\r\n';
const body = (n) => LINE.repeat(n);
let seqNext = 0;
const message = (seq, from, to) =>
  `Subject: soak-${seq}\r\nFrom: <${from}>\r\nTo: <${to}>\r\nMessage-ID: <soak-${seq}@outside.example>\r\n` +
  `Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n${body(20 + (seq % 80))}`;

/** Sends at `rate` per second over `transport`, at most `max` at once (a slow server makes the
 * generator skip, counted, rather than pile up). */
async function sender(transport, rate, from, kind) {
  let inFlight = 0;
  const max = 16;
  const every = 1000 / rate;
  let next = Date.now();
  const pending = new Set();
  while (running()) {
    next += every;
    const wait = next - Date.now();
    if (wait > 0) await sleep(wait);
    if (inFlight >= max) {
      counts.skipped++;
      continue;
    }
    const seq = seqNext++;
    const to = users[seq % users.length];
    inFlight++;
    const p = transport
      .sendMail({ envelope: { from, to: [to] }, raw: message(seq, from, to) })
      .then((info) => {
        if (info.accepted.length === 1) {
          acked.set(String(seq), Date.now());
          counts[kind]++;
        } else counts.send_errors++;
      })
      .catch(() => counts.send_errors++)
      .finally(() => {
        inFlight--;
        pending.delete(p);
      });
    pending.add(p);
  }
  await Promise.allSettled([...pending]);
  transport.close();
}

/** Watches every INBOX for new messages: when each soak message was first seen stored. */
function watch() {
  const boxes = stack.userRows.map((u) => ({ id: stack.mail.store.mailbox(u.id, 'INBOX').id, next: 1 }));
  const timer = setInterval(() => {
    const now = Date.now();
    for (const b of boxes) {
      for (const r of stack.mail.store.messages(b.id, b.next)) {
        b.next = r.uid + 1;
        const head = stack.mail.store.read(r, 0, Math.min(r.size, 8192)).toString('latin1');
        const seq = /^Subject: soak-(\d+)\r?$/m.exec(head)?.[1];
        const at = seq === undefined ? undefined : acked.get(seq);
        // a message stored before its 250 reached us counts as stored at once
        if (seq !== undefined) stored.push([now, at === undefined ? 0 : Math.max(0, now - at)]);
      }
    }
  }, 100);
  return () => clearInterval(timer);
}

function imapClient(user) {
  return new ImapFlow({
    host: '127.0.0.1',
    port: stack.ports.imap,
    secure: false,
    doSTARTTLS: false,
    auth: { user, pass: password },
    logger: false,
    emitLogs: false,
  });
}

/** One user's IMAP loop: what a desktop client does, then IDLE, then leave. */
async function imapLoop(user) {
  while (running()) {
    const c = imapClient(user);
    c.on('error', () => {});
    try {
      await c.connect();
      const box = await c.mailboxOpen('INBOX');
      if (box.exists > 0) {
        const from = Math.max(1, box.exists - 19);
        for await (const _m of c.fetch(`${from}:*`, { envelope: true, flags: true, uid: true })) {
          // reading is the point
        }
        await c.messageFlagsAdd(`${from}:*`, ['\\Seen']);
        if (box.exists > 100) {
          await c.messageFlagsAdd(`1:${box.exists - 100}`, ['\\Deleted']);
          await c.mailboxClose(); // CLOSE expunges; reopen for IDLE
          await c.mailboxOpen('INBOX');
        }
      }
      // IDLE (imapflow enters it when nothing else runs) for a while
      const idle = c.idle();
      await sleep(5_000);
      await c.noop();
      await idle.catch(() => {});
      await c.logout();
      counts.imap_cycles++;
    } catch (err) {
      counts.imap_errors++;
      counts.imap_last_error = String(err.message);
      c.close();
      await sleep(1_000);
    }
  }
}

/** A client that stays in IDLE for the whole soak (new mail is pushed to it). */
async function idleForever(user) {
  const c = imapClient(user);
  c.on('error', () => {});
  let pushed = 0;
  c.on('exists', () => pushed++);
  try {
    await c.connect();
    await c.mailboxOpen('INBOX');
    while (running()) await sleep(1_000);
    await c.logout();
  } catch {
    counts.imap_errors++;
    c.close();
  }
  return pushed;
}

/** POP3 (RFC 1939) over a plain socket: STAT, RETR 1, DELE 1, QUIT. */
function pop3Once(user) {
  return new Promise((resolve, reject) => {
    const s = connect(stack.ports.pop3, '127.0.0.1');
    let buf = '';
    const script = [`USER ${user}`, `PASS ${password}`, 'STAT'];
    let step = 0;
    let multi = false;
    s.setTimeout(30_000, () => s.destroy(new Error('pop3 timeout')));
    s.on('error', reject);
    s.on('close', () => resolve());
    s.on('data', (d) => {
      buf += d.toString('latin1');
      for (;;) {
        if (multi) {
          const end = buf.indexOf('\r\n.\r\n');
          if (end === -1) return;
          buf = buf.slice(end + 5);
          multi = false;
          s.write('DELE 1\r\n');
          continue;
        }
        const nl = buf.indexOf('\r\n');
        if (nl === -1) return;
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 2);
        if (!line.startsWith('+OK')) return s.destroy(new Error(`pop3: ${line}`));
        if (step === 'retr') {
          multi = true; // the message follows, up to CRLF.CRLF
          step = 'dele';
        } else if (step === 'dele') {
          step = 'quit';
          s.write('QUIT\r\n');
        } else if (step === 'quit') {
          // +OK to QUIT: the server closes
        } else if (step < script.length) {
          s.write(`${script[step++]}\r\n`);
        } else {
          const n = Number(/^\+OK (\d+)/.exec(line)?.[1] ?? 0);
          step = n > 0 ? 'retr' : 'quit';
          s.write(n > 0 ? 'RETR 1\r\n' : 'QUIT\r\n');
        }
      }
    });
  });
}

async function pop3Loop(user) {
  while (running()) {
    try {
      await pop3Once(user);
      counts.pop3++;
    } catch (err) {
      counts.pop3_errors++;
      counts.pop3_last_error = String(err.message);
    }
    await sleep(3_000);
  }
}

/** The webmail: log in once, then load the message list and one message every 2 s. */
async function webmailLoop(user) {
  const base = `http://127.0.0.1:${stack.ports.webmail}`;
  let cookie = '';
  const login = async () => {
    const form = await fetch(`${base}/login`);
    const token = /name="_csrf" value="([^"]+)"/.exec(await form.text())?.[1] ?? '';
    const pre = form.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; ');
    const r = await fetch(`${base}/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: pre, 'content-type': 'application/x-www-form-urlencoded', origin: base },
      body: new URLSearchParams({ _csrf: token, user, password }),
    });
    await r.text();
    cookie = r.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .filter((c) => c.startsWith('postern_session='))
      .join('; ');
    if (!cookie) throw new Error(`webmail login: ${r.status}`);
  };
  while (running()) {
    try {
      if (!cookie) await login();
      const list = await fetch(`${base}/list?f=INBOX`, { headers: { cookie } });
      const html = await list.text();
      if (!list.ok) throw new Error(`list ${list.status}`);
      const uid = /data-uid="(\d+)"/.exec(html)?.[1];
      if (uid) {
        const read = await fetch(`${base}/read?f=INBOX&u=${uid}`, { headers: { cookie } });
        await read.text();
        if (!read.ok) throw new Error(`read ${read.status}`);
      }
      counts.webmail++;
    } catch (err) {
      counts.webmail_errors++;
      counts.webmail_last_error = String(err.message);
      cookie = '';
    }
    await sleep(2_000);
  }
}

const size = (f) => {
  try {
    return statSync(f).size;
  } catch {
    return 0;
  }
};
function proc(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) * 1024;
    const fds = readdirSync(`/proc/${pid}/fd`).length;
    return { rss, fds };
  } catch {
    return { rss: 0, fds: 0 };
  }
}
const qdb = new Database(join(stack.config.dataDir, 'queue.db'), { readonly: true, fileMustExist: true });
const mdb = new Database(join(stack.config.dataDir, 'mail.db'), { readonly: true, fileMustExist: true });
const samples = [];
let storedSeen = 0;
function sample() {
  const t = Date.now();
  const pids = stack.pids();
  const apps = Object.fromEntries(Object.entries(pids).map(([app, pid]) => [app, proc(pid)]));
  const window = stored.slice(storedSeen).map(([, d]) => d);
  storedSeen = stored.length;
  window.sort((a, b) => a - b);
  const dir = stack.config.dataDir;
  const live = mdb.prepare('SELECT count(*) AS n, coalesce(sum(size), 0) AS bytes FROM messages').get();
  const s = {
    t_s: (t - t0) / 1000,
    apps,
    mail_db: size(join(dir, 'mail.db')),
    mail_wal: size(join(dir, 'mail.db-wal')),
    queue_db: size(join(dir, 'queue.db')),
    queue_wal: size(join(dir, 'queue.db-wal')),
    queue: qdb.prepare("SELECT count(*) AS n FROM recipients WHERE state = 'queued'").get().n,
    messages: live.n,
    message_bytes: live.bytes,
    stored: window.length,
    delay_p50_ms: percentile(window, 50) ?? null,
    delay_p99_ms: percentile(window, 99) ?? null,
  };
  samples.push(s);
  const mb = (b) => (b / 2 ** 20).toFixed(1);
  const appText = Object.entries(apps)
    .map(([a, v]) => `${a} ${mb(v.rss)}M/${v.fds}fd`)
    .join(' ');
  console.log(
    `${s.t_s.toFixed(0).padStart(5)} s  ${appText}  mail.db ${mb(s.mail_db)}M wal ${mb(s.mail_wal)}M  queue.db ${mb(s.queue_db)}M wal ${mb(s.queue_wal)}M  queue ${s.queue}  stored ${s.stored} p50 ${s.delay_p50_ms ?? '-'} ms p99 ${s.delay_p99_ms ?? '-'} ms`,
  );
}

const load0 = loadavg();
console.log(
  `machine: ${cpus().length} x ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, node ${process.version}, load average ${load0.map((l) => l.toFixed(1)).join(' ')}`,
);
console.log(`soak: ${DURATION_MS / 1000} s, inbound ${IN_RATE}/s, submissions ${SUB_RATE}/s, 7 IMAP loops + 1 IDLE, 2 POP3 loops, 1 webmail loop`);
const stopWatch = watch();
const sampler = setInterval(sample, SAMPLE_MS);
sample();
const mx = nodemailer.createTransport({ host: '127.0.0.1', port: stack.ports.smtp, pool: true, maxConnections: 4, maxMessages: Infinity, ignoreTLS: true });
const sub = nodemailer.createTransport({
  host: '127.0.0.1',
  port: stack.ports.submission,
  pool: true,
  maxConnections: 2,
  maxMessages: Infinity,
  ignoreTLS: true,
  auth: { user: users[0], pass: password },
});
const tasks = [
  sender(mx, IN_RATE, 'sender@outside.example', 'inbound'),
  sender(sub, SUB_RATE, users[0], 'submitted'),
  ...[0, 1, 2, 3, 7, 8, 9].map((i) => imapLoop(users[i])),
  idleForever(users[1]),
  pop3Loop(users[4]),
  pop3Loop(users[5]),
  webmailLoop(users[6]),
];
const results = await Promise.all(tasks);
const idlePushes = results[9];
// the load has stopped: everything acknowledged should now be stored and the queue empty
const drainDeadline = Date.now() + 120_000;
while (Date.now() < drainDeadline && qdb.prepare("SELECT count(*) AS n FROM recipients WHERE state = 'queued'").get().n > 0) await sleep(500);
await sleep(1_000);
clearInterval(sampler);
sample();
stopWatch();

const after = samples.filter((s) => s.t_s * 1000 >= WARMUP_MS);
const first = after[0] ?? samples[0];
const last = samples[samples.length - 1];
const growth = (a, b) => (a > 0 ? ((b - a) / a) * 100 : 0);
const appsSeen = Object.keys(last.apps);
const summary = {
  duration_s: DURATION_MS / 1000,
  counts,
  idle_pushes: idlePushes,
  acknowledged: acked.size,
  stored: stored.length,
  queue_at_end: last.queue,
  rss_growth_pct: Object.fromEntries(appsSeen.map((a) => [a, growth(first.apps[a]?.rss ?? 0, last.apps[a]?.rss ?? 0)])),
  rss_mb: Object.fromEntries(
    appsSeen.map((a) => [
      a,
      [(first.apps[a]?.rss ?? 0) / 2 ** 20, Math.max(...after.map((s) => s.apps[a]?.rss ?? 0)) / 2 ** 20, (last.apps[a]?.rss ?? 0) / 2 ** 20],
    ]),
  ),
  fds: Object.fromEntries(appsSeen.map((a) => [a, [first.apps[a]?.fds ?? 0, Math.max(...after.map((s) => s.apps[a]?.fds ?? 0)), last.apps[a]?.fds ?? 0]])),
  mail_wal_max_mb: Math.max(...samples.map((s) => s.mail_wal)) / 2 ** 20,
  queue_wal_max_mb: Math.max(...samples.map((s) => s.queue_wal)) / 2 ** 20,
  mail_db_mb: [first.mail_db / 2 ** 20, last.mail_db / 2 ** 20],
  live_message_mb: [first.message_bytes / 2 ** 20, last.message_bytes / 2 ** 20],
  delay_p50_ms_first_last: [after.find((s) => s.stored > 0)?.delay_p50_ms ?? null, [...after].reverse().find((s) => s.stored > 0)?.delay_p50_ms ?? null],
  delay_p99_ms_first_last: [after.find((s) => s.stored > 0)?.delay_p99_ms ?? null, [...after].reverse().find((s) => s.stored > 0)?.delay_p99_ms ?? null],
  loadavg_start: load0,
  loadavg_end: loadavg(),
};
console.log(`\n${JSON.stringify(summary, null, 2)}`);

// the table for BENCHMARKS.md: one row a minute (or every sample for short runs)
const every = Math.max(1, Math.round(60_000 / SAMPLE_MS));
const rows = samples.filter((_, i) => i % every === 0 || i === samples.length - 1);
const mb = (b) => (b / 2 ** 20).toFixed(1);
console.log(`\n| t (min) | ${appsSeen.map((a) => `${a} RSS MB / fds`).join(' | ')} | mail.db MB (WAL) | queue.db MB (WAL) | queue | 250→stored p50 / p99 ms |`);
console.log(`|---|${appsSeen.map(() => '---').join('|')}|---|---|---|---|`);
for (const s of rows) {
  console.log(
    `| ${(s.t_s / 60).toFixed(1)} | ${appsSeen.map((a) => `${mb(s.apps[a]?.rss ?? 0)} / ${s.apps[a]?.fds ?? 0}`).join(' | ')} | ${mb(s.mail_db)} (${mb(s.mail_wal)}) | ${mb(s.queue_db)} (${mb(s.queue_wal)}) | ${s.queue} | ${s.delay_p50_ms ?? '-'} / ${s.delay_p99_ms ?? '-'} |`,
  );
}
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const outBase = values.out || join(here, 'results', `soak-${stamp}`);
mkdirSync(join(outBase, '..'), { recursive: true });
writeFileSync(`${outBase}.json`, JSON.stringify({ date: new Date().toISOString(), summary, samples }, null, 2));
writeFileSync(
  `${outBase}.svg`,
  plotSvg(samples, { title: `bench/soak: ${DURATION_MS / 60_000} min, inbound ${IN_RATE}/s + submissions ${SUB_RATE}/s + IMAP/POP3/webmail` }),
);
console.log(`\nJSON: ${outBase}.json\nSVG: ${outBase}.svg`);
qdb.close();
mdb.close();
await stack.stop();
