/**
 * @postern/metrics: one Prometheus scrape endpoint (`listen.metrics`) for every app, though each
 * app is a process of its own.
 *
 * How: each app (withMetrics, around its start) serves its own registry (core's metrics.ts) as
 * JSON on a loopback port the kernel picks, and names that port in `<data>/run/metrics/<app>.json`
 * with its pid. The endpoint (startMetricsEndpoint: run by `postern start`, the supervisor, or by
 * `postern metrics` where the apps run as separate units) reads those files at each scrape, asks
 * every live app for its registry, and adds them up with prom-client's AggregatorRegistry (each
 * series keeps its `app` label), then adds what no one process counts but the stores tell: queue
 * size and the age of its oldest message, store sizes, the certificate's expiry, and whether each
 * app answered (`postern_app_up`).
 *
 * Why not a push to the supervisor, or prom-client's cluster aggregation: the apps are not
 * cluster workers of one parent (each runs alone under systemd too), and a pull keeps an app that
 * hangs from holding the scrape (each ask has a short timeout; that app is then `up 0`).
 *
 * Invariants: every listener of this package is on loopback (the endpoint refuses any other
 * address: metrics name users' counts and the queue); nothing here writes to a store.
 */
import { createServer, type Server } from 'node:http';
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { isIP, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { AggregatorRegistry, Gauge, Registry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import { initMetrics, mailDbPath, metricsRegistry, QueueStore, queueDbPath, splitHostPort, type Config, type Logger, type RunningApp } from '@postern/core';

type AppMetrics = MetricObjectWithValues<MetricValue<string>>[];

/** Where the apps name their exporters' ports. */
export function metricsRunDir(config: Pick<Config, 'dataDir'>): string {
  return join(config.dataDir, 'run', 'metrics');
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}

async function listenOn(server: Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

/**
 * Wraps an app's start: with `listen.metrics` set, the app's registry is served on a loopback
 * port of its own and named in the run directory until the app closes.
 */
export function withMetrics(
  app: string,
  start: (config: Config, options: { logger: Logger }) => Promise<RunningApp>,
): (config: Config, options: { logger: Logger }) => Promise<RunningApp> {
  return async (config, options) => {
    initMetrics(app);
    const running = await start(config, options);
    if (!config.listen.metrics) return running;
    const server = createServer((req, res) => {
      if (req.url !== '/metrics.json') {
        res.writeHead(404).end();
        return;
      }
      metricsRegistry.getMetricsAsJSON().then(
        (json) => res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(json)),
        (err: unknown) => res.writeHead(500).end(String(err)),
      );
    });
    const port = await listenOn(server, 0, '127.0.0.1');
    const dir = metricsRunDir(config);
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${app}.json`);
    // written whole, then renamed: the endpoint never reads half a file
    writeFileSync(`${file}.tmp`, JSON.stringify({ app, pid: process.pid, port }));
    renameSync(`${file}.tmp`, file);
    server.unref();
    return {
      async close(): Promise<void> {
        try {
          if (JSON.parse(readFileSync(file, 'utf8')).pid === process.pid) unlinkSync(file);
        } catch {
          /* gone already, or another run's */
        }
        server.close();
        await running.close();
      },
    };
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function askApp(port: number, timeoutMs: number): Promise<AppMetrics | null> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/metrics.json`, { signal: AbortSignal.timeout(timeoutMs) });
    return r.ok ? ((await r.json()) as AppMetrics) : null;
  } catch {
    return null;
  }
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** What the stores and files tell at scrape time (no app counts these). */
function stateRegistry(config: Config, up: Map<string, boolean>): Registry {
  const r = new Registry();
  const registers = [r];
  const upGauge = new Gauge({ name: 'postern_app_up', help: 'Whether the app answered this scrape', labelNames: ['app'], registers });
  for (const [app, ok] of up) upGauge.set({ app }, ok ? 1 : 0);
  const queued = new Gauge({ name: 'postern_queue_messages', help: 'Messages in the queue (queue.db)', registers });
  const recipients = new Gauge({ name: 'postern_queue_recipients', help: 'Recipients still to deliver', registers });
  const oldest = new Gauge({ name: 'postern_queue_oldest_age_seconds', help: 'Age of the oldest message still queued for a recipient (0: none)', registers });
  try {
    // a connection per scrape: the queue runner keeps writing through its own
    const q = QueueStore.open(config);
    try {
      const c = q.counts();
      queued.set(c.messages);
      recipients.set(c.queued);
      const arrival = q.oldestQueuedArrival();
      oldest.set(arrival === null ? 0 : Math.max(0, (Date.now() - arrival) / 1000));
    } finally {
      q.close();
    }
  } catch {
    /* no queue yet: the series stay absent */
  }
  const store = new Gauge({ name: 'postern_store_bytes', help: 'Size of each database on disk, WAL included', labelNames: ['db'], registers });
  for (const [db, path] of [
    ['mail', mailDbPath(config)],
    ['queue', queueDbPath(config)],
  ] as const) {
    store.set({ db }, fileSize(path) + fileSize(`${path}-wal`));
  }
  try {
    const cert = new X509Certificate(readFileSync(config.tlsCert));
    new Gauge({ name: 'postern_tls_certificate_expiry_timestamp_seconds', help: "When the server certificate's validity ends", registers }).set(
      Date.parse(cert.validTo) / 1000,
    );
  } catch {
    /* no certificate yet */
  }
  return r;
}

export interface MetricsEndpoint {
  port: number;
  close(): Promise<void>;
}

/** Serves `GET /metrics` on `listen.metrics`: every live app's registry added up, and the stores' state. */
export async function startMetricsEndpoint(config: Config, logger: Logger, options: { askTimeoutMs?: number } = {}): Promise<MetricsEndpoint> {
  if (!config.listen.metrics) throw new Error('listen.metrics is not set');
  const { host, port } = splitHostPort(config.listen.metrics);
  if (!isLoopback(host)) throw new Error(`listen.metrics must be a loopback address (127.0.0.1 or ::1), not ${host}`);
  const timeout = options.askTimeoutMs ?? 2000;
  const scrape = async (): Promise<{ body: string; contentType: string }> => {
    const dir = metricsRunDir(config);
    let names: string[] = [];
    try {
      names = readdirSync(dir).filter((n) => n.endsWith('.json'));
    } catch {
      /* no app has started yet */
    }
    const up = new Map<string, boolean>();
    const apps = await Promise.all(
      names.map(async (n) => {
        let entry: { app: string; pid: number; port: number };
        try {
          entry = JSON.parse(readFileSync(join(dir, n), 'utf8')) as typeof entry;
        } catch {
          return null;
        }
        // a file an app that died left behind: it is down, not asked
        const answer = alive(entry.pid) ? await askApp(entry.port, timeout) : null;
        up.set(entry.app, answer !== null);
        return answer;
      }),
    );
    const state = await stateRegistry(config, up).getMetricsAsJSON();
    const all = [...apps.filter((a): a is AppMetrics => a !== null), state as AppMetrics];
    const registry = AggregatorRegistry.aggregate(all);
    return { body: await registry.metrics(), contentType: registry.contentType };
  };
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('GET /metrics\n');
      return;
    }
    scrape().then(
      ({ body, contentType }) => res.writeHead(200, { 'Content-Type': contentType }).end(body),
      (err: unknown) => {
        logger.error({ err }, 'metrics scrape failed');
        res.writeHead(500).end();
      },
    );
  });
  const bound = await listenOn(server, port, host);
  logger.info({ listen: `${host}:${bound}` }, 'metrics listening');
  return {
    port: bound,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
