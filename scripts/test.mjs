#!/usr/bin/env node
/**
 * `npm test`: every workspace's tests through turbo, then one line per suite that was skipped
 * and why (each suite that needs something npm cannot give records its skip in the file named
 * by POSTERN_SKIP_LOG; see packages/testkit/src/skips.ts). With POSTERN_TEST_ALL=1 (.ci/run sets
 * it) a skip is a failure, so CI proves that every suite ran.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'postern-test-'));
const log = join(dir, 'skips.jsonl');
writeFileSync(log, '');
const started = Date.now();
const r = spawnSync('npx', ['turbo', 'run', 'test', '--concurrency=1', ...process.argv.slice(2)], {
  stdio: 'inherit',
  env: { ...process.env, POSTERN_SKIP_LOG: log, TURBO_TELEMETRY_DISABLED: '1' },
});
const skips = readFileSync(log, 'utf8')
  .split('\n')
  .filter((l) => l !== '')
  .map((l) => JSON.parse(l));
rmSync(dir, { recursive: true, force: true });

const seen = new Set();
const lines = [];
for (const s of skips) {
  const line = `skipped: ${s.suite} — needs ${s.needs}`;
  if (!seen.has(line)) lines.push(line);
  seen.add(line);
}
const minutes = ((Date.now() - started) / 60_000).toFixed(1);
process.stdout.write(
  `\nnpm test: ${r.status === 0 ? 'passed' : 'FAILED'} in ${minutes} min; ${lines.length === 0 ? 'no suite skipped' : `${lines.length} suite(s) skipped:`}\n`,
);
for (const l of lines) process.stdout.write(`  ${l}\n`);
if (lines.length > 0 && process.env.POSTERN_TEST_ALL === '1') {
  process.stdout.write('POSTERN_TEST_ALL=1: a skipped suite is a failure\n');
  process.exit(1);
}
process.exit(r.status ?? 1);
