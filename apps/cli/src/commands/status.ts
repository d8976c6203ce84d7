/**
 * `postern status`: what `postern start` says about each app (data/supervisor.json): running or
 * not, since when, restarts in the last hour, the last exit (code or signal, after how long) and
 * the last lines it wrote to stderr; a crash loop is named. `--json` prints the same as data.
 *
 * Exit code: 0 when the supervisor runs and every app is running, 1 when an app is not, 3 when
 * the supervisor is not running (as `systemctl status` uses 3 for "not running").
 */
import type { Command } from 'commander';
import { configOf } from '../context.js';
import { alive, EXIT_MEMORY_MS, exitsWithin, readStatus, statusFile, type AppStatus, type SupervisorStatus } from '../supervision.js';

export interface AppReport {
  app: string;
  state: 'running' | 'starting' | 'crash-loop' | 'restarting' | 'stopped';
  pid: number | null;
  since: string;
  restartsLastHour: number;
  lastExit: { at: string; code: number | null; signal: string | null; ranMs: number; stderr: string[] } | null;
}

export interface StatusReport {
  running: boolean;
  supervisor: { pid: number; since: string; config: string } | null;
  apps: AppReport[];
}

const iso = (t: number): string => new Date(t).toISOString();

function stateOf(a: AppStatus, supervisorUp: boolean): AppReport['state'] {
  if (!supervisorUp || a.stopped) return 'stopped';
  if (a.crashLoop) return 'crash-loop';
  if (a.running) return a.ready ? 'running' : 'starting';
  return 'restarting';
}

export function report(status: SupervisorStatus | null, now = Date.now()): StatusReport {
  if (!status) return { running: false, supervisor: null, apps: [] };
  const up = !status.stopped && alive(status.pid);
  return {
    running: up,
    supervisor: { pid: status.pid, since: iso(status.since), config: status.config },
    apps: status.apps.map((a) => ({
      app: a.app,
      state: stateOf(a, up),
      pid: up && a.running ? a.pid : null,
      since: iso(a.since),
      restartsLastHour: exitsWithin(a, now, EXIT_MEMORY_MS),
      lastExit: a.lastExit ? { ...a.lastExit, at: iso(a.lastExit.at) } : null,
    })),
  };
}

function ago(t: string, now: number): string {
  const s = Math.max(0, Math.round((now - Date.parse(t)) / 1000));
  if (s < 120) return `${s} s ago`;
  if (s < 7200) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}

function exitText(e: NonNullable<AppReport['lastExit']>, now: number): string {
  return `${e.signal ?? `code ${e.code}`} ${ago(e.at, now)}, after ${(e.ranMs / 1000).toFixed(1)} s`;
}

export function formatReport(r: StatusReport, file: string, now = Date.now()): string {
  if (!r.supervisor) return `postern is not running here (no ${file}: postern start writes it)\n`;
  const lines: string[] = [];
  lines.push(
    r.running
      ? `postern start is running (pid ${r.supervisor.pid}) since ${r.supervisor.since} (${ago(r.supervisor.since, now)}), config ${r.supervisor.config}`
      : `postern start is not running (pid ${r.supervisor.pid} is gone or stopped); the apps as it last saw them:`,
  );
  const rows = r.apps.map((a) => [
    a.app,
    a.state,
    a.pid === null ? '-' : String(a.pid),
    `${a.since} (${ago(a.since, now)})`,
    String(a.restartsLastHour),
    a.lastExit ? exitText(a.lastExit, now) : '-',
  ]);
  const head = ['APP', 'STATE', 'PID', 'SINCE', 'RESTARTS/1H', 'LAST EXIT'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const fmt = (cells: string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  lines.push(fmt(head), ...rows.map(fmt));
  for (const a of r.apps) {
    if (!a.lastExit || a.lastExit.stderr.length === 0) continue;
    lines.push('', `${a.app}: last lines on stderr before it exited:`, ...a.lastExit.stderr.map((l) => `  | ${l}`));
  }
  return `${lines.join('\n')}\n`;
}

export function register(program: Command): void {
  program
    .command('status')
    .description('what postern start says about each app: running, since when, restarts, last exit and its stderr')
    .option('--json', 'print as JSON')
    .action((o: { json?: boolean }, cmd: Command) => {
      const config = configOf(cmd);
      const file = statusFile(config.dataDir);
      const r = report(readStatus(file));
      process.stdout.write(o.json ? `${JSON.stringify(r, null, 2)}\n` : formatReport(r, file));
      process.exitCode = !r.running ? 3 : r.apps.every((a) => a.state === 'running') ? 0 : 1;
    });
}
