/**
 * Loud skips. A suite that needs something npm cannot give (a Debian package, root, a kernel
 * feature) asks `requirement()` first. What is missing is never skipped silently:
 *
 * - each skip prints one line, `skipped: <suite> — needs <what>: <how to get it>`;
 * - it is appended to the file named by `POSTERN_SKIP_LOG` (the root `npm test` sets it), so the
 *   whole run ends with one summary of every suite that did not run;
 * - with `POSTERN_TEST_ALL=1` (CI sets it) a missing requirement is an error instead, so CI
 *   proves that every suite ran.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, appendFileSync, constants } from 'node:fs';

export interface Need {
  /** What is needed, as a person would say it: "chromium", "root", "dovecot". */
  what: string;
  /** Whether it is there. */
  ok: boolean;
  /** How to get it: "apt-get install chromium", "run as root". */
  install: string;
}

/** Whether `cmd` is on the PATH (or an absolute path to an executable). */
export function hasCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', 'command -v "$1"', 'sh', cmd], { stdio: 'ignore' }).status === 0;
}

/** Whether `path` is a program this process may run. */
export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** A Debian package's command: `commandNeed('swaks')`, `commandNeed('dnsmasq', 'dnsmasq-base')`. */
export function commandNeed(cmd: string, pkg = cmd): Need {
  return { what: cmd, ok: hasCommand(cmd), install: `apt-get install ${pkg}` };
}

export function rootNeed(why = 'root'): Need {
  return { what: why, ok: typeof process.getuid === 'function' && process.getuid() === 0, install: 'run the tests as root' };
}

/** The environment variable that turns every skip into a failure. */
export const TEST_ALL = 'POSTERN_TEST_ALL';
/** The file every skip is appended to, one JSON object per line. */
export const SKIP_LOG = 'POSTERN_SKIP_LOG';

export interface SkipRecord {
  suite: string;
  needs: string;
}

/**
 * The reason `suite` cannot run here, or null when everything it needs is present. A non-null
 * result has been printed and logged; under POSTERN_TEST_ALL=1 this throws instead.
 */
export function requirement(suite: string, needs: readonly Need[]): string | null {
  const missing = needs.filter((n) => !n.ok);
  if (missing.length === 0) return null;
  const why = missing.map((n) => `${n.what}: ${n.install}`).join('; ');
  return skip(suite, why);
}

/** Records a skip whose reason was found some other way (a probe that failed, say). */
export function skip(suite: string, needs: string): string {
  if (process.env[TEST_ALL] === '1') {
    throw new Error(`${suite} cannot run (${TEST_ALL}=1 forbids skipping): needs ${needs}`);
  }
  process.stderr.write(`skipped: ${suite} — needs ${needs}\n`);
  const log = process.env[SKIP_LOG];
  if (log) appendFileSync(log, `${JSON.stringify({ suite, needs } satisfies SkipRecord)}\n`);
  return needs;
}
