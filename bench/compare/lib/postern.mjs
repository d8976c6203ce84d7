// A Postern instance for the benchmarks, started as `postern start` would: the delivery agent
// (LMTP, IMAP) and the transfer app (port 25, the queue) as separate processes from their built
// dist/, in a temporary directory, on loopback, with a DNS server on loopback that knows no names
// (the inbound SPF/DKIM/DMARC checks then cost what they cost with a working resolver).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import dns2 from 'dns2';
import { ensureCertificate, loadConfig, openMailDb } from '@postern/core';
import { freePort } from './postfix-dovecot.mjs';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const portOpen = (port) =>
  new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });

/**
 * @param {{ users?: number, password?: string, apps?: string[], connections?: number, populate?: (mail, users) => Promise<void> | void }} o
 */
export async function startPostern({ users = 10, password = 'bench-password', apps = ['delivery', 'transfer'], connections = 200, populate } = {}) {
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

  const dir = mkdtempSync(join(tmpdir(), 'bench-postern-'));
  const ports = { smtp: await freePort(), lmtp: await freePort(), imap: await freePort() };
  const file = join(dir, 'postern.toml');
  writeFileSync(
    file,
    `hostname = "mail.bench.test"\nprofile = "development"\ndata_dir = "data"\nlog_level = "warn"\n` +
      `[listen]\nsmtp = "127.0.0.1:${ports.smtp}"\nlmtp = "127.0.0.1:${ports.lmtp}"\nimap = "127.0.0.1:${ports.imap}"\n` +
      // the load comes from one address: per-IP limits sized for it, as Postfix exempts $mynetworks
      `[limits]\nconnections_per_ip = ${connections}\nconnections_total = ${connections + 100}\nimap_connections_per_user = ${connections}\n` +
      // BENCH_AUTH_CACHE_LIFETIME="0s" measures logins without the auth cache
      `[auth]\nfailure_delay = "1ms"\n${process.env.BENCH_AUTH_CACHE_LIFETIME ? `cache_lifetime = "${process.env.BENCH_AUTH_CACHE_LIFETIME}"\n` : ''}` +
      `[dns]\nservers = ["127.0.0.1:${dnsPort}"]\n`,
  );
  const config = loadConfig(file);
  await ensureCertificate(config.tlsCert, config.tlsKey, config.hostname);
  const mail = openMailDb(config);
  mail.accounts.addDomain('bench.test');
  const userRows = [];
  for (let i = 0; i < users; i++) userRows.push(await mail.accounts.addUser(`user${i}@bench.test`, password));
  if (populate) await populate(mail, userRows);
  const inboxes = [];
  for (const u of userRows) inboxes.push((await mail.store.mailbox(u.id, 'INBOX')).id);

  const children = new Map();
  for (const app of apps) {
    // BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof": profile the apps under the load
    const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
    const child = spawn(process.execPath, [...nodeArgs, join(root, 'apps', app, 'dist', 'main.js'), '--config', file], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    children.set(app, child);
    const port = app === 'delivery' ? ports.lmtp : ports.smtp;
    let up = false;
    for (let i = 0; i < 400; i++) {
      up = await portOpen(port);
      if (up) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    if (!up) throw new Error(`postern ${app} did not start`);
  }
  return {
    dir,
    ports,
    users: userRows.map((u) => u.address),
    password,
    roots: () => Object.fromEntries([...children].map(([app, c]) => [app, [c.pid]])),
    delivered: async () => {
      let n = 0;
      for (const id of inboxes) n += (await mail.store.mailboxById(id)).messages;
      return n;
    },
    // Contents whose substring (SEARCH TEXT) index the delivery agent has yet to build: it is
    // built after delivery, when the store is quiet (packages/core/src/store/trigram.ts).
    substringsPending: () => mail.store.substringBacklog(),
    async stop() {
      for (const c of children.values()) c.kill('SIGTERM');
      await Promise.all([...children.values()].map((c) => new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', r)))));
      mail.close();
      dnsServer.close();
      if (!process.env.BENCH_KEEP) rmSync(dir, { recursive: true, force: true });
    },
  };
}
