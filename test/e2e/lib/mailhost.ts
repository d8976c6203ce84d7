/**
 * A Postern mail host inside a network namespace, set up the way an operator would: `postern
 * init --domain D --hostname mx.D` (production profile, the standard ports), users and aliases
 * with `postern user add` / `postern alias add`, then two edits of postern.toml: the DNS server to
 * ask, and a short retry schedule so that the test does not wait minutes. Then `postern start`
 * as root, exactly what a real deployment runs.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'smol-toml';
import { sleep, waitFor } from './exec.js';
import type { HostProcess, Network } from './netns.js';
import { parseDnsJson, type PrintedDomain } from './zone.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
export const POSTERN_BIN = join(root, 'apps', 'cli', 'bin', 'postern.js');

/** The standard ports of a mail host (RFC 5321, 6409, 8314, 9051, 1939) and LMTP on loopback. */
export const STANDARD_PORTS = { smtp: 25, submission: 587, submissions: 465, imap: 143, imaps: 993, pop3: 110, pop3s: 995, lmtp: 24 } as const;

export class MailHost {
  readonly hostname: string;
  readonly dir: string;
  readonly configFile: string;
  private proc: HostProcess | null = null;

  constructor(
    readonly net: Network,
    /** The network host (namespace) it runs in. */
    readonly host: string,
    readonly ip: string,
    readonly domain: string,
  ) {
    this.hostname = `mx.${domain}`;
    this.dir = join(net.dir, host);
    this.configFile = join(this.dir, 'postern.toml');
  }

  /** The self-signed certificate `postern init` made: clients trust it explicitly. */
  get certFile(): string {
    return join(this.dir, 'data', 'tls', 'cert.pem');
  }

  /** Runs `postern --config FILE ARGS...` inside the host; throws on a non-zero exit. */
  async cli(args: readonly string[], input?: string, timeoutMs = 30_000): Promise<string> {
    const r = await this.net.runOk(this.host, process.execPath, [POSTERN_BIN, '--config', this.configFile, ...args], {
      timeoutMs,
      ...(input !== undefined ? { input } : {}),
    });
    return r.stdout.toString('utf8');
  }

  async init(settings: { dnsServer: string; transfer: Record<string, unknown> }): Promise<void> {
    await this.cli(['init', '--domain', this.domain, '--hostname', this.hostname]);
    const doc = parse(readFileSync(this.configFile, 'utf8')) as Record<string, Record<string, unknown>>;
    doc['dns'] = { ...doc['dns'], servers: [`${settings.dnsServer}:53`] };
    doc['transfer'] = { ...doc['transfer'], ...settings.transfer };
    writeFileSync(this.configFile, stringify(doc));
  }

  async addUser(address: string, password: string): Promise<void> {
    await this.cli(['user', 'add', address, '--password-stdin'], `${password}\n`);
  }

  async addAlias(address: string, ...users: string[]): Promise<void> {
    await this.cli(['alias', 'add', address, ...users]);
  }

  /** What `postern dns --json --ip <our address>` prints: the records to publish. */
  async dnsRecords(): Promise<PrintedDomain[]> {
    return parseDnsJson(await this.cli(['dns', '--json', '--ip', this.ip]));
  }

  /** `postern start`; resolves once every standard port listens (bounded). */
  async start(ports: readonly number[] = Object.values(STANDARD_PORTS)): Promise<void> {
    if (this.proc) throw new Error(`${this.hostname} runs already`);
    const proc = this.net.start(this.host, `postern-${this.host}`, process.execPath, [POSTERN_BIN, '--config', this.configFile, 'start']);
    this.proc = proc;
    let exited = false;
    void proc.exited.then(() => (exited = true));
    try {
      await waitFor(
        `${this.hostname} to listen on ${ports.join(', ')}`,
        async () => {
          if (exited) throw new Error(`postern start exited\n${this.logTail()}`);
          const open = await this.net.listening(this.host);
          return ports.every((p) => open.has(p));
        },
        30_000,
      );
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${this.logTail()}`);
    }
  }

  /** SIGTERM to `postern start`, which stops its apps; SIGKILL after a bounded wait. */
  async stop(): Promise<void> {
    const proc = this.proc;
    if (!proc) return;
    this.proc = null;
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
    proc.child.kill('SIGTERM');
    const done = await Promise.race([proc.exited.then(() => true), sleep(20_000).then(() => false)]);
    if (!done) {
      proc.child.kill('SIGKILL');
      await proc.exited;
    }
    // the apps are children of `postern start`; none may keep a port open after it is gone
    await waitFor(`${this.hostname} to stop listening`, async () => (await this.net.listening(this.host)).size === 0, 15_000);
  }

  /** The end of the host's log, for failure messages. */
  logTail(bytes = 6000): string {
    try {
      const text = readFileSync(this.lastLog(), 'utf8');
      return `--- ${this.hostname} log (tail) ---\n${text.slice(-bytes)}`;
    } catch {
      return '';
    }
  }

  private lastLog(): string {
    return join(this.net.dir, `postern-${this.host}.log`);
  }
}
