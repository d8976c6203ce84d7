/**
 * `postern start`: runs every app as its own process (delivery first, then transfer, submission,
 * webmail), each once the one before is listening, restarts one that dies (with a growing
 * pause), stops them all on SIGINT/SIGTERM, and prints what listens where. An app whose listener
 * cannot bind its address (a port taken by another mail server) is tried a few times; then
 * everything stops, the reason is printed, and the exit code is 1: never "running" without it.
 *
 * `--dev-bootstrap` (what `npm start` uses): with no config yet, runs `init --dev`, creates a
 * demo user with a random password printed once, then starts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { createLogger, EXIT_LISTEN_FAILED, loadConfig, openMailDb, type Config } from '@postern/core';
import { startMetricsEndpoint, type MetricsEndpoint } from '@postern/metrics';
import { configFileOf } from '../context.js';
import { runInit } from './init.js';
import { formatLogLine } from '../log-format.js';

/** In start order: the delivery agent must listen before transfer hands it mail. */
const APPS = ['delivery', 'transfer', 'submission', 'webmail'] as const;

function appEntry(app: string): string {
  return fileURLToPath(new URL(`../../../${app}/dist/main.js`, import.meta.url));
}

interface Supervised {
  app: string;
  child: ChildProcess | null;
  restarts: number;
  startedAt: number;
  /** The tail of its stderr: what it said before it exited. */
  lastError: string;
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
    .action(async (o: { devBootstrap?: boolean }, cmd: Command) => {
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
      await supervise(config, file, demo);
    });
}

/** Tries to start an app whose listener could not bind this many more times before giving up. */
const LISTEN_RETRIES = 3;

async function supervise(config: Config, file: string, demo: { user: string; password: string } | null): Promise<void> {
  const apps: Supervised[] = APPS.filter((a) => existsSync(appEntry(a))).map((app) => ({ app, child: null, restarts: 0, startedAt: 0, lastError: '' }));
  let stopping = false;
  let failure: string | null = null;
  let failed: () => void = () => undefined;
  let metricsEndpoint: MetricsEndpoint | null = null;

  /** Starts the app; resolves "ready" once every listener is bound, or the exit code. */
  const launch = (s: Supervised): Promise<'ready' | number> => {
    s.startedAt = Date.now();
    // In a terminal the JSON log lines are made readable; to a file or journal they stay JSON.
    const pretty = process.stdout.isTTY === true;
    // the IPC channel carries runApp's "ready" (every listener bound)
    const child = spawn(process.execPath, [appEntry(s.app), '--config', file], { stdio: ['ignore', pretty ? 'pipe' : 'inherit', 'pipe', 'ipc'] });
    if (pretty && child.stdout) createInterface({ input: child.stdout }).on('line', (line) => process.stdout.write(`${formatLogLine(line)}\n`));
    child.stderr?.on('data', (d: Buffer) => {
      process.stderr.write(d);
      s.lastError = (s.lastError + d.toString()).slice(-2000);
    });
    s.child = child;
    let ready = false;
    const started = new Promise<'ready' | number>((resolve) => {
      child.on('message', (m: unknown) => {
        if ((m as { postern?: string } | null)?.postern !== 'ready') return;
        ready = true;
        s.restarts = 0;
        resolve('ready');
      });
      child.once('exit', (code) => resolve(code ?? 1));
    });
    child.on('exit', (code, signal) => {
      s.child = null;
      if (stopping || !ready) return; // before ready, the caller decides
      if (code === 2) {
        process.stderr.write(`postern: ${s.app} refused its configuration; not restarting it\n`);
        return;
      }
      // A process that ran a while restarts at once; one that keeps dying waits longer each time.
      if (Date.now() - s.startedAt > 60_000) s.restarts = 0;
      const delay = Math.min(30_000, 500 * 2 ** s.restarts++);
      process.stderr.write(`postern: ${s.app} exited (${signal ?? `code ${code}`}); restarting in ${delay} ms\n`);
      setTimeout(() => {
        if (stopping) return;
        void bringUp(s).then((ok) => {
          if (!ok) failed();
        });
      }, delay);
    });
    return started;
  };

  /** Starts `s` until it is ready; a listener that cannot bind is tried LISTEN_RETRIES more times. */
  const bringUp = async (s: Supervised): Promise<boolean> => {
    for (let attempt = 0; ; attempt++) {
      s.lastError = '';
      const r = await launch(s);
      if (r === 'ready') return true;
      if (stopping) return false;
      const line = s.lastError.trim().split('\n').pop() ?? '';
      if (r === EXIT_LISTEN_FAILED && attempt < LISTEN_RETRIES) {
        process.stderr.write(`postern: ${s.app} could not listen; trying again in ${attempt + 1} s\n`);
        await new Promise((res) => setTimeout(res, 1000 * (attempt + 1)));
        continue;
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
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    process.stdout.write('postern: stopping\n');
    void Promise.all([stopAll(apps), metricsEndpoint?.close()]).then(stopped);
  };
  failed = (): void => {
    // an app that cannot come back (its port taken meanwhile): the rest must not go on alone
    process.stderr.write(`postern: stopping everything: ${failure ?? 'an app did not come back'}\n`);
    process.exitCode = 1;
    stop();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  // the supervisor serves the one scrape endpoint; the apps' registries are asked at each scrape
  if (config.listen.metrics) metricsEndpoint = await startMetricsEndpoint(config, createLogger('metrics', config.log_level));

  for (const s of apps) {
    if (!(await bringUp(s))) break;
  }
  if (stopping) return done;
  if (failure) {
    stopping = true;
    await stopAll(apps);
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

  return done;
}
