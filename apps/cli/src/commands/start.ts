/**
 * `postern start`: runs every app as its own process (delivery first, then transfer, submission,
 * webmail), each once the one before is listening, restarts one that dies (at once after one
 * exit, with a growing pause while it keeps dying), stops them all on SIGINT/SIGTERM, and prints
 * what listens where. An app whose listener cannot bind its address (a port taken by another
 * mail server) is tried a few times; then everything stops, the reason is printed, and the exit
 * code is 1: never "running" without it.
 *
 * What happened is logged (JSON lines, app "supervisor": each start, each exit with its code or
 * signal and its last stderr lines, a crash loop once as an error) and kept in
 * data/supervisor.json for `postern status`. When an app becomes ready the others are told over
 * their IPC channel ({ postern: 'peer-ready', app }): the transfer app then retries at once what
 * the delivery agent could not take while it was down.
 *
 * `--dev-bootstrap` (what `npm start` uses): with no config yet, runs `init --dev`, creates a
 * demo user with a random password printed once, then starts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Writable } from 'node:stream';
import { createInterface } from 'node:readline';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Option, type Command } from 'commander';
import { createLogger, EXIT_LISTEN_FAILED, loadConfig, openMailDb, type Config, type Logger, type PeerReadyMessage } from '@postern/core';
import { startMetricsEndpoint, type MetricsEndpoint } from '@postern/metrics';
import { CliError, configFileOf } from '../context.js';
import { runInit } from './init.js';
import { scheduleBackups } from './backup.js';
import { upgradeBeforeStart } from './migrate.js';
import { formatLogLine } from '../log-format.js';
import {
  CRASH_LOOP_EXITS,
  CRASH_LOOP_WINDOW_MS,
  EXIT_MEMORY_MS,
  exitsWithin,
  lastLines,
  restartDelay,
  statusFile,
  writeStatus,
  type AppStatus,
  type SupervisorStatus,
} from '../supervision.js';

/** In start order: the delivery agent must listen before transfer hands it mail. */
const APPS = ['delivery', 'transfer', 'submission', 'webmail'] as const;

function appEntry(app: string): string {
  return fileURLToPath(new URL(`../../../${app}/dist/main.js`, import.meta.url));
}

interface Supervised {
  app: string;
  /** The program run for it (its dist/main.js unless --app-entry says otherwise). */
  entry: string;
  child: ChildProcess | null;
  /** The tail of its stderr in this run: what it said before it exited. */
  lastError: string;
  status: AppStatus;
}

/** SIGTERM to every running app, SIGKILL after 15 s. */
async function stopAll(apps: readonly Supervised[]): Promise<void> {
  await Promise.all(
    apps.map(async (a) => {
      const child = a.child;
      if (!child) return;
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await gone;
      clearTimeout(t);
    }),
  );
}

export function describeListeners(config: Config): string {
  const l = config.listen;
  const rows: Array<[string, string | undefined]> = [
    ['SMTP (MX, port 25 role)', l.smtp],
    ['Submission (STARTTLS)', l.submission],
    ['Submission (TLS)', l.submissions],
    ['IMAP (STARTTLS)', l.imap],
    ['IMAP (TLS)', l.imaps],
    ['POP3 (STLS)', l.pop3],
    ['POP3 (TLS)', l.pop3s],
    ['LMTP (internal)', l.lmtp],
    ['Webmail', l.webmail ? `http://${l.webmail}/` : undefined],
    ['HTTPS (webmail, MTA-STS)', l.https ? `https://${config.hostname}/ on ${l.https}` : undefined],
    ['HTTP (ACME, redirects)', l.http],
  ];
  return rows
    .filter(([, v]) => v)
    .map(([k, v]) => `  ${k.padEnd(26)} ${v}`)
    .join('\n');
}

export function register(program: Command): void {
  program
    .command('start')
    .description('run every Postern app, each as its own process')
    .option('--dev-bootstrap', 'first run: init --dev and create a demo user when there is no config')
    // Fault drills and tests: run another program in an app's place (one that crashes, say).
    .addOption(new Option('--app-entry <app=file...>', 'run FILE as APP').hideHelp())
    .action(async (o: { devBootstrap?: boolean; appEntry?: string[] }, cmd: Command) => {
      const file = configFileOf(cmd);
      let demo: { user: string; password: string } | null = null;
      if (o.devBootstrap && !existsSync(file)) {
        const config = await runInit(file, { dev: true });
        const m = openMailDb(config);
        try {
          const password = randomBytes(9).toString('base64url');
          const user = await m.accounts.addUser('demo@postern.test', password);
          demo = { user: user.address, password };
        } finally {
          m.close();
        }
      }
      const config = loadConfig(file);
      const entries = new Map<string, string>();
      for (const e of o.appEntry ?? []) {
        const [app, path] = [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)];
        if (!(APPS as readonly string[]).includes(app) || path === '') throw new CliError(`--app-entry ${e}: expected APP=FILE, APP one of ${APPS.join(', ')}`);
        entries.set(app, path);
      }
      // migrations with a backup first and a rollback on failure, before any app opens a database
      await upgradeBeforeStart(config, (line) => process.stdout.write(`postern: ${line}\n`));
      await supervise(config, file, demo, entries);
    });
}

/** Tries to start an app whose listener could not bind this many more times before giving up. */
const LISTEN_RETRIES = 3;

/** The supervisor's own log: JSON lines on stdout, made readable in a terminal as the apps' are. */
function supervisorLogger(config: Config, pretty: boolean): Logger {
  if (!pretty) return createLogger('supervisor', config.log_level);
  const out = new Writable({
    write(chunk: Buffer, _enc, done): void {
      for (const line of chunk.toString().split('\n')) if (line !== '') process.stdout.write(`${formatLogLine(line)}\n`);
      done();
    },
  });
  return createLogger('supervisor', config.log_level, out);
}

async function supervise(config: Config, file: string, demo: { user: string; password: string } | null, entries: ReadonlyMap<string, string>): Promise<void> {
  const pretty = process.stdout.isTTY === true;
  const log = supervisorLogger(config, pretty);
  const apps: Supervised[] = APPS.filter((a) => entries.has(a) || existsSync(appEntry(a))).map((app) => ({
    app,
    entry: entries.get(app) ?? appEntry(app),
    child: null,
    lastError: '',
    status: { app, running: false, ready: false, pid: null, since: Date.now(), exits: [], lastExit: null, crashLoop: false, stopped: false },
  }));
  const stateFile = statusFile(config.dataDir);
  const state: SupervisorStatus = { pid: process.pid, since: Date.now(), config: file, stopped: false, updated: 0, apps: apps.map((a) => a.status) };
  const save = (): void => {
    state.updated = Date.now();
    const now = Date.now();
    for (const a of apps) a.status.exits = a.status.exits.filter((t) => now - t <= EXIT_MEMORY_MS);
    try {
      writeStatus(stateFile, state);
    } catch (err) {
      // status is for people; failing to write it must not stop the mail
      log.warn({ err, file: stateFile }, 'cannot write the status file');
    }
  };
  let stopping = false;
  /** Restarts waiting for their pause: cleared on stop, so nothing holds the process then. */
  const pending = new Set<NodeJS.Timeout>();
  let failure: string | null = null;
  let failed: () => void = () => undefined;
  let metricsEndpoint: MetricsEndpoint | null = null;

  /** Tells every other running app that `s` is ready (the transfer app retries its backlog). */
  const announce = (s: Supervised): void => {
    const message: PeerReadyMessage = { postern: 'peer-ready', app: s.app };
    for (const other of apps) {
      if (other === s || !other.child?.connected) continue;
      other.child.send(message, (err) => {
        if (err) log.debug({ child: other.app, err: err.message }, 'could not tell it another app is ready');
      });
    }
  };

  /** Starts the app; resolves "ready" once every listener is bound, or the exit code. */
  const launch = (s: Supervised): Promise<'ready' | number> => {
    const startedAt = Date.now();
    s.lastError = '';
    // In a terminal the JSON log lines are made readable; to a file or journal they stay JSON.
    // the IPC channel carries runApp's "ready" (every listener bound) and our "peer-ready"
    const child = spawn(process.execPath, [s.entry, '--config', file], { stdio: ['ignore', pretty ? 'pipe' : 'inherit', 'pipe', 'ipc'] });
    if (pretty && child.stdout) createInterface({ input: child.stdout }).on('line', (line) => process.stdout.write(`${formatLogLine(line)}\n`));
    child.stderr?.on('data', (d: Buffer) => {
      process.stderr.write(d);
      s.lastError = (s.lastError + d.toString()).slice(-4000);
    });
    s.child = child;
    Object.assign(s.status, { running: true, ready: false, pid: child.pid ?? null, since: startedAt, stopped: false });
    save();
    let ready = false;
    const started = new Promise<'ready' | number>((resolve) => {
      child.on('message', (m: unknown) => {
        if ((m as { postern?: string } | null)?.postern !== 'ready' || ready) return;
        ready = true;
        s.status.ready = true;
        save();
        log.info({ child: s.app, pid: child.pid, startup_ms: Date.now() - startedAt }, `${s.app} ready`);
        announce(s);
        resolve('ready');
      });
      child.once('exit', (code) => resolve(code ?? 1));
    });
    child.on('exit', (code, signal) => {
      s.child = null;
      const now = Date.now();
      const exit = { at: now, code, signal, ranMs: now - startedAt, stderr: lastLines(s.lastError) };
      // out of a crash loop once it ran longer than the loop's window
      if (exit.ranMs > CRASH_LOOP_WINDOW_MS) s.status.crashLoop = false;
      Object.assign(s.status, { running: false, ready: false, pid: null, since: now, lastExit: exit });
      if (stopping) {
        s.status.stopped = true;
        save();
        return;
      }
      s.status.exits.push(now);
      save();
      if (!ready) return; // before ready, bringUp decides
      restart(s);
    });
    return started;
  };

  /** Logs the exit and starts the app again after restartDelay; a crash loop is an error, once. */
  const restart = (s: Supervised): void => {
    const exit = s.status.lastExit!;
    if (exit.code === 2) {
      s.status.stopped = true;
      save();
      log.error({ child: s.app, code: 2, stderr: exit.stderr }, `${s.app} refused its configuration; not restarting it`);
      process.stderr.write(`postern: ${s.app} refused its configuration; not restarting it\n`);
      return;
    }
    const now = Date.now();
    const recent = exitsWithin(s.status, now, CRASH_LOOP_WINDOW_MS);
    const delay = restartDelay(recent);
    const detail = {
      child: s.app,
      code: exit.code,
      signal: exit.signal,
      ran_ms: exit.ranMs,
      restarts_last_hour: exitsWithin(s.status, now, EXIT_MEMORY_MS),
      restart_in_ms: delay,
      stderr: exit.stderr,
    };
    log.warn(detail, `${s.app} exited (${exit.signal ?? `code ${exit.code}`}); restarting in ${delay} ms`);
    if (recent >= CRASH_LOOP_EXITS && !s.status.crashLoop) {
      s.status.crashLoop = true;
      save();
      log.error(
        { ...detail, exits: recent, window_s: CRASH_LOOP_WINDOW_MS / 1000 },
        `${s.app} is crash-looping: ${recent} exits in ${CRASH_LOOP_WINDOW_MS / 60_000} minutes, the last ${exit.signal ?? `with code ${exit.code}`}${exit.stderr.length ? `: ${exit.stderr[exit.stderr.length - 1]}` : ''}`,
      );
    }
    const timer = setTimeout(() => {
      pending.delete(timer);
      if (stopping) return;
      void bringUp(s, false).then((ok) => {
        if (!ok) failed();
      });
    }, delay);
    pending.add(timer);
  };

  /**
   * Starts `s` until it is ready; a listener that cannot bind is tried LISTEN_RETRIES more times.
   * At the first start an app that exits before it is ready stops everything; on a restart it
   * is restarted again (with the growing pause) unless its listener or its config is the cause.
   */
  const bringUp = async (s: Supervised, first: boolean): Promise<boolean> => {
    for (let attempt = 0; ; attempt++) {
      const r = await launch(s);
      if (r === 'ready') return true;
      if (stopping) return false;
      const line = s.lastError.trim().split('\n').pop() ?? '';
      if (r === EXIT_LISTEN_FAILED && attempt < LISTEN_RETRIES) {
        log.warn({ child: s.app, stderr: s.status.lastExit?.stderr }, `${s.app} could not listen; trying again in ${attempt + 1} s`);
        await new Promise((res) => setTimeout(res, 1000 * (attempt + 1)));
        continue;
      }
      if (!first && r !== EXIT_LISTEN_FAILED && r !== 2) {
        restart(s);
        return true;
      }
      failure =
        r === EXIT_LISTEN_FAILED
          ? `${s.app} could not listen after ${LISTEN_RETRIES + 1} tries: ${line.replace(/^postern-\w+: /, '')}`
          : `${s.app} did not start (exit code ${r}): ${line.replace(/^postern-\w+: /, '')}`;
      return false;
    }
  };

  let stopped: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (stopped = resolve));
  const finish = (): void => {
    state.stopped = true;
    save();
    stopped();
  };
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    for (const t of pending) clearTimeout(t);
    process.stdout.write('postern: stopping\n');
    void Promise.all([stopAll(apps), metricsEndpoint?.close()]).then(finish);
  };
  failed = (): void => {
    // an app that cannot come back (its port taken meanwhile): the rest must not go on alone
    log.error({ reason: failure }, 'stopping everything');
    process.stderr.write(`postern: stopping everything: ${failure ?? 'an app did not come back'}\n`);
    process.exitCode = 1;
    stop();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  // the supervisor serves the one scrape endpoint; the apps' registries are asked at each scrape
  if (config.listen.metrics) metricsEndpoint = await startMetricsEndpoint(config, createLogger('metrics', config.log_level));

  save();
  for (const s of apps) {
    if (!(await bringUp(s, true))) break;
  }
  if (stopping) return done;
  if (failure) {
    stopping = true;
    await stopAll(apps);
    state.stopped = true;
    save();
    log.error({ reason: failure }, 'not running');
    process.stderr.write(`\npostern: not running: ${failure}\n`);
    process.exitCode = 1;
    return;
  }

  process.stdout.write(
    `\nPostern is running (${config.profile} profile), apps: ${apps.map((a) => a.app).join(', ')}\n` +
      `config ${file}, data in ${config.dataDir}\n\n${describeListeners(config)}\n\n`,
  );
  if (demo) {
    process.stdout.write(`A demo user was created. Its password is shown only this once:\n  user     ${demo.user}\n  password ${demo.password}\n\n`);
  }
  const l = config.listen;
  process.stdout.write(
    `Connect a mail client with your full address as the user name:\n` +
      (l.imap ? `  incoming: IMAP ${l.imap} (STARTTLS${config.profile === 'development' ? ' or plain on loopback' : ''})\n` : '') +
      (l.submission ? `  outgoing: SMTP ${l.submission} (STARTTLS, password auth)\n` : '') +
      `  the certificate is self-signed unless [tls] points at a real one.\n` +
      (l.webmail ? `  webmail: http://${l.webmail}/\n` : '') +
      `Stop with Ctrl-C.\n`,
  );

  scheduleBackups(config, (line) => process.stdout.write(`postern: ${line}\n`));
  return done;
}
