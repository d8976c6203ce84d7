/**
 * Pebble, Let's Encrypt's ACME test server (Debian package `pebble`), on loopback for a test:
 * its ACME API on a free port with a certificate made here, its validation authority looking
 * names up at the test's DNS server and connecting to the ports the test's responders listen on
 * (RFC 8737 TLS-ALPN-01, RFC 8555 §8.3 HTTP-01). Nothing is mocked: Pebble really connects.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { commandNeed, type Need } from './skips.js';

export function pebbleNeed(): Need {
  return commandNeed('pebble');
}

export interface Pebble {
  /** The ACME directory URL. */
  directory: string;
  /** PEM file of the certificate Pebble's API presents (for `acme.ca`). */
  apiCa: string;
  /** The root that signs what Pebble issues (it changes with every start). */
  root(): Promise<string>;
  /** Stops Pebble (its state is lost, as Pebble keeps none). */
  stop(): Promise<void>;
  /** Starts it again on the same ports, as after an outage. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export interface PebbleOptions {
  /** "ip:port" of the DNS server Pebble resolves names with. */
  dns: string;
  /** Where Pebble's validation connects for HTTP-01 and TLS-ALPN-01. */
  httpPort: number;
  tlsPort: number;
}

/** A port free right now on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Waits until Pebble accepts connections on its API port. */
async function waitForApi(port: number, child: ChildProcess, log: () => string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`pebble exited: ${log()}`);
    const up = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (up) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`pebble did not start: ${log()}`);
}

export async function startPebble(o: PebbleOptions): Promise<Pebble> {
  const dir = mkdtempSync(join(tmpdir(), 'postern-pebble-'));
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keySize: 2048,
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: false },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
        ],
      },
    ],
  } as Parameters<typeof generate>[1]);
  writeFileSync(join(dir, 'cert.pem'), pems.cert);
  writeFileSync(join(dir, 'key.pem'), pems.private);
  const port = await freePort();
  const mgmt = await freePort();
  writeFileSync(
    join(dir, 'pebble.json'),
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${port}`,
        managementListenAddress: `127.0.0.1:${mgmt}`,
        certificate: join(dir, 'cert.pem'),
        privateKey: join(dir, 'key.pem'),
        httpPort: o.httpPort,
        tlsPort: o.tlsPort,
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
      },
    }),
  );
  let child: ChildProcess | null = null;
  let out = '';
  const run = async (): Promise<void> => {
    out = '';
    // no artificial sleeps, no nonces refused at random: the test is about us, not retries
    const c = spawn('pebble', ['-config', join(dir, 'pebble.json'), '-dnsserver', o.dns], {
      env: { ...process.env, PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_AUTHZREUSE: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    c.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    child = c;
    await waitForApi(port, c, () => out);
  };
  const stop = async (): Promise<void> => {
    const c = child;
    child = null;
    if (!c || c.exitCode !== null) return;
    const gone = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    await gone;
  };
  await run();
  return {
    directory: `https://localhost:${port}/dir`,
    apiCa: join(dir, 'cert.pem'),
    async root(): Promise<string> {
      // the management interface serves the current root (Pebble makes a new one each start)
      const { request } = await import('node:https');
      return await new Promise<string>((resolve, reject) => {
        request(`https://127.0.0.1:${mgmt}/roots/0`, { ca: pems.cert, servername: 'localhost' }, (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve(body));
        })
          .on('error', reject)
          .end();
      });
    },
    stop,
    restart: run,
    async close(): Promise<void> {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
