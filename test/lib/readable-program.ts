/**
 * The postern program as an unprivileged user (uid 65534, "nobody") can run it. A checkout in a
 * directory only its owner may enter (a home directory, `mktemp -d`) is not readable by that
 * user, so then what the program needs (package.json, apps/, packages/, node_modules/) is copied
 * to a directory it can read; `cleanup()` removes the copy. Needs root (setpriv).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The unprivileged uid/gid ("nobody" on Debian). */
export const NOBODY = 65534;

const root = fileURLToPath(new URL('../../', import.meta.url));
export const POSTERN_JS = join(root, 'apps', 'cli', 'bin', 'postern.js');

/** Whether uid 65534 can read `file` (every directory above it must let it pass). */
export function readableByNobody(file: string): boolean {
  const probe = `require('node:fs').accessSync(${JSON.stringify(file)}, require('node:fs').constants.R_OK)`;
  const asNobody = ['--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups'];
  return spawnSync('setpriv', [...asNobody, process.execPath, '-e', probe], { stdio: 'ignore' }).status === 0;
}

export interface ReadableProgram {
  /** apps/cli/bin/postern.js, in the checkout or in the copy. */
  bin: string;
  /** Whether `bin` is a copy (the checkout is private). */
  copied: boolean;
  cleanup(): void;
}

export function readableProgram(): ReadableProgram {
  if (readableByNobody(POSTERN_JS)) return { bin: POSTERN_JS, copied: false, cleanup: () => undefined };
  const copy = mkdtempSync(join(tmpdir(), 'postern-program-'));
  chmodSync(copy, 0o755);
  for (const part of ['package.json', 'apps', 'packages', 'node_modules'])
    cpSync(join(root, part), join(copy, part), { recursive: true, verbatimSymlinks: true });
  const bin = join(copy, 'apps', 'cli', 'bin', 'postern.js');
  if (!readableByNobody(bin)) throw new Error(`uid ${NOBODY} cannot read ${bin} even after copying the program to ${copy}`);
  return { bin, copied: true, cleanup: () => rmSync(copy, { recursive: true, force: true }) };
}
