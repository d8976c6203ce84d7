/**
 * The process entry every Postern app shares: `--config FILE` (or $POSTERN_CONFIG, or
 * ./postern.toml), a refused config printed as one line on stderr (exit 2), a listener that
 * cannot bind its address printed as one line naming it (exit 3), SIGTERM/SIGINT closing the app
 * cleanly (in-flight work finishes), and an exit code that says what happened.
 */
import { ConfigError, configPath, loadConfig, type Config } from './config.js';
import { createLogger, type Logger } from './log.js';

/** runApp's exit code when a configured listener could not bind its address. */
export const EXIT_LISTEN_FAILED = 3;

export interface RunningApp {
  close(): Promise<void>;
  /** Told by the supervisor (`postern start`, over the IPC channel) that another app is ready:
   * every listener bound. The transfer app retries what our delivery agent could not take. */
  peerReady?(app: string): void;
}

/** What `postern start` sends an app over the IPC channel when another app became ready. */
export interface PeerReadyMessage {
  postern: 'peer-ready';
  app: string;
}

function isPeerReady(m: unknown): m is PeerReadyMessage {
  const v = m as Partial<PeerReadyMessage> | null;
  return v !== null && typeof v === 'object' && v.postern === 'peer-ready' && typeof v.app === 'string';
}

/** The value of `--config FILE` / `--config=FILE` in argv, if any. */
export function configArg(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--config' || a === '-c') return argv[i + 1];
    if (a.startsWith('--config=')) return a.slice('--config='.length);
  }
  return undefined;
}

export function runApp(name: string, start: (config: Config, options: { logger: Logger }) => Promise<RunningApp>): void {
  let config: Config;
  try {
    config = loadConfig(configPath(configArg(process.argv.slice(2))));
  } catch (err) {
    process.stderr.write(`postern-${name}: ${err instanceof ConfigError ? err.message : String(err)}\n`);
    process.exit(2);
  }
  const logger = createLogger(name, config.log_level);
  let app: RunningApp | null = null;
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    void (app ? app.close() : Promise.resolve()).then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('uncaughtException', (err) => {
    logger.fatal({ err }, 'uncaught exception');
    process.exit(70); // EX_SOFTWARE: the supervisor restarts us
  });
  start(config, { logger }).then(
    (running) => {
      app = running;
      if (stopping) void running.close().then(() => process.exit(0));
      // A parent that gave us an IPC channel (the supervisor, the test harness) learns that every
      // listener is bound, which probing a port cannot tell apart from another process on that
      // port. An app that listens for other apps' readiness keeps the channel (unref'd: it must
      // not keep the process alive); the others close it.
      const peerReady = running.peerReady?.bind(running);
      if (peerReady && process.send) {
        process.on('message', (m: unknown) => {
          if (isPeerReady(m)) peerReady(m.app);
        });
        process.send({ postern: 'ready' });
        process.channel?.unref();
      } else {
        process.send?.({ postern: 'ready' }, () => process.disconnect?.());
      }
    },
    (err: unknown) => {
      if (err instanceof ConfigError) {
        // a file the config names (a CA, a credentials file) is wrong: the supervisor must not retry
        process.stderr.write(`postern-${name}: ${err.message}\n`);
        process.exit(2);
      }
      const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
      if ((e.code === 'EADDRINUSE' || e.code === 'EACCES' || e.code === 'EADDRNOTAVAIL') && e.syscall === 'listen') {
        const why =
          e.code === 'EADDRINUSE'
            ? 'address already in use (is another mail server running?)'
            : e.code === 'EACCES'
              ? 'permission denied'
              : 'no such local address';
        const where = e.port !== undefined ? `${e.address ?? ''}:${e.port}` : (e.address ?? '?');
        logger.error({ address: where, code: e.code }, 'cannot listen');
        process.stderr.write(`postern-${name}: cannot listen on ${where}: ${why}\n`);
        process.exit(EXIT_LISTEN_FAILED);
      }
      logger.fatal({ err }, 'failed to start');
      process.stderr.write(`postern-${name}: failed to start: ${(err as Error).message}\n`);
      process.exit(1);
    },
  );
}
