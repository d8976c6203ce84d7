/**
 * Certificates from Pebble, the ACME test CA, started on loopback: it looks our names up at a
 * loopback DNS server and really connects to our TLS-ALPN-01 (RFC 8737) and HTTP-01 (RFC 8555
 * §8.3) responders. The clock is injected for renewal; Pebble is stopped for the outage.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import type { Server as NetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { connect, createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TlsMaterial, createLogger, ensureCertificate } from '@postern/core';
import { freePort, pebbleNeed, requirement, startDnsServer, startPebble, type DnsServer, type Pebble } from '@postern/testkit';
import { CertificateManager, Challenges, alpnFront, offeredAlpn } from '../src/index.js';

const missing = requirement('acme against pebble', [pebbleNeed()]);
const HOST = 'mail.example.test';
const WEB = ['mta-sts.example.test', 'autoconfig.example.test'];

/** The certificate a TLS client gets from the front for `servername`, verified against `ca`. */
async function served(port: number, servername: string, ca: string): Promise<{ authorized: boolean; serial: string; error: string }> {
  return await new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, servername, ca, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] }, () => {
      const cert = s.getPeerX509Certificate();
      resolve({ authorized: s.authorized, serial: cert?.serialNumber ?? '', error: String(s.authorizationError ?? '') });
      s.end();
    });
    s.on('error', reject);
  });
}

describe.skipIf(missing !== null)('ACME against Pebble', () => {
  let dir: string;
  let dns: DnsServer;
  let pebble: Pebble;
  let front: NetServer;
  let https: TlsServer;
  let http: HttpServer;
  let tlsPort: number;
  let now = Date.now();
  const challenges = new Challenges();
  const logger = createLogger('acme-test', process.env.ACME_LOG ? 'debug' : 'silent');
  let host: TlsMaterial;
  let httpAnswers = 0;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'postern-acme-'));
    dns = await startDnsServer(Object.fromEntries([HOST, ...WEB].map((n) => [n, { A: ['127.0.0.1'] }])));
    tlsPort = await freePort();
    const httpPort = await freePort();
    // what `postern init` leaves: a self-signed pair, to be replaced by the first order
    await ensureCertificate(join(dir, 'cert.pem'), join(dir, 'key.pem'), HOST);
    host = new TlsMaterial(join(dir, 'cert.pem'), join(dir, 'key.pem'));
    https = createTlsServer({ SNICallback: host.sniCallback, ALPNProtocols: ['http/1.1'] }, (s) => s.end());
    front = alpnFront(https, challenges);
    await new Promise<void>((r) => front.listen(tlsPort, '127.0.0.1', r));
    http = createHttpServer((req, res) => {
      httpAnswers++;
      const answer = challenges.httpAnswer(req.url ?? '');
      res.statusCode = answer === null ? 404 : 200;
      res.end(answer ?? '');
    });
    await new Promise<void>((r) => http.listen(httpPort, '127.0.0.1', r));
    pebble = await startPebble({ dns: dns.address, httpPort, tlsPort });
  });

  afterAll(async () => {
    await pebble?.close();
    await new Promise((r) => front?.close(r));
    await new Promise((r) => http?.close(r));
    await dns?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const manager = (): CertificateManager =>
    new CertificateManager({
      directory: pebble.directory,
      email: 'postmaster@example.test',
      ca: pebble.apiCa,
      stateDir: join(dir, 'acme'),
      certificates: [
        { id: 'host', names: () => [HOST], certPath: join(dir, 'cert.pem'), keyPath: join(dir, 'key.pem') },
        { id: 'web', names: () => WEB, certPath: join(dir, 'web-cert.pem'), keyPath: join(dir, 'web-key.pem') },
      ],
      challengeTypes: ['tls-alpn-01', 'http-01'],
      challenges,
      logger,
      clock: () => now,
    });

  it('obtains both certificates by TLS-ALPN-01, and the running listener serves the new one', async () => {
    const root = await pebble.root();
    const before = await served(tlsPort, HOST, root);
    expect(before.authorized).toBe(false);
    const m = manager();
    expect(await m.check()).toEqual(['issued', 'issued']);
    const after = await served(tlsPort, HOST, root);
    expect(after.authorized).toBe(true);
    const web = new X509Certificate(readFileSync(join(dir, 'web-cert.pem')));
    expect(web.subjectAltName).toContain('DNS:mta-sts.example.test');
    expect(web.subjectAltName).toContain('DNS:autoconfig.example.test');
    // nothing is due now; the next order is a third of the lifetime before expiry
    expect(await m.check()).toEqual(['fresh', 'fresh']);
    const [state] = m.status();
    expect(state!.due).toBe(state!.notAfter! - (state!.notAfter! - state!.notBefore!) / 3);
  });

  it('renews when a third of the lifetime is left, and not before', async () => {
    const m = manager();
    await m.check();
    const [state] = m.status();
    const serial = new X509Certificate(readFileSync(join(dir, 'cert.pem'))).serialNumber;
    const key = readFileSync(join(dir, 'key.pem'), 'utf8');
    now = state!.due - 60_000;
    expect(await m.check()).toEqual(['fresh', 'fresh']);
    now = state!.due + 1;
    expect((await m.check())[0]).toBe('issued');
    expect(new X509Certificate(readFileSync(join(dir, 'cert.pem'))).serialNumber).not.toBe(serial);
    // the key is kept across renewals (a DANE 3 1 1 record of it stays true)
    expect(readFileSync(join(dir, 'key.pem'), 'utf8')).toBe(key);
    const renewed = await served(tlsPort, HOST, await pebble.root());
    expect(renewed.authorized).toBe(true);
    now = Date.now();
  });

  it('orders by HTTP-01 when that is the only challenge it may answer; a name the CA cannot reach fails the order', async () => {
    const http01 = (names: string[]): CertificateManager =>
      new CertificateManager({
        directory: pebble.directory,
        email: '',
        ca: pebble.apiCa,
        stateDir: join(dir, 'acme'),
        certificates: [{ id: 'web', names: () => names, certPath: join(dir, 'web2.pem'), keyPath: join(dir, 'web2-key.pem') }],
        challengeTypes: ['http-01'],
        challenges,
        logger,
        clock: () => now,
      });
    const asked = httpAnswers;
    expect(await http01(WEB).check()).toEqual(['issued']);
    // Pebble fetched each name's token from our port-80 responder
    expect(httpAnswers - asked).toBeGreaterThanOrEqual(WEB.length);
    // autodiscover.example.test is not in DNS: the order fails and backs off
    const m = http01([...WEB, 'autodiscover.example.test']);
    expect(await m.check()).toEqual(['failed']);
    expect(m.status()[0]!.lastError).toMatch(/autodiscover\.example\.test|DNS|NXDOMAIN/i);
  });

  it('survives the CA being down: keeps its certificate, backs off, and orders once it is back', async () => {
    const m = manager();
    await m.check();
    const [state] = m.status();
    const kept = readFileSync(join(dir, 'cert.pem'), 'utf8');
    await pebble.stop();
    now = state!.due + 1;
    expect((await m.check())[0]).toBe('failed');
    const failed = m.status()[0]!;
    expect(failed.failures).toBe(1);
    expect(failed.due).toBe(now + 5 * 60_000);
    expect(readFileSync(join(dir, 'cert.pem'), 'utf8')).toBe(kept);
    // within the backoff nothing is tried, even with the CA back
    await pebble.restart();
    expect((await m.check())[0]).toBe('waiting');
    now = failed.due;
    expect((await m.check())[0]).toBe('issued');
    expect(m.status()[0]!.failures).toBe(0);
    expect((await served(tlsPort, HOST, await pebble.root())).authorized).toBe(true);
    now = Date.now();
  });

  it('reads the ALPN list of a ClientHello', () => {
    expect(offeredAlpn(Buffer.from([22, 3, 1, 0]))).toBeNull();
    expect(offeredAlpn(Buffer.from('GET / HTTP/1.1\r\n'))).toEqual([]);
  });
});
