// A whole Postern stack for the long-running benchmarks (bench/soak, bench/recovery), run the way
// a user runs it: `postern start` supervising every app (delivery, transfer, submission,
// webmail) from their built dist/, in a temporary directory, every listener on a free loopback
// port, a DNS server on loopback that knows no names (no lookup leaves the machine). The
// supervisor's and the apps' output goes to DIR/postern.log. Faults come from outside: the
// pid of an app is read from data/supervisor.json, what `postern status` reads.
import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import dns2 from 'dns2';
import { ensureCertificate, loadConfig, openMailDb } from '@postern/core';
import { freePort } from '../compare/lib/postfix-dovecot.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
export const posternBin = join(root, 'apps', 'cli', 'bin', 'postern.js');
const LISTENERS = ['smtp', 'submission', 'submissions', 'lmtp', 'imap', 'imaps', 'pop3', 'pop3s', 'webmail'];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * @param {{ users?: number, password?: string, connections?: number, transfer?: Record<string, string>, logLevel?: string }} o
 */
export async function startStack({ users = 10, password = 'bench-password', connections = 300, transfer = {}, logLevel = 'warn' } = {}) {
  const dnsServer = dns2.createServer({
    udp: true,
    handle: (request, send) => {
      const response = dns2.Packet.createResponseFromRequest(request);
      response.header.rcode = 3; // NXDOMAIN
      send(response);
    },
  });
  await dnsServer.listen({ udp: { port: 0, address: '127.0.0.1' } });
  const dnsPort = dnsServer.addresses().udp.port;

  const dir = mkdtempSync(join(tmpdir(), 'bench-stack-'));
  const ports = {};
  for (const l of LISTENERS) ports[l] = await freePort();
  const file = join(dir, 'postern.toml');
  const quote = (v) => (typeof v === 'number' ? String(v) : JSON.stringify(v));
  writeFileSync(
    file,
    `hostname = "mail.bench.test"\nprofile = "development"\ndata_dir = "data"\nlog_level = "${logLevel}"\n` +
      `[listen]\n${LISTENERS.map((l) => `${l} = "127.0.0.1:${ports[l]}"`).join('\n')}\n` +
      // the load comes from one address: per-IP limits sized for it, as Postfix exempts $mynetworks
      `[limits]\nconnections_per_ip = ${connections}\nconnections_total = ${connections + 100}\nimap_connections_per_user = ${connections}\n` +
      `[auth]\nfailure_delay = "1ms"\n` +
      `[transfer]\n${Object.entries(transfer)
        .map(([k, v]) => `${k} = ${quote(v)}`)
        .join('\n')}\n` +
      `[dns]\nservers = ["127.0.0.1:${dnsPort}"]\n`,
  );
  const config = loadConfig(file);
  await ensureCertificate(config.tlsCert, config.tlsKey, config.hostname);
  const mail = openMailDb(config);
  mail.accounts.addDomain('bench.test');
  const userRows = [];
  for (let i = 0; i < users; i++) userRows.push(await mail.accounts.addUser(`user${i}@bench.test`, password));

  const logFile = join(dir, 'postern.log');
  const out = openSync(logFile, 'a');
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const supervisor = spawn(process.execPath, [...nodeArgs, posternBin, '--config', file, 'start'], { cwd: dir, stdio: ['ignore', out, out] });
  const statusPath = join(config.dataDir, 'supervisor.json');
  const status = () => {
    try {
      return JSON.parse(readFileSync(statusPath, 'utf8'));
    } catch {
      return null; // not written yet, or being replaced
    }
  };
  const appOf = (app) => status()?.apps.find((a) => a.app === app) ?? null;
  for (let i = 0; ; i++) {
    if (/Postern is running/.test(readFileSync(logFile, 'utf8'))) break;
    if (supervisor.exitCode !== null || i > 1200) throw new Error(`postern start did not come up: ${readFileSync(logFile, 'utf8').slice(-3000)}`);
    await sleep(50);
  }

  return {
    dir,
    config,
    ports,
    users: userRows.map((u) => u.address),
    userRows,
    password,
    mail,
    logFile,
    status,
    /** The pid of a running, ready app; null while it is down or starting. */
    pidOf(app) {
      const a = appOf(app);
      return a?.running && a.ready ? a.pid : null;
    },
    /** SIGKILL to `app`; resolves once the supervisor has it ready again, with that time. */
    async kill9(app) {
      const pid = this.pidOf(app);
      if (!pid) throw new Error(`${app} is not running`);
      process.kill(pid, 'SIGKILL');
      const t0 = Date.now();
      for (;;) {
        const p = this.pidOf(app);
        if (p && p !== pid) return Date.now();
        if (Date.now() - t0 > 120_000) throw new Error(`${app} did not come back`);
        await sleep(20);
      }
    },
    /** Root pids of each app, for /proc sampling. */
    pids: () => Object.fromEntries((status()?.apps ?? []).filter((a) => a.running && a.pid).map((a) => [a.app, a.pid])),
    async stop() {
      supervisor.kill('SIGTERM');
      if (supervisor.exitCode === null) await new Promise((r) => supervisor.once('exit', r));
      mail.close();
      dnsServer.close();
      if (!process.env.BENCH_KEEP) rmSync(dir, { recursive: true, force: true });
    },
  };
}
