#!/usr/bin/env node
// Renders the JSON that bench/compare/smtp.mjs and imap.mjs write as Markdown tables (what
// BENCHMARKS.md shows): `node bench/compare/table.mjs bench/compare/results/smtp-....json ...`
import { readFileSync } from 'node:fs';

const f = (v, d = 0) => (v === null || v === undefined || Number.isNaN(v) ? '–' : v.toFixed(d));
const sum = (o) => Object.values(o).reduce((a, b) => a + b, 0);
const human = (size) => (size >= 1024 ? `${size / 1024} KB` : `${size} B`);
const name = (s) => (s === 'postern' ? 'Postern' : s === 'postfix-dovecot' ? 'Postfix + Dovecot' : s === 'dovecot' ? 'Dovecot' : s);

function smtp(doc) {
  const out = [];
  for (const gen of [...new Set(doc.rows.map((r) => r.generator))]) {
    out.push(
      gen === 'own'
        ? '\n**Kept connections** (bench/compare load: C connections, one transaction at a time each)\n'
        : "\n**smtp-source** (Postfix's generator: a new connection per message, C sessions in parallel, all to one user)\n",
    );
    out.push(
      '| size | C | N | system | accepted/s | delivered/s | ratio (delivered) | p50 ms | p99 ms | CPU s (per app) | peak PSS MB (per app) | search index caught up |',
    );
    out.push('|---|---|---|---|---|---|---|---|---|---|---|---|');
    const rows = doc.rows.filter((r) => r.generator === gen);
    for (const r of rows) {
      const other = rows.find((o) => o.size === r.size && o.connections === r.connections && o.system !== r.system);
      const ratio = r.system === 'postern' && other ? `**${f(r.delivered_per_s / other.delivered_per_s, 2)}×**` : '';
      const per = (o, d) =>
        Object.entries(o)
          .map(([k, v]) => `${k} ${f(v, d)}`)
          .join(', ');
      out.push(
        `| ${human(r.size)} | ${r.connections} | ${r.messages} | ${name(r.system)} | ${f(r.accepted_per_s)} | ${f(r.delivered_per_s)} | ${ratio} | ${f(r.p50_ms, 1)} | ${f(r.p99_ms, 1)} | ${f(sum(r.cpu_s), 1)} (${per(r.cpu_s, 1)}) | ${f(sum(r.peak_pss_mb))} (${per(r.peak_pss_mb, 0)}) | ${r.index_caught_up_s === undefined || r.index_caught_up_s === null ? '' : `+${f(r.index_caught_up_s, 1)} s`} |`,
      );
    }
  }
  return out.join('\n');
}

function imap(doc) {
  const out = [
    '| messages | system | pass | LOGIN ms | SELECT ms | UID FETCH 1:* (FLAGS) ms | FETCH 1:* (ENVELOPE) ms | SEARCH SUBJECT ms | SEARCH TEXT ms | body MB/s (1 MB msgs) | body MB/s (1.5 KB msgs) |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of doc.rows) {
    for (const pass of ['cold', 'warm']) {
      const o = r[pass];
      out.push(
        `| ${r.messages.toLocaleString('en')} | ${name(r.system)} | ${pass} | ${f(o.login_ms, 1)} | ${f(o.select_ms, 1)} | ${f(o.fetch_flags_ms)} | ${f(o.fetch_envelope_ms)} | ${f(o.search_header_ms, 1)} | ${f(o.search_text_ms, 1)} | ${f(o.body_big_mb_s)} | ${f(o.body_small_mb_s)} |`,
      );
    }
  }
  out.push(
    '',
    '| messages | system | IDLE connections | memory per connection (PSS) | server memory in all | time to get there (connect, LOGIN, SELECT, IDLE) |',
    '|---|---|---|---|---|---|',
  );
  // `idle` is a list, one entry per --idle count (older runs: one object)
  for (const r of doc.rows) {
    for (const i of [r.idle ?? []].flat()) {
      out.push(
        `| ${r.messages.toLocaleString('en')} | ${name(r.system)} | ${i.connections.toLocaleString('en')} | ${f(i.per_connection_kb)} KB | ${f(i.total_mb)} MB | ${f(i.setup_ms / 1000)} s |`,
      );
    }
  }
  return out.join('\n');
}

for (const file of process.argv.slice(2)) {
  const doc = JSON.parse(readFileSync(file, 'utf8'));
  const m = doc.machine;
  console.log(
    `\n<!-- ${file} -->\n_${doc.date}; ${m.cpus} × ${m.model}, ${f(m.memory_gib)} GiB, Node ${m.node}; load average at start ${m.loadavg_start?.map((l) => f(l, 1)).join(' ') ?? '?'}_\n`,
  );
  console.log(doc.rows[0] && 'generator' in doc.rows[0] ? smtp(doc) : imap(doc));
}
