#!/usr/bin/env node
// bench/recovery: N messages into port 25 on C connections while the delivery side is killed
// with SIGKILL K times at random moments, then: how many messages were acknowledged (250), lost
// (acknowledged, never stored), duplicated (stored twice), and the delay from the 250 to the
// message sitting in its mailbox (median, p99, max), plus the longest wait after the delivery
// side listened again. Side by side:
// - Postern under `postern start`: the delivery agent (apps/delivery) is killed; the supervisor
//   restarts it and tells the transfer app, which retries what the agent could not take.
// - Postfix + Dovecot: Dovecot's LMTP processes are killed the same way; Dovecot's master keeps
//   the listening socket and starts new ones, Postfix defers what was in flight (its queue
//   retries after minimal_backoff_time, 300 s by default).
// Needs root and Debian's postfix + dovecot for the second (bench/compare/setup.sh).
//
//   npx turbo run build && sudo node bench/recovery/run.mjs                  # 3000 messages, 12 kills
//   node bench/recovery/run.mjs --systems postern --messages 1000 --kills 5
import { readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import nodemailer from 'nodemailer';
import { percentile } from '../compare/lib/load.mjs';
import { available, startPostfixDovecot } from '../compare/lib/postfix-dovecot.mjs';
import { treeOf } from '../compare/lib/proc.mjs';
import { startStack } from '../lib/stack.mjs';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '3000' },
    kills: { type: 'string', default: '12' },
    connections: { type: 'string', default: '10' },
    size: { type: 'string', default: '4096' },
    users: { type: 'string', default: '10' },
    systems: { type: 'string', default: 'postern,postfix-dovecot' },
    // how long to wait for the last acknowledged message after the load (s)
    wait: { type: 'string', default: '900' },
    out: { type: 'string', default: '' },
  },
});
const N = Number(values.messages);
const K = Number(values.kills);
const C = Number(values.connections);
const SIZE = Number(values.size);
const USERS = Number(values.users);
const WAIT_MS = Number(values.wait) * 1000;
const systems = values.systems.split(',');
const here = fileURLToPath(new URL('.', import.meta.url));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const between = (lo, hi) => lo + Math.random() * (hi - lo);

if (systems.includes('postfix-dovecot')) {
  const why = available();
  if (why) {
    console.error(`Postfix + Dovecot: ${why}`);
    process.exit(2);
  }
}

const LINE = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.\r\n';
const message = (i, to) =>
  `Subject: recovery-${i}\r\nFrom: <sender@outside.example>\r\nTo: <${to}>\r\nMessage-ID: <recovery-${i}@outside.example>\r\n` +
  `Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\n${LINE.repeat(Math.max(1, Math.ceil(SIZE / LINE.length)))}`;
const seqOf = (head) => /^Subject: recovery-(\d+)\r?$/m.exec(head)?.[1];

/** Watches the mailboxes: the first time each message is seen, and how many copies. */
function watcher(list) {
  const seen = new Map(); // seq -> { at, count }
  const timer = setInterval(() => {
    const now = Date.now();
    for (const head of list()) {
      const seq = seqOf(head);
      if (seq === undefined) continue;
      const s = seen.get(seq);
      if (s) s.count++;
      else seen.set(seq, { at: now, count: 1 });
    }
  }, 50);
  return { seen, stop: () => clearInterval(timer) };
}

/** New messages' first bytes since the last call: Postern's mail.db. */
function posternLister(stack) {
  const boxes = stack.userRows.map((u) => ({ id: stack.mail.store.mailbox(u.id, 'INBOX').id, next: 1 }));
  return () => {
    const out = [];
    for (const b of boxes) {
      for (const r of stack.mail.store.messages(b.id, b.next)) {
        b.next = r.uid + 1;
        out.push(stack.mail.store.read(r, 0, Math.min(r.size, 8192)).toString('latin1'));
      }
    }
    return out;
  };
}

/** New messages' first bytes since the last call: Dovecot's maildirs. */
function maildirLister(sys) {
  const known = new Set();
  return () => {
    const out = [];
    for (const u of sys.users) {
      // the bench's mail_location is the user's directory itself; a Maildir/ below it also counts
      for (const d of ['new', 'cur'].flatMap((sub) => [join(sys.maildir(u), sub), join(sys.maildir(u), 'Maildir', sub)])) {
        let names = [];
        try {
          names = readdirSync(d);
        } catch {
          continue;
        }
        for (const n of names) {
          const key = n.split(':')[0]; // a flag change renames new/x to cur/x:2,S
          if (known.has(key)) continue;
          try {
            out.push(readFileSync(join(d, n), 'latin1').slice(0, 8192));
            known.add(key);
          } catch {
            // moved meanwhile: seen next time
          }
        }
      }
    }
    return out;
  };
}

async function load(port, users, acked, done) {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port,
    pool: true,
    maxConnections: C,
    maxMessages: Infinity,
    ignoreTLS: true,
    connectionTimeout: 5_000,
    socketTimeout: 60_000,
  });
  let next = 0;
  let failed = 0;
  await Promise.all(
    Array.from({ length: C }, async () => {
      while (next < N) {
        const i = next++;
        const to = users[i % users.length];
        try {
          const info = await transport.sendMail({ envelope: { from: 'sender@outside.example', to: [to] }, raw: message(i, to) });
          if (info.accepted.length === 1) acked.set(String(i), Date.now());
          else failed++;
        } catch {
          failed++;
          await sleep(50);
        }
      }
    }),
  );
  transport.close();
  done.value = true;
  return failed;
}

async function run(system) {
  const isPostern = system === 'postern';
  const sys = isPostern ? await startStack({ users: USERS, connections: C * 4 + 50 }) : await startPostfixDovecot({ users: USERS });
  try {
    const w = watcher(isPostern ? posternLister(sys) : maildirLister(sys));
    const acked = new Map(); // seq -> time of the 250
    const readyTimes = [];
    const done = { value: false };
    const t0 = Date.now();
    const loading = load(sys.ports.smtp, sys.users, acked, done);
    let kills = 0;
    while (kills < K && !done.value) {
      await sleep(between(300, 1500));
      if (done.value) break;
      if (isPostern) {
        readyTimes.push(await sys.kill9('delivery'));
        kills++;
      } else {
        // Dovecot's LMTP worker processes (the master keeps the socket and starts new ones)
        const master = sys.roots().dovecot;
        const lmtp = treeOf(master).filter((p) => {
          try {
            return readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'lmtp';
          } catch {
            return false;
          }
        });
        for (const p of lmtp) {
          try {
            process.kill(p, 'SIGKILL');
          } catch {
            // gone meanwhile
          }
        }
        if (lmtp.length > 0) {
          kills++;
          readyTimes.push(Date.now());
        }
      }
    }
    const failed = await loading;
    const loadS = (Date.now() - t0) / 1000;
    const deadline = Date.now() + WAIT_MS;
    while (Date.now() < deadline && [...acked.keys()].some((s) => !w.seen.has(s))) await sleep(200);
    await sleep(500); // a copy stored twice would show up now
    w.stop();
    const lost = [...acked.keys()].filter((s) => !w.seen.has(s)).length;
    const duplicated = [...w.seen.values()].filter((s) => s.count > 1).length;
    const delays = [];
    const afterReady = [];
    for (const [seq, at] of acked) {
      const s = w.seen.get(seq);
      if (!s) continue;
      delays.push(s.at - at);
      const ready = Math.max(at, ...readyTimes.filter((r) => r <= s.at));
      afterReady.push(s.at - ready);
    }
    delays.sort((a, b) => a - b);
    afterReady.sort((a, b) => a - b);
    return {
      system,
      messages: N,
      connections: C,
      kills,
      acknowledged: acked.size,
      not_acknowledged: failed,
      lost,
      duplicated,
      stored_unacknowledged: [...w.seen.keys()].filter((s) => !acked.has(s)).length,
      load_s: loadS,
      delay_median_s: percentile(delays, 50) / 1000,
      delay_p99_s: percentile(delays, 99) / 1000,
      delay_max_s: (delays[delays.length - 1] ?? 0) / 1000,
      delayed_over_10s: delays.filter((d) => d > 10_000).length,
      max_after_ready_s: (afterReady[afterReady.length - 1] ?? 0) / 1000,
    };
  } finally {
    await sys.stop();
  }
}

const load0 = loadavg();
console.log(
  `machine: ${cpus().length} x ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, node ${process.version}, load average ${load0.map((l) => l.toFixed(1)).join(' ')}`,
);
console.log(`${N} messages of ${SIZE} bytes into port 25 on ${C} connections, ${K} SIGKILLs of the delivery side at random moments`);
const rows = [];
for (const system of systems) {
  const r = await run(system);
  rows.push(r);
  console.log(JSON.stringify(r));
}
const f = (v, d = 1) => (typeof v === 'number' ? v.toFixed(d) : String(v));
const cols = [
  ['system', (r) => r.system],
  ['kills', (r) => String(r.kills)],
  ['acknowledged', (r) => String(r.acknowledged)],
  ['lost', (r) => String(r.lost)],
  ['duplicated', (r) => String(r.duplicated)],
  ['delay median s', (r) => f(r.delay_median_s, 2)],
  ['p99 s', (r) => f(r.delay_p99_s)],
  ['max s', (r) => f(r.delay_max_s)],
  ['> 10 s', (r) => String(r.delayed_over_10s)],
  ['max after ready s', (r) => f(r.max_after_ready_s)],
];
console.log(`\n| ${cols.map(([h]) => h).join(' | ')} |\n|${cols.map(() => '---').join('|')}|`);
for (const r of rows) console.log(`| ${cols.map(([, g]) => g(r)).join(' | ')} |`);
const out = values.out || join(here, '..', 'compare', 'results', `recovery-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
mkdirSync(join(out, '..'), { recursive: true });
writeFileSync(
  out,
  JSON.stringify({ date: new Date().toISOString(), machine: { cpus: cpus().length, loadavg_start: load0, loadavg_end: loadavg() }, rows }, null, 2),
);
console.log(`\nJSON: ${out}`);
