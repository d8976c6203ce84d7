// An IMAP server in a process of its own, on the data dir given as argv[2], for tests that
// measure the server alone (memory while streaming) or need a second process. Runs the built
// server (dist/: `npm test` builds first). Messages from the parent: 'mem' -> { mem } (after a
// GC), 'sample' -> starts sampling memory every 10 ms, 'peak' -> { peak } and stops, 'stop'.
// A sample records the RSS, then collects garbage and records what is still reachable
// (heapUsed, arrayBuffers: Buffers live at that moment), the memory a request holds.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configFromObject, createLogger, openMailDb, TlsMaterial } from '@postern/core';

const dir = process.argv[2];
const dist = fileURLToPath(new URL('../../../dist/imap/index.js', import.meta.url));
const { startImapServer } = await import(dist);
const config = configFromObject({ hostname: 'mail.example.test', data_dir: dir, profile: 'development' }, join(dir, 'postern.toml'));
const mail = openMailDb(config);
const server = await startImapServer({
  config,
  accounts: mail.accounts,
  store: mail.store,
  tls: new TlsMaterial(config.tlsCert, config.tlsKey),
  logger: createLogger('imap-child', 'silent'),
  listen: '127.0.0.1:0',
  implicitTls: false,
});
let sampler = null;
let peak = null;
const take = () => {
  const rss = process.memoryUsage.rss();
  globalThis.gc();
  const m = process.memoryUsage();
  const now = { rss, heapUsed: m.heapUsed, arrayBuffers: m.arrayBuffers };
  if (!peak) peak = now;
  else for (const k of Object.keys(peak)) peak[k] = Math.max(peak[k], now[k]);
};
process.on('message', (m) => {
  if (m === 'mem') {
    // Twice, a moment apart: freed backing stores of Buffers are released after the first.
    globalThis.gc();
    setTimeout(() => {
      globalThis.gc();
      process.send({ mem: process.memoryUsage() });
    }, 50);
  } else if (m === 'sample') {
    peak = null;
    take();
    sampler = setInterval(take, 10);
    process.send({ sampling: true });
  } else if (m === 'peak') {
    clearInterval(sampler);
    take();
    process.send({ peak });
  } else if (m === 'stop') {
    void server.close().then(() => {
      mail.close();
      process.exit(0);
    });
  }
});
process.send({ port: server.port });
