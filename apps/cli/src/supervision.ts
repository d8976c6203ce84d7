/**
 * What `postern start` knows about the apps it supervises, kept where `postern status` can read
 * it: one JSON file in the data directory (`supervisor.json`), rewritten whole (write, then
 * rename: a reader never sees half a file) on every start, ready and exit. Also the restart
 * policy, which is pure so it can be tested without processes.
 *
 * Invariants:
 * - An exit is recorded with its code or signal, how long the process ran and the last lines it
 *   wrote to stderr, before the restart is scheduled.
 * - A crash loop (CRASH_LOOP_EXITS exits within CRASH_LOOP_WINDOW_MS) is reported once per loop;
 *   an app that then runs longer than the window is out of the loop.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** This many exits within CRASH_LOOP_WINDOW_MS make a crash loop. */
export const CRASH_LOOP_EXITS = 5;
export const CRASH_LOOP_WINDOW_MS = 120_000;
/** Exits are remembered this long ("restarts in the last hour"). */
export const EXIT_MEMORY_MS = 3_600_000;
/** Lines of an app's stderr kept for `postern status`. */
export const STDERR_LINES = 10;

export interface AppExit {
  /** ms since the epoch */
  at: number;
  code: number | null;
  signal: string | null;
  /** How long the process had run. */
  ranMs: number;
  /** Its last lines on stderr (at most STDERR_LINES). */
  stderr: string[];
}

export interface AppStatus {
  app: string;
  running: boolean;
  /** Every listener bound (runApp's "ready"). */
  ready: boolean;
  pid: number | null;
  /** When it was started (running) or when it exited (not running). */
  since: number;
  /** Exit times within the last hour; each was followed by a restart unless `stopped`. */
  exits: number[];
  lastExit: AppExit | null;
  /** In a crash loop now (reported once). */
  crashLoop: boolean;
  /** Not restarted (refused its configuration, or the supervisor is stopping). */
  stopped: boolean;
}

export interface SupervisorStatus {
  pid: number;
  since: number;
  config: string;
  /** The supervisor stopped (cleanly); the apps are gone. */
  stopped: boolean;
  updated: number;
  apps: AppStatus[];
}

export function statusFile(dataDir: string): string {
  return join(dataDir, 'supervisor.json');
}

export function writeStatus(file: string, status: SupervisorStatus): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(status, null, 2)}\n`, { mode: 0o644 });
  renameSync(tmp, file);
}

/** The last status written, or null when there is none (never started here). */
export function readStatus(file: string): SupervisorStatus | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  return JSON.parse(text) as SupervisorStatus;
}

/** Exits of `a` within the last `windowMs` before `now`. */
export function exitsWithin(a: Pick<AppStatus, 'exits'>, now: number, windowMs: number): number {
  return a.exits.filter((t) => now - t <= windowMs).length;
}

/**
 * How long to wait before restarting an app that just exited: at once (100 ms) after a single
 * exit, so one crash costs a user a moment, not minutes; doubling from 500 ms to 30 s while it
 * keeps exiting (counted over CRASH_LOOP_WINDOW_MS), so a crash loop does not burn the CPU.
 */
export function restartDelay(recentExits: number): number {
  if (recentExits <= 1) return 100;
  return Math.min(30_000, 500 * 2 ** (recentExits - 2));
}

/** The last `n` non-empty lines of `text`. */
export function lastLines(text: string, n = STDERR_LINES): string[] {
  return text
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l !== '')
    .slice(-n);
}

/** Whether process `pid` exists (signal 0 checks without sending anything). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
