/**
 * The test harness's Instance (test/lib/instance.ts) plus the retrieval listeners (IMAP, POP3,
 * and the webmail's address), and a look at the apps' processes from outside: their pid and
 * resident memory, read from /proc (Linux, where CI runs), so hostile-input tests can say "no
 * crash" and "bounded memory" without reaching into the harness.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { parse, stringify } from 'smol-toml';
import { loadConfig } from '@postern/core';
import { Instance, freePort, type AppName, type InstanceOptions, type StartSettings } from '../../lib/instance.js';

export interface RetrievalPorts {
  imap: number;
  pop3: number;
  /** listen.webmail (the webmail app is not started by the harness; see spawnWebmail). */
  webmail: number;
}

export class FullInstance extends Instance {
  constructor(
    options: InstanceOptions,
    ports: Instance['ports'],
    readonly retrieval: RetrievalPorts,
  ) {
    super(options, ports);
  }

  override writeConfig(settings: StartSettings = {}): void {
    super.writeConfig(settings);
    const doc = parse(readFileSync(this.configFile, 'utf8')) as { listen: Record<string, string> };
    doc.listen = {
      ...doc.listen,
      imap: `127.0.0.1:${this.retrieval.imap}`,
      pop3: `127.0.0.1:${this.retrieval.pop3}`,
      webmail: `127.0.0.1:${this.retrieval.webmail}`,
    };
    writeFileSync(this.configFile, stringify(doc));
    this.config = loadConfig(this.configFile);
  }

  /** The harness's ports and the retrieval ones (after a port race, see Instance.start). */
  protected override async pickPorts(): Promise<void> {
    await super.pickPorts();
    this.retrieval.imap = await freePort();
    this.retrieval.pop3 = await freePort();
    this.retrieval.webmail = await freePort();
  }

  /** The pid of the running app (null when it is not running). */
  pid(app: AppName): number | null {
    const entry = `/apps/${app}/dist/main.js`;
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      let argv: string[];
      try {
        argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      } catch {
        continue; // gone meanwhile
      }
      if (argv.some((a) => a.endsWith(entry)) && argv.includes(this.configFile)) {
        try {
          // a zombie (killed, not yet reaped) is not running
          if (/^State:\s+Z/m.test(readFileSync(`/proc/${name}/status`, 'utf8'))) continue;
        } catch {
          continue;
        }
        return Number(name);
      }
    }
    return null;
  }

  /** Resident memory of the app in bytes (VmRSS), and its peak (VmHWM). */
  memory(app: AppName): { rss: number; peak: number } {
    const pid = this.pid(app);
    if (pid === null) throw new Error(`${app} is not running: ${this.logs(app).slice(-2000)}`);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
    return { rss: kb('VmRSS'), peak: kb('VmHWM') };
  }

  /** Throws when the app died or logged an uncaught exception. */
  assertHealthy(app: AppName): void {
    if (this.pid(app) === null) throw new Error(`${app} is not running: ${this.logs(app).slice(-3000)}`);
    const fatal = this.logs(app)
      .split('\n')
      .find((l) => /uncaught exception|"level":60/.test(l));
    if (fatal) throw new Error(`${app} logged a fatal error: ${fatal.slice(0, 3000)}`);
  }
}

export async function createFullInstance(options: InstanceOptions): Promise<FullInstance> {
  const ports = { smtp: await freePort(), submission: await freePort(), submissions: await freePort(), lmtp: await freePort() };
  return new FullInstance(options, ports, { imap: await freePort(), pop3: await freePort(), webmail: await freePort() });
}
