/**
 * A complete Postern instance for tests: a temp directory, a postern.toml for one domain on free
 * 127.0.0.1 ports (profile "development", short retry settings), a self-signed certificate,
 * domains and users created through core's Accounts, and the apps running as child processes
 * from their built `dist/main.js` (build first: `npx turbo run build`).
 *
 *   const a = await createInstance({ domain: 'a.test', users: { alice: 'password-a' } });
 *   await a.start({ transfer: { routes: { 'b.test': `127.0.0.1:${b.ports.smtp}` } } });
 *   ... (await a.messages('alice@a.test')) ... await a.kill9('transfer'); await a.restart('transfer');
 *   await a.stop();
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import dns2 from 'dns2';
import { stringify } from 'smol-toml';
import { ensureCertificate, loadConfig, openMailDb, QueueStore, type Config, type MailDb } from '@postern/core';

export type AppName = 'delivery' | 'transfer' | 'submission';
const APPS: readonly AppName[] = ['delivery', 'transfer', 'submission'];

const root = fileURLToPath(new URL('../../', import.meta.url));
const entryOf = (app: AppName): string => join(root, 'apps', app, 'dist', 'main.js');

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * A DNS server on loopback that knows no name (NXDOMAIN at once), shared by every instance of
 * this test process unless a test gives its own `dns` settings: tests never query the
 * machine's resolver (or the internet), and inbound SPF/DKIM/DMARC checks answer at once.
 */
let silentDns: Promise<number> | null = null;
function silentDnsPort(): Promise<number> {
  silentDns ??= (async () => {
    const server = dns2.createServer({
      udp: true,
      handle: (request, send) => {
        const response = dns2.Packet.createResponseFromRequest(request);
        response.header.rcode = 3; // NXDOMAIN (RFC 1035 §4.1.1)
        send(response);
      },
    });
    await server.listen({ udp: { port: 0, address: '127.0.0.1' } });
    const udp = server.addresses().udp as { port: number };
    // the server lives as long as the test process; it must not keep it alive
    (server as unknown as { servers?: { udp?: { unref?: () => void } } }).servers?.udp?.unref?.();
    return udp.port;
  })();
  return silentDns;
}

/** Polls `check` every `everyMs` until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor<T>(check: () => T | Promise<T>, timeoutMs = 15_000, what = 'condition', everyMs = 50): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
export function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export interface InstanceOptions {
  domain: string;
  /** Local part (or full address) -> password. */
  users?: Record<string, string>;
  /** Which apps to run (default: all three). */
  apps?: readonly AppName[];
}

export interface StartSettings {
  /** "development" (default: AUTH without TLS on loopback) or "production". */
  profile?: 'development' | 'production';
  /** More listeners ("imap" = "127.0.0.1:PORT" ...), beside the four every instance has. */
  listen?: Record<string, string>;
  /** Extra [transfer] keys (routes, smarthost, retry_initial ...). */
  transfer?: Record<string, unknown>;
  limits?: Record<string, unknown>;
  auth?: Record<string, unknown>;
  dns?: Record<string, unknown>;
}

export interface StoredMessage {
  uid: number;
  raw: string;
}

export class Instance {
  readonly dir: string;
  readonly configFile: string;
  readonly hostname: string;
  config!: Config;
  private mail: MailDb | null = null;
  private readonly children = new Map<AppName, ChildProcess>();
  private readonly output = new Map<AppName, string>();

  constructor(
    readonly options: InstanceOptions,
    readonly ports: { smtp: number; submission: number; submissions: number; lmtp: number },
  ) {
    this.dir = mkdtempSync(join(tmpdir(), `postern-${options.domain}-`));
    this.configFile = join(this.dir, 'postern.toml');
    this.hostname = `mail.${options.domain}`;
  }

  /** Writes postern.toml; called by start() with the settings the test wants. */
  writeConfig(settings: StartSettings = {}, _dnsPort?: number): void {
    const doc = {
      hostname: this.hostname,
      profile: settings.profile ?? 'development',
      data_dir: 'data',
      log_level: 'info',
      listen: {
        smtp: `127.0.0.1:${this.ports.smtp}`,
        submission: `127.0.0.1:${this.ports.submission}`,
        submissions: `127.0.0.1:${this.ports.submissions}`,
        lmtp: `127.0.0.1:${this.ports.lmtp}`,
        ...settings.listen,
      },
      tls: { cert: 'tls/cert.pem', key: 'tls/key.pem' },
      transfer: { retry_initial: '1s', retry_max: '2s', queue_poll: '200ms', ...settings.transfer },
      auth: { failure_delay: '10ms', ...settings.auth },
      ...(settings.limits ? { limits: settings.limits } : {}),
      // Never the system's resolvers (tests do not reach the internet): without a test DNS
      // server, a loopback port where nothing answers makes every lookup fail at once.
      dns: settings.dns ?? { servers: ['127.0.0.1:9'], timeout: '1s' },
    };
    writeFileSync(this.configFile, stringify(doc));
    this.config = loadConfig(this.configFile);
  }

  /**
   * Creates the certificate, the domain and users; then starts the apps. Survives a port race:
   * free ports are found by binding and closing, and on a busy machine another process can take
   * one before the app binds it (EADDRINUSE). Then every port is picked again and the apps start
   * over, at most 3 times.
   */
  async start(settings: StartSettings = {}): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.startOnce(settings);
        return;
      } catch (err) {
        // Apps already started must not outlive a failed start (they would hold ports and CPU
        // for the rest of the run).
        for (const app of [...this.children.keys()]) await this.stopApp(app);
        if (attempt >= 3 || !/EADDRINUSE/.test(String(err))) throw err;
        await this.pickPorts();
      }
    }
  }

  /** New free ports for every listener (after a port race). */
  protected async pickPorts(): Promise<void> {
    this.ports.smtp = await freePort();
    this.ports.submission = await freePort();
    this.ports.submissions = await freePort();
    this.ports.lmtp = await freePort();
  }

  private async startOnce(settings: StartSettings): Promise<void> {
    this.writeConfig(settings, settings.dns ? undefined : await silentDnsPort());
    await ensureCertificate(this.config.tlsCert, this.config.tlsKey, this.hostname);
    const m = this.db();
    if (!m.accounts.isLocalDomain(this.options.domain)) {
      m.accounts.addDomain(this.options.domain);
      for (const [user, password] of Object.entries(this.options.users ?? {})) {
        await m.accounts.addUser(user.includes('@') ? user : `${user}@${this.options.domain}`, password);
      }
    }
    for (const app of this.options.apps ?? APPS) await this.startApp(app);
  }

  async startApp(app: AppName): Promise<void> {
    // The IPC channel carries the app's "ready" (runApp): every listener bound. A port probe
    // would also answer for another process that holds the port while ours failed to bind it.
    const child = spawn(process.execPath, [entryOf(app), '--config', this.configFile], {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: { ...process.env, POSTERN_LOG_LEVEL: process.env['POSTERN_TEST_LOG_LEVEL'] ?? 'info' },
    });
    this.children.set(app, child);
    const append = (d: Buffer): void => {
      const prev = this.output.get(app) ?? '';
      // keep the tail only: a long test must not grow without bound
      this.output.set(app, (prev + d.toString()).slice(-200_000));
    };
    child.stdout!.on('data', append);
    child.stderr!.on('data', append);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out after 20000 ms waiting for ${app} to listen: ${this.logs(app).slice(-2000)}`)), 20_000);
      child.on('message', (m: unknown) => {
        if ((m as { postern?: string } | null)?.postern !== 'ready') return;
        clearTimeout(timer);
        resolve();
      });
      child.once('exit', () => {
        clearTimeout(timer);
        // the output may still be arriving: give it a moment, so EADDRINUSE is in the error
        setTimeout(() => reject(new Error(`${app} exited: ${this.logs(app).slice(-2000)}`)), 50);
      });
    });
  }

  logs(app: AppName): string {
    return this.output.get(app) ?? '';
  }

  /** SIGKILL: the process gets no chance to finish anything. */
  async kill9(app: AppName): Promise<void> {
    const child = this.children.get(app);
    if (!child || child.exitCode !== null) return;
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await gone;
    this.children.delete(app);
  }

  async restart(app: AppName): Promise<void> {
    await this.stopApp(app);
    await this.startApp(app);
  }

  async stopApp(app: AppName): Promise<void> {
    const child = this.children.get(app);
    if (!child) return;
    this.children.delete(app);
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(t);
  }

  db(): MailDb {
    this.mail ??= openMailDb(this.config);
    return this.mail;
  }

  /** The messages in a user's folder, oldest first. */
  async messages(address: string, folder = 'INBOX'): Promise<StoredMessage[]> {
    const m = this.db();
    const user = m.accounts.findUser(address);
    if (!user) throw new Error(`no user ${address}`);
    const box = await m.store.mailbox(user.id, folder);
    if (!box) return [];
    return (await m.store.messages(box.id)).map((r) => ({ uid: r.uid, raw: m.store.read(r).toString('utf8') }));
  }

  /** Waits until `address` has at least `n` messages in `folder`, and returns them. */
  async waitForMessages(address: string, n: number, timeoutMs = 15_000, folder = 'INBOX'): Promise<StoredMessage[]> {
    return waitFor(
      async () => {
        const list = await this.messages(address, folder);
        return list.length >= n ? list : null;
      },
      timeoutMs,
      `${n} message(s) for ${address}`,
    );
  }

  /**
   * Waits until the delivery agent has built the SEARCH TEXT index of everything delivered (it
   * does so after delivery, once the store is quiet): tests that measure the agent's memory
   * must not count that work.
   */
  async waitForSearchIndex(timeoutMs = 30_000): Promise<void> {
    const store = this.db().store;
    await waitFor(async () => ((await store.substringBacklog()) === 0 ? true : null), timeoutMs, 'the search index to catch up');
  }

  /** Runs `fn` with queue.db open (read what the queue holds). */
  withQueue<T>(fn: (q: QueueStore) => T): T {
    const q = QueueStore.open(this.config);
    try {
      return fn(q);
    } finally {
      q.close();
    }
  }

  async stop(): Promise<void> {
    await Promise.all([...this.children.keys()].map((app) => this.stopApp(app)));
    this.mail?.close();
    this.mail = null;
    if (!process.env['POSTERN_KEEP_TEST_DIRS']) rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Allocates ports and a directory; nothing runs until `start()`. */
export async function createInstance(options: InstanceOptions): Promise<Instance> {
  const ports = { smtp: await freePort(), submission: await freePort(), submissions: await freePort(), lmtp: await freePort() };
  return new Instance(options, ports);
}
