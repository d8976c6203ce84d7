/**
 * `postern start`: runs every app as its own process (delivery first, then transfer, submission,
 * webmail), restarts one that dies (with a growing pause), stops them all on SIGINT/SIGTERM, and
 * prints what listens where.
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
import { loadConfig, openMailDb, type Config } from '@postern/core';
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

async function supervise(config: Config, file: string, demo: { user: string; password: string } | null): Promise<void> {
  const apps: Supervised[] = APPS.filter((a) => existsSync(appEntry(a))).map((app) => ({ app, child: null, restarts: 0, startedAt: 0 }));
  let stopping = false;

  const launch = (s: Supervised): void => {
    s.startedAt = Date.now();
    // In a terminal the JSON log lines are made readable; to a file or journal they stay JSON.
    const pretty = process.stdout.isTTY === true;
    const child = spawn(process.execPath, [appEntry(s.app), '--config', file], { stdio: ['ignore', pretty ? 'pipe' : 'inherit', 'inherit'] });
    if (pretty && child.stdout) createInterface({ input: child.stdout }).on('line', (line) => process.stdout.write(`${formatLogLine(line)}\n`));
    s.child = child;
    child.on('exit', (code, signal) => {
      s.child = null;
      if (stopping) return;
      if (code === 2) {
        process.stderr.write(`postern: ${s.app} refused its configuration; not restarting it\n`);
        return;
      }
      // A process that ran a while restarts at once; one that keeps dying waits longer each time.
      if (Date.now() - s.startedAt > 60_000) s.restarts = 0;
      const delay = Math.min(30_000, 500 * 2 ** s.restarts++);
      process.stderr.write(`postern: ${s.app} exited (${signal ?? `code ${code}`}); restarting in ${delay} ms\n`);
      setTimeout(() => !stopping && launch(s), delay);
    });
  };

  for (const s of apps) launch(s);

  process.stdout.write(
    `\nPostern is running (${config.profile} profile), apps: ${apps.map((a) => a.app).join(', ')}\n` +
      `config ${file}, data in ${config.dataDir}\n\n${describeListeners(config)}\n\n`,
  );
  if (demo) {
    process.stdout.write(
      `A demo user was created. Its password is shown only this once:\n  user     ${demo.user}\n  password ${demo.password}\n\n`,
    );
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

  await new Promise<void>((resolve) => {
    const stop = (): void => {
      if (stopping) return;
      stopping = true;
      process.stdout.write('postern: stopping\n');
      const running = apps.filter((a) => a.child);
      if (running.length === 0) resolve();
      let left = running.length;
      for (const a of running) {
        a.child!.once('exit', () => --left === 0 && resolve());
        a.child!.kill('SIGTERM');
      }
      setTimeout(() => {
        for (const a of apps) a.child?.kill('SIGKILL');
        resolve();
      }, 15_000).unref();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
