/**
 * A small virtual network made of Linux network namespaces: one namespace per host, and one
 * "switch" namespace holding a bridge that every host's `eth0` is plugged into (a veth pair per
 * host). Nothing is created in the machine's own namespace, so the test can neither disturb the
 * machine's network nor collide with another run's interface names.
 *
 * Every name starts with `pe2e-<pid>-`, the pid of the process that made it. Cleanup kills the
 * processes inside our namespaces (by pid, from `ip netns pids`), deletes the namespaces (the
 * veths and the bridge go with them) and their /etc/netns files. It runs at the end of the
 * suite, from a process 'exit' handler when the suite dies, and, for a run that crashed hard
 * (SIGKILL), at the start of the next run: names whose pid is no longer alive are leftovers.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, closeSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exec, execOk, type ExecOptions, type ExecResult } from './exec.js';

const PREFIX = 'pe2e';
const NAME = /^pe2e-(\d+)-/;

export interface HostSpec {
  /** Short name (at most 8 characters: the switch-side veth is `v-<name>`). */
  name: string;
  ip: string;
}

/** Why the suite cannot run here, or null when it can. */
export function netnsUnavailable(): string | null {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'creating network namespaces needs root';
  const probe = `${PREFIX}-${process.pid}-probe`;
  try {
    execFileSync('ip', ['netns', 'add', probe], { stdio: 'pipe' });
    execFileSync('ip', ['netns', 'del', probe], { stdio: 'pipe' });
  } catch (e) {
    return `\`ip netns add\` does not work here: ${(e as Error).message.split('\n')[0]}`;
  }
  return null;
}

function listNamespaces(): string[] {
  try {
    const out = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return out
      .split('\n')
      .map((l) => l.trim().split(/\s+/)[0] ?? '')
      .filter((n) => n.startsWith(`${PREFIX}-`));
  } catch {
    return [];
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function pidsIn(ns: string): number[] {
  try {
    const out = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return out
      .split(/\s+/)
      .filter(Boolean)
      .map(Number)
      .filter((n) => Number.isInteger(n) && n > 0);
  } catch {
    return [];
  }
}

/** Kills every process inside `ns` (by pid), then deletes the namespace and its /etc/netns files.
 * Synchronous, so it can run from an 'exit' handler. */
export function destroyNamespace(ns: string): void {
  if (!ns.startsWith(`${PREFIX}-`)) throw new Error(`refusing to destroy ${ns}: not ours`);
  // Bounded: processes die from SIGKILL at once, but give the kernel a moment to reap them.
  for (let round = 0; round < 50; round++) {
    const pids = pidsIn(ns).filter((p) => p !== process.pid);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone already */
      }
    }
    execFileSync('sleep', ['0.1']);
  }
  try {
    execFileSync('ip', ['netns', 'del', ns], { stdio: 'pipe' });
  } catch {
    /* already gone */
  }
  rmSync(join('/etc/netns', ns), { recursive: true, force: true });
}

/** Removes what earlier runs left behind: namespaces, /etc/netns entries and temporary
 * directories whose owning pid is dead. Returns the names removed. */
export function cleanLeftovers(): string[] {
  const removed: string[] = [];
  const dead = (name: string): boolean => {
    const m = NAME.exec(name);
    return m !== null && Number(m[1]) !== process.pid && !alive(Number(m[1]));
  };
  for (const ns of listNamespaces()) {
    if (!dead(ns)) continue;
    destroyNamespace(ns);
    removed.push(ns);
  }
  for (const dir of ['/etc/netns', tmpdir()]) {
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const n of names) {
      if (!dead(n)) continue;
      rmSync(join(dir, n), { recursive: true, force: true });
      removed.push(join(dir, n));
    }
  }
  return removed;
}

/** A process started inside a host namespace, with its output going to a log file. */
export interface HostProcess {
  child: ChildProcess;
  log: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

let networks = 0;

export class Network {
  /** `pe2e-<pid>-<n>`: unique per run and per network within the run. */
  readonly tag = `${PREFIX}-${process.pid}-${++networks}`;
  /** Scratch directory of this run (configs, data, logs); removed by destroy(). */
  readonly dir: string;
  private readonly hosts = new Map<string, HostSpec>();
  private readonly made: string[] = [];
  private readonly onExit = (): void => this.destroy();
  /** Interrupted (Ctrl-C, a runner stopping its worker): clean up, then die of the signal. */
  private readonly onSignal = (signal: NodeJS.Signals): void => {
    this.destroy();
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  };
  private destroyed = false;

  constructor() {
    this.dir = join(tmpdir(), `${this.tag}-run`);
    rmSync(this.dir, { recursive: true, force: true });
    mkdirSync(this.dir, { recursive: true });
    // the suite may die without reaching afterAll (an uncaught error, process.exit)
    process.once('exit', this.onExit);
    process.once('SIGINT', this.onSignal);
    process.once('SIGTERM', this.onSignal);
  }

  ns(host: string): string {
    if (!this.hosts.has(host)) throw new Error(`no host ${host} in this network`);
    return `${this.tag}-${host}`;
  }

  private async ip(args: string[]): Promise<void> {
    await execOk('ip', args, { timeoutMs: 10_000 });
  }

  private async addNamespace(ns: string): Promise<void> {
    await this.ip(['netns', 'add', ns]);
    this.made.push(ns);
    await this.ip(['-n', ns, 'link', 'set', 'lo', 'up']);
  }

  /** Creates the switch and the hosts, each with `eth0` at `ip`/24 and, when `resolver` is
   * given, an /etc/netns resolv.conf naming it (so programs in the host resolve through it). */
  async create(hosts: readonly HostSpec[], resolver?: string): Promise<void> {
    const sw = `${this.tag}-sw`;
    await this.addNamespace(sw);
    await this.ip(['-n', sw, 'link', 'add', 'br0', 'type', 'bridge']);
    await this.ip(['-n', sw, 'link', 'set', 'br0', 'up']);
    for (const h of hosts) {
      if (h.name.length > 8 || !/^[a-z0-9]+$/.test(h.name)) throw new Error(`bad host name ${h.name}`);
      this.hosts.set(h.name, h);
      const ns = this.ns(h.name);
      if (resolver) {
        // `ip netns exec` bind-mounts /etc/netns/<ns>/resolv.conf over /etc/resolv.conf
        mkdirSync(join('/etc/netns', ns), { recursive: true });
        writeFileSync(join('/etc/netns', ns, 'resolv.conf'), `nameserver ${resolver}\noptions timeout:2 attempts:2\n`);
      }
      await this.addNamespace(ns);
      const port = `v-${h.name}`;
      await this.ip(['-n', sw, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      await this.ip(['-n', sw, 'link', 'set', port, 'master', 'br0', 'up']);
      await this.ip(['-n', ns, 'addr', 'add', `${h.ip}/24`, 'dev', 'eth0']);
      await this.ip(['-n', ns, 'link', 'set', 'eth0', 'up']);
    }
  }

  /** Runs a program inside a host and waits for it (bounded by `options.timeoutMs`). */
  run(host: string, cmd: string, args: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    return exec('ip', ['netns', 'exec', this.ns(host), cmd, ...args], options);
  }

  /** Like `run`, but a non-zero exit throws with the program's output. */
  runOk(host: string, cmd: string, args: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    return execOk('ip', ['netns', 'exec', this.ns(host), cmd, ...args], options);
  }

  /** Starts a long-running program inside a host; stdout and stderr go to `<dir>/<name>.log`.
   * `ip netns exec` execs the program, so the child's pid is the program's. */
  start(host: string, name: string, cmd: string, args: readonly string[]): HostProcess {
    const log = join(this.dir, `${name}.log`);
    const fd = openSync(log, 'a');
    const child = spawn('ip', ['netns', 'exec', this.ns(host), cmd, ...args], { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }));
      // `ip` itself missing: report it as an exit, and keep the error for the log
      child.once('error', (e) => {
        writeFileSync(log, `${e.message}\n`, { flag: 'a' });
        resolve({ code: 127, signal: null });
      });
    });
    return { child, log, exited };
  }

  /** The TCP ports something listens on inside a host. */
  async listening(host: string): Promise<Set<number>> {
    const r = await this.runOk(host, 'ss', ['-Hltn'], { timeoutMs: 5_000 });
    const ports = new Set<number>();
    for (const line of r.stdout.toString('utf8').split('\n')) {
      const local = line.trim().split(/\s+/)[3];
      const m = local ? /:(\d+)$/.exec(local) : null;
      if (m) ports.add(Number(m[1]));
    }
    return ports;
  }

  /** Removes every namespace (killing what runs inside) and the run's directory. Idempotent. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    process.removeListener('exit', this.onExit);
    process.removeListener('SIGINT', this.onSignal);
    process.removeListener('SIGTERM', this.onSignal);
    for (const ns of [...this.made].reverse()) destroyNamespace(ns);
    if (!process.env['POSTERN_E2E_KEEP']) rmSync(this.dir, { recursive: true, force: true });
  }

  /** Namespaces of this run that still exist (for the cleanup test). */
  remaining(): string[] {
    return listNamespaces().filter((n) => n.startsWith(`${this.tag}-`));
  }
}
