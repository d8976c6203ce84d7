#!/usr/bin/env node
// bench/smtp: pushes N messages with C concurrent connections into port 25 of a fresh Postern
// instance (delivery + transfer as separate processes, like `postern start`) and waits until all
// sit in the mailboxes. Prints accepted/s (250s after DATA), delivered/s (in the mailboxes) and
// p50/p99 of the time to the final 250.
//
//   npx turbo run build && node bench/smtp/run.mjs --messages 2000 --connections 20 --size 4k
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import dns2 from 'dns2';
import nodemailer from 'nodemailer';
import { ensureCertificate, loadConfig, openMailDb } from '@postern/core';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '2000' },
    connections: { type: 'string', default: '20' },
    size: { type: 'string', default: '4k' },
    users: { type: 'string', default: '10' },
    keep: { type: 'boolean', default: false },
  },
});
const N = Number(values.messages);
const C = Number(values.connections);
const SIZE = Number(/^(\d+)k$/i.test(values.size) ? Number(values.size.slice(0, -1)) * 1024 : values.size);
const USERS = Number(values.users);
const root = fileURLToPath(new URL('../../', import.meta.url));

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
const portOpen = (port) =>
  new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A DNS server on loopback that knows no names (NXDOMAIN at once): the inbound SPF/DKIM/DMARC
// checks then cost what they cost on a network with a working resolver, not a timeout.
const dnsServer = dns2.createServer({
  udp: true,
  handle: (request, send) => {
    const response = dns2.Packet.createResponseFromRequest(request);
    response.header.rcode = 3; // NXDOMAIN (RFC 1035 §4.1.1)
    send(response);
  },
});
await dnsServer.listen({ udp: { port: 0, address: '127.0.0.1' } });
const dnsPort = dnsServer.addresses().udp.port;

const dir = mkdtempSync(join(tmpdir(), 'postern-bench-'));
const smtp = await freePort();
const lmtp = await freePort();
const file = join(dir, 'postern.toml');
writeFileSync(
  file,
  `hostname = "mail.bench.test"\nprofile = "development"\ndata_dir = "data"\nlog_level = "warn"\n` +
    `[listen]\nsmtp = "127.0.0.1:${smtp}"\nlmtp = "127.0.0.1:${lmtp}"\n` +
    `[limits]\nconnections_per_ip = ${Math.max(C * 2, 20)}\n` +
    `[dns]\nservers = ["127.0.0.1:${dnsPort}"]\n`,
);
const config = loadConfig(file);
await ensureCertificate(config.tlsCert, config.tlsKey, config.hostname);
const mail = openMailDb(config);
mail.accounts.addDomain('bench.test');
const users = [];
for (let i = 0; i < USERS; i++) users.push(await mail.accounts.addUser(`user${i}@bench.test`, 'bench-password'));
const inboxes = [];
for (const u of users) inboxes.push((await mail.store.mailbox(u.id, 'INBOX')).id);

const children = [];
// BENCH_ONLY_ACCEPT=1: no delivery agent, measure acceptance alone (mail stays queued)
const onlyAccept = Boolean(process.env.BENCH_ONLY_ACCEPT);
for (const [app, port] of [...(onlyAccept ? [] : [['delivery', lmtp]]), ['transfer', smtp]]) {
  const child = spawn(process.execPath, [join(root, 'apps', app, 'dist', 'main.js'), '--config', file], { stdio: ['ignore', 'inherit', 'inherit'] });
  children.push(child);
  for (let i = 0; i < 200 && !(await portOpen(port)); i++) await sleep(50);
}

const body = `${'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod.\r\n'.repeat(Math.ceil(SIZE / 76))}`.slice(0, SIZE);
const transport = nodemailer.createTransport({
  host: '127.0.0.1',
  port: smtp,
  pool: true,
  maxConnections: C,
  maxMessages: Infinity,
  ignoreTLS: true, // measure the mail path, not TLS
});
const delivered = async () => {
  let n = 0;
  for (const id of inboxes) n += (await mail.store.mailboxById(id)).messages;
  return n;
};

const latencies = [];
let accepted = 0;
const t0 = performance.now();
let next = 0;
await Promise.all(
  Array.from({ length: C }, async () => {
    while (next < N) {
      const i = next++;
      const to = `user${i % USERS}@bench.test`;
      const start = performance.now();
      const info = await transport.sendMail({
        envelope: { from: 'sender@outside.example', to: [to] },
        raw: `From: sender@outside.example\r\nTo: ${to}\r\nSubject: bench ${i}\r\nMessage-ID: <bench-${i}@outside.example>\r\n\r\n${body}`,
      });
      latencies.push(performance.now() - start);
      if (info.accepted.length === 1) accepted++;
    }
  }),
);
const tAccepted = performance.now();
let got = 0;
for (let i = 0; i < 6000; i++) {
  got = await delivered();
  if (got >= accepted || onlyAccept) break;
  await sleep(20);
}
const tDelivered = performance.now();
transport.close();
latencies.sort((x, y) => x - y);
const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))].toFixed(1);
console.log(
  JSON.stringify({
    messages: N,
    connections: C,
    size: SIZE,
    accepted,
    delivered: got,
    accepted_per_s: Math.round(accepted / ((tAccepted - t0) / 1000)),
    delivered_per_s: Math.round(got / ((tDelivered - t0) / 1000)),
    p50_ms: Number(pct(50)),
    p99_ms: Number(pct(99)),
  }),
);
for (const c of children) c.kill('SIGTERM');
await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r() : c.once('exit', r)))));
mail.close();
await dnsServer.close();
if (!values.keep) rmSync(dir, { recursive: true, force: true });
