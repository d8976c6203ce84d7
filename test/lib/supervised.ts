/**
 * An instance run the way a user runs it: `postern start` supervising every app (delivery,
 * transfer, submission, webmail), instead of the harness starting each app itself. Faults are
 * injected from outside, as an operator's `kill -9` would: the pid comes from the supervisor's
 * status file (data/supervisor.json, what `postern status` reads).
 *
 *   const s = await createSupervisedInstance({ domain: 'a.test', users: { alice: 'pw' } });
 *   await s.startSupervised({ transfer: { retry_initial: '10m' } });
 *   const readyAt = await s.kill9Supervised('delivery'); // resolves once it is ready again
 *   await s.stop();
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FullInstance } from '../attacks/lib/full-instance.js';
import { freePort, waitFor, type InstanceOptions, type StartSettings } from './instance.js';

export const postern = fileURLToPath(new URL('../../apps/cli/bin/postern.js', import.meta.url));

/** The parts of data/supervisor.json the tests read (apps/cli/src/supervision.ts). */
export interface SupervisedApp {
  app: string;
  running: boolean;
  ready: boolean;
  pid: number | null;
  exits: number[];
  crashLoop: boolean;
}

export class SupervisedInstance extends FullInstance {
  private supervisor: ChildProcess | null = null;
  /** Everything `postern start` wrote (stdout and stderr: the apps' and its own), the tail. */
  startOutput = '';

  /** Sets up the instance (config, certificate, users) and runs `postern start` on it. */
  async startSupervised(settings: StartSettings = {}, args: readonly string[] = []): Promise<void> {
    await this.start(settings); // options.apps is [] (createSupervisedInstance): nothing started yet
    const child = spawn(process.execPath, [postern, '--config', this.configFile, 'start', ...args], {
      cwd: this.dir,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, POSTERN_LOG_LEVEL: process.env['POSTERN_TEST_LOG_LEVEL'] ?? 'info' },
    });
    this.supervisor = child;
    const append = (d: Buffer): void => {
      this.startOutput = (this.startOutput + d.toString()).slice(-400_000);
    };
    child.stdout!.on('data', append);
    child.stderr!.on('data', append);
    let exited = false;
    child.once('exit', () => (exited = true));
    await waitFor(
      () => {
        if (exited) throw new Error(`postern start exited: ${this.startOutput.slice(-3000)}`);
        return /Postern is running/.test(this.startOutput);
      },
      90_000,
      'postern start to say it is running',
      100,
    );
  }

  /** The supervisor's view of `app` (data/supervisor.json). */
  appStatus(app: string): SupervisedApp {
    const status = JSON.parse(readFileSync(join(this.config.dataDir, 'supervisor.json'), 'utf8')) as { apps: SupervisedApp[] };
    const a = status.apps.find((x) => x.app === app);
    if (!a) throw new Error(`postern start does not supervise ${app}`);
    return a;
  }

  /** `postern status [--json]`: its exit code and output. */
  statusCommand(json: boolean): { code: number | null; out: string } {
    const r = spawnSync(process.execPath, [postern, '--config', this.configFile, 'status', ...(json ? ['--json'] : [])], { encoding: 'utf8' });
    return { code: r.status, out: r.stdout + r.stderr };
  }

  /**
   * SIGKILL to the app's process, as an operator (or the OOM killer) would; resolves with the
   * time the supervisor saw it ready again (every listener bound).
   */
  async kill9Supervised(app: string): Promise<number> {
    const before = this.appStatus(app);
    if (!before.pid || !before.ready) throw new Error(`${app} is not running`);
    process.kill(before.pid, 'SIGKILL');
    await waitFor(
      () => {
        const a = this.appStatus(app);
        return a.ready && a.pid !== before.pid;
      },
      60_000,
      `${app} restarted by postern start`,
      25,
    );
    return Date.now();
  }

  /** SIGTERM to `postern start` (it stops every app), waiting for it to exit. */
  async stopSupervisor(): Promise<void> {
    const child = this.supervisor;
    this.supervisor = null;
    if (child && child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await gone;
      clearTimeout(t);
    }
  }

  override async stop(): Promise<void> {
    await this.stopSupervisor();
    await super.stop();
  }
}

export async function createSupervisedInstance(options: InstanceOptions): Promise<SupervisedInstance> {
  const ports = { smtp: await freePort(), submission: await freePort(), submissions: await freePort(), lmtp: await freePort() };
  return new SupervisedInstance({ ...options, apps: [] }, ports, { imap: await freePort(), pop3: await freePort(), webmail: await freePort() });
}
