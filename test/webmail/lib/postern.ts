/**
 * The real thing: a complete Postern instance (delivery with IMAP, transfer, submission as child
 * processes, from test/lib/instance.ts) plus the webmail as its own process, started the way
 * `postern start` starts it (`node apps/webmail/dist/main.js --config FILE`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'smol-toml';
import { loadConfig } from '@postern/core';
import { freePort, Instance, waitFor, type StartSettings } from '../../lib/instance.js';
import type { Backend } from './backend.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const WEBMAIL = join(root, 'apps', 'webmail', 'dist', 'main.js');

async function httpUp(url: string): Promise<boolean> {
  try {
    const r = await fetch(url, { redirect: 'manual' });
    await r.arrayBuffer();
    return r.status > 0;
  } catch {
    return false;
  }
}

/** Starts `node apps/webmail/dist/main.js --config file` and waits until it answers. */
export async function spawnWebmail(configFile: string, port: number): Promise<{ child: ChildProcess; logs: () => string; stop(): Promise<void> }> {
  let output = '';
  const child = spawn(process.execPath, [WEBMAIL, '--config', configFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, POSTERN_LOG_LEVEL: process.env['POSTERN_TEST_LOG_LEVEL'] ?? 'info' },
  });
  const logFile = process.env['POSTERN_TEST_WEBMAIL_LOG'];
  const append = (d: Buffer): void => {
    output = (output + d.toString()).slice(-200_000);
    if (logFile) appendFileSync(logFile, d);
  };
  child.stdout!.on('data', append);
  child.stderr!.on('data', append);
  let exited = false;
  child.once('exit', () => (exited = true));
  await waitFor(
    async () => {
      if (exited) throw new Error(`webmail exited: ${output.slice(-2000)}`);
      return httpUp(`http://127.0.0.1:${port}/login`);
    },
    20_000,
    'webmail to answer',
  );
  return {
    child,
    logs: () => output,
    async stop(): Promise<void> {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await gone;
      clearTimeout(t);
    },
  };
}

/** Adds the IMAP and webmail listeners (and any [webmail]/[limits] keys) to an instance's config file. */
function extendConfig(
  file: string,
  extra: { imap: number; webmail: number; webmailSection?: Record<string, unknown>; limits?: Record<string, unknown> },
  target = file,
): void {
  const doc = parse(readFileSync(file, 'utf8')) as Record<string, Record<string, unknown>>;
  doc['listen'] = { ...doc['listen'], imap: `127.0.0.1:${extra.imap}`, webmail: `127.0.0.1:${extra.webmail}` };
  if (extra.webmailSection) doc['webmail'] = { ...doc['webmail'], ...extra.webmailSection };
  if (extra.limits) doc['limits'] = { ...doc['limits'], ...extra.limits };
  writeFileSync(target, stringify(doc));
}

class MuaInstance extends Instance {
  imapPort = 0;
  webmailPort = 0;
  limits: Record<string, unknown> | undefined;

  override writeConfig(settings: StartSettings = {}): void {
    super.writeConfig(settings);
    extendConfig(this.configFile, { imap: this.imapPort, webmail: this.webmailPort, ...(this.limits ? { limits: this.limits } : {}) });
    this.config = loadConfig(this.configFile);
  }

  /** The harness's ports and ours (after a port race, see Instance.start). */
  protected override async pickPorts(): Promise<void> {
    await super.pickPorts();
    this.imapPort = await freePort();
    this.webmailPort = await freePort();
  }
}

/**
 * Picks a free port, writes the config for it (`configFor` returns the file) and starts the
 * webmail. Another process can take the port between the pick and the bind (EADDRINUSE): then
 * the port is picked again, at most 3 times.
 */
export async function startWebmailOnFreePort(configFor: (port: number) => string): Promise<{ port: number } & Awaited<ReturnType<typeof spawnWebmail>>> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      return { port, ...(await spawnWebmail(configFor(port), port)) };
    } catch (err) {
      if (attempt >= 3 || !/EADDRINUSE/.test(String(err))) throw err;
    }
  }
}

export async function posternBackend(
  options: { messageSize?: number; limits?: Record<string, unknown> } = {},
): Promise<Backend & { instance: Instance; webmailLogs(): string }> {
  const domain = 'mua.test';
  const ports = { smtp: await freePort(), submission: await freePort(), submissions: await freePort(), lmtp: await freePort() };
  const instance = new MuaInstance({ domain, users: { me: 'password-me-1', other: 'password-other-2' } }, ports);
  instance.imapPort = await freePort();
  instance.webmailPort = await freePort();
  const messageSize = options.messageSize ?? 2_000_000;
  instance.limits = { message_size: messageSize, ...options.limits };
  await instance.start({ limits: instance.limits, auth: { max_failures_per_account: 3 } });
  let webmail: Awaited<ReturnType<typeof startWebmailOnFreePort>>;
  try {
    webmail = await startWebmailOnFreePort((port) => {
      instance.webmailPort = port;
      extendConfig(instance.configFile, { imap: instance.imapPort, webmail: port });
      return instance.configFile;
    });
  } catch (err) {
    await instance.stop(); // nothing of a failed start may outlive it
    throw err;
  }
  return {
    name: 'postern',
    instance,
    url: `http://127.0.0.1:${instance.webmailPort}`,
    me: { address: `me@${domain}`, password: 'password-me-1' },
    other: { address: `other@${domain}`, password: 'password-other-2' },
    imap: { host: '127.0.0.1', port: instance.imapPort },
    smtp: { host: '127.0.0.1', port: instance.ports.submission },
    messageSize,
    // apps/submission refuses an unknown user of a local domain at RCPT (550 5.1.1).
    refusesUnknownRecipients: true,
    webmailLogs: webmail.logs,
    async shortSessionWebmail(ms: number) {
      const file = join(instance.dir, 'postern-short.toml');
      const w = await startWebmailOnFreePort((port) => {
        extendConfig(instance.configFile, { imap: instance.imapPort, webmail: port, webmailSection: { session_lifetime: `${ms}ms` } }, file);
        return file;
      });
      return { url: `http://127.0.0.1:${w.port}`, close: () => w.stop() };
    },
    async close() {
      await webmail.stop();
      await instance.stop();
    },
  };
}
