#!/usr/bin/env node
// bench/compare/smtp: the same SMTP load into port 25 of Postern and of Postfix + Dovecot LMTP on
// this machine, in one run, until every message sits in its mailbox. For each message size and
// connection count: accepted/s (final 250s), delivered/s (in the mailboxes), p50/p99 of the time
// to the final 250, CPU seconds and peak memory (PSS) of each system's processes. Prints a table, writes
// JSON. Each system is started fresh for each cell and torn down after it. Needs root and Debian's
// postfix, dovecot-imapd and dovecot-lmtpd (bench/compare/setup.sh installs them).
//
//   npx turbo run build && node bench/compare/smtp.mjs                    # the default matrix
//   node bench/compare/smtp.mjs --sizes 4k --connections 20 --messages 2000 --generator both
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ownLoad, percentile, smtpSourceLoad } from './lib/load.mjs';
import { available, startPostfixDovecot } from './lib/postfix-dovecot.mjs';
import { startPostern } from './lib/postern.mjs';
import { cpuSeconds, sampleMemory } from './lib/proc.mjs';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '4k,100k' },
    connections: { type: 'string', default: '1,20,100' },
    // messages per cell; "auto": 2000 (4k) / 500 (100k), a quarter of that at one connection
    messages: { type: 'string', default: 'auto' },
    generator: { type: 'string', default: 'own' }, // own | smtp-source | both
    systems: { type: 'string', default: 'postern,postfix-dovecot' },
    users: { type: 'string', default: '10' },
    out: { type: 'string', default: '' },
  },
});
const here = fileURLToPath(new URL('.', import.meta.url));
const bytes = (s) => (/k$/i.test(s) ? Number(s.slice(0, -1)) * 1024 : Number(s));
const sizes = values.sizes.split(',').map(bytes);
const conns = values.connections.split(',').map(Number);
const systems = values.systems.split(',');
const generators = values.generator === 'both' ? ['own', 'smtp-source'] : [values.generator];
const USERS = Number(values.users);
const messagesFor = (size, c) => {
  if (values.messages !== 'auto') return Number(values.messages);
  const base = size > 16 * 1024 ? 500 : 2000;
  return c === 1 ? base / 4 : base;
};

if (systems.includes('postfix-dovecot')) {
  const why = available();
  if (why) {
    console.error(`Postfix + Dovecot: ${why}`);
    process.exit(2);
  }
}

async function start(system, c) {
  if (system === 'postern') return startPostern({ users: USERS, connections: Math.max(200, c * 2) });
  return startPostfixDovecot({ users: USERS });
}

async function cell(system, generator, size, c) {
  const n = messagesFor(size, c);
  const sys = await start(system, c);
  try {
    const groups = () => sys.roots();
    const names = Object.keys(groups());
    const mem = sampleMemory(Object.fromEntries(names.map((k) => [k, () => groups()[k]])));
    const cpu0 = Object.fromEntries(names.map((k) => [k, cpuSeconds(groups()[k])]));
    const t0 = performance.now();
    const load = generator === 'own' ? ownLoad : smtpSourceLoad;
    const r = await load({ port: sys.ports.smtp, users: sys.users, n, c, size });
    const tAccepted = performance.now();
    let delivered = 0;
    const deadline = Date.now() + 600_000;
    for (;;) {
      delivered = await sys.delivered();
      if (delivered >= r.accepted || Date.now() >= deadline) break;
      await new Promise((res) => setTimeout(res, 20));
    }
    const tDelivered = performance.now();
    // Postern builds the SEARCH TEXT index after delivery (packages/core/src/store/trigram.ts):
    // how long after the last delivery it has caught up, CPU included below.
    let indexed = null;
    if (sys.substringsPending) {
      while ((await sys.substringsPending()) > 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
      indexed = (performance.now() - tDelivered) / 1000;
    }
    const cpu = Object.fromEntries(names.map((k) => [k, cpuSeconds(groups()[k]) - cpu0[k]]));
    const peak = mem.stop();
    const lat = r.latencies.sort((x, y) => x - y);
    return {
      system,
      generator,
      size,
      connections: c,
      messages: n,
      accepted: r.accepted,
      failed: r.failed,
      delivered,
      accepted_per_s: r.accepted / ((tAccepted - t0) / 1000),
      delivered_per_s: delivered / ((tDelivered - t0) / 1000),
      index_caught_up_s: indexed,
      p50_ms: percentile(lat, 50),
      p99_ms: percentile(lat, 99),
      cpu_s: cpu,
      peak_pss_mb: Object.fromEntries(Object.entries(peak).map(([k, v]) => [k, v / 1024 / 1024])),
    };
  } finally {
    await sys.stop();
  }
}

const fmt = (v, d = 0) => (v === null || v === undefined ? '-' : v.toFixed(d));
const human = (size) => (size >= 1024 ? `${size / 1024}k` : String(size));
const rows = [];
const load0 = loadavg();
console.log(
  `machine: ${cpus().length} x ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, node ${process.version}, load average ${load0.map((l) => l.toFixed(1)).join(' ')}`,
);
const header = ['system', 'load', 'size', 'C', 'N', 'accepted/s', 'delivered/s', 'p50 ms', 'p99 ms', 'CPU s', 'peak PSS MB', 'search index +s'];
console.log(header.join('\t'));
for (const size of sizes) {
  for (const c of conns) {
    for (const generator of generators) {
      for (const system of systems) {
        const r = await cell(system, generator, size, c);
        rows.push(r);
        const cpu = Object.entries(r.cpu_s)
          .map(([k, v]) => `${k} ${v.toFixed(1)}`)
          .join(', ');
        const memText = Object.entries(r.peak_pss_mb)
          .map(([k, v]) => `${k} ${v.toFixed(0)}`)
          .join(', ');
        console.log(
          [
            system,
            generator,
            human(size),
            c,
            r.messages,
            fmt(r.accepted_per_s),
            fmt(r.delivered_per_s),
            fmt(r.p50_ms, 1),
            fmt(r.p99_ms, 1),
            cpu,
            memText,
            fmt(r.index_caught_up_s, 1),
          ].join('\t') + (r.failed ? `\t(${r.failed} failed)` : ''),
        );
      }
    }
  }
}
const out = values.out || join(here, 'results', `smtp-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
mkdirSync(join(out, '..'), { recursive: true });
writeFileSync(
  out,
  JSON.stringify(
    {
      date: new Date().toISOString(),
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
