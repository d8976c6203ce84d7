/**
 * Outbound DANE (RFC 7672) with unbound as the validating resolver on loopback: a test zone
 * signed with ldns-signzone is unbound's own authority (auth-zone) under a trust anchor for it,
 * so the AD bit is real DNSSEC validation. An MX host whose certificate matches its TLSA record
 * (DANE-EE by key, DANE-TA by the issuing CA) is delivered to; one that does not is deferred; an
 * unsigned domain is delivered to over whatever TLS there is.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, createNodeResolver, type QueueEntry } from '@postern/core';
import { lookupTlsa, secureQuery, tlsaOf, validatingResolverOf, type ValidatingResolver } from '@postern/trust';
import { commandNeed, createTestCa, freePort, opensslNeed, requirement, type TestCa } from '@postern/testkit';
import { deliverRemote, type OutboundDeps } from '../src/outbound.js';
import { outboundTlsPolicy } from '../src/tls-policy.js';

const missing = requirement('outbound DANE with unbound', [opensslNeed(), commandNeed('unbound'), commandNeed('ldns-signzone', 'ldnsutils')]);

function entry(to: string): QueueEntry {
  const data = Buffer.from(`From: a@here.test\r\nTo: ${to}\r\nSubject: dane\r\n\r\nhello\r\n`);
  return {
    id: `q${Math.random().toString(36).slice(2, 8)}`,
    sender: 'a@here.test',
    arrival: Date.now(),
    size: data.length,
    smtputf8: false,
    body8bit: false,
    envid: null,
    ret: null,
    origin: 'submission',
    client: '',
    data,
    recipients: [
      {
        id: 1,
        address: to,
        orcpt: null,
        notify: null,
        state: 'queued',
        attempts: 0,
        nextAttempt: 0,
        lastError: null,
        lastAttempt: null,
        delayNotified: false,
        agentWaits: 0,
      },
    ],
  };
}

function run(cmd: string, args: string[], cwd: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

describe.skipIf(missing !== null)('outbound DANE', () => {
  let dir: string;
  let ca: TestCa;
  let mx: SMTPServer;
  let unbound: ChildProcess;
  let resolver: ValidatingResolver;
  let deps: OutboundDeps;
  let port: number;
  let unboundLog = '';
  const certs: Record<string, { key: string; cert: string }> = {};

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'postern-dane-'));
    ca = createTestCa();
    certs['ee'] = ca.issue(['anything.example'], { selfSigned: true });
    certs['other'] = ca.issue(['anything.example'], { selfSigned: true });
    const leaf = ca.issue(['mx.ta.dane.test']);
    // DANE-TA: the server sends the trust anchor in its chain (RFC 7672 §3.2.1)
    certs['ta'] = { key: leaf.key, cert: `${leaf.cert}${ca.cert}` };
    mx = new SMTPServer({
      ...certs['ee']!,
      authOptional: true,
      logger: false,
      onData(stream, _session, cb) {
        stream.resume();
        stream.on('end', () => cb());
      },
    });
    await new Promise<void>((r) => mx.listen(0, '127.0.0.1', r));
    port = (mx.server.address() as AddressInfo).port;

    // the signed zone: dane.test and its subdomains, TLSA records for the port the MX listens on
    const zone = [
      '$ORIGIN dane.test.',
      '$TTL 300',
      '@ IN SOA ns.dane.test. hostmaster.dane.test. 1 3600 600 86400 300',
      '@ IN NS ns.dane.test.',
      'ns IN A 127.0.0.1',
      '@ IN MX 10 mx.dane.test.',
      'mx IN A 127.0.0.1',
      `_${port}._tcp.mx IN TLSA ${tlsaOf(certs['ee']!.cert)}`,
      'bad IN MX 10 mx.bad.dane.test.',
      'mx.bad IN A 127.0.0.1',
      `_${port}._tcp.mx.bad IN TLSA ${tlsaOf(certs['other']!.cert)}`,
      'ta IN MX 10 mx.ta.dane.test.',
      'mx.ta IN A 127.0.0.1',
      `_${port}._tcp.mx.ta IN TLSA 2 1 1 ${tlsaOf(ca.cert).split(' ')[3]}`,
      'notlsa IN MX 10 mx.notlsa.dane.test.',
      'mx.notlsa IN A 127.0.0.1',
      '',
    ].join('\n');
    writeFileSync(join(dir, 'dane.test.zone'), zone);
    const key = run('ldns-keygen', ['-a', 'ECDSAP256SHA256', '-k', 'dane.test'], dir).trim();
    run('ldns-signzone', ['dane.test.zone', key], dir);
    writeFileSync(
      join(dir, 'plain.test.zone'),
      [
        '$ORIGIN plain.test.',
        '$TTL 300',
        '@ IN SOA ns.plain.test. h.plain.test. 1 3600 600 86400 300',
        '@ IN NS ns.plain.test.',
        'ns IN A 127.0.0.1',
        '@ IN MX 10 mx.plain.test.',
        'mx IN A 127.0.0.1',
        '',
      ].join('\n'),
    );
    const ubPort = await freePort();
    writeFileSync(
      join(dir, 'unbound.conf'),
      `server:
  interface: 127.0.0.1
  port: ${ubPort}
  do-ip6: no
  do-daemonize: no
  chroot: ""
  username: ""
  directory: "${dir}"
  pidfile: ""
  use-syslog: no
  logfile: ""
  verbosity: 1
  access-control: 127.0.0.0/8 allow
  do-not-query-localhost: no
  module-config: "validator iterator"
  trust-anchor-file: "${join(dir, `${key}.key`)}"
  local-zone: "test." nodefault
auth-zone:
  name: "dane.test"
  zonefile: "${join(dir, 'dane.test.zone.signed')}"
  for-upstream: yes
  for-downstream: no
  fallback-enabled: no
auth-zone:
  name: "plain.test"
  zonefile: "${join(dir, 'plain.test.zone')}"
  for-upstream: yes
  for-downstream: no
  fallback-enabled: no
`,
    );
    expect(readdirSync(dir)).toContain('dane.test.zone.signed');
    unbound = spawn('unbound', ['-d', '-c', join(dir, 'unbound.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
    unbound.stderr?.on('data', (d: Buffer) => (unboundLog += d.toString()));
    resolver = validatingResolverOf([`127.0.0.1:${ubPort}`], 2000)!;
    for (let i = 0; i < 100; i++) {
      const r = await secureQuery({ ...resolver, timeoutMs: 200 }, 'dane.test', 'SOA');
      if (r.kind !== 'lookup-failed') break;
      if (unbound.exitCode !== null) throw new Error(`unbound exited: ${unboundLog}`);
    }
    const log = createLogger('transfer-test', 'silent');
    deps = {
      hostname: 'mail.here.test',
      resolver: createNodeResolver({ dns: { servers: [`127.0.0.1:${ubPort}`], timeout: 2000 } }),
      log,
      mxPort: port,
      timeouts: { connect: 5000, greeting: 5000, socket: 5000 },
      tlsPolicy: outboundTlsPolicy({ mtaSts: null, dane: resolver, log }),
    };
  });

  afterAll(async () => {
    if (unbound && unbound.exitCode === null) {
      const gone = new Promise((r) => unbound.once('exit', r));
      unbound.kill('SIGTERM');
      await gone;
    }
    await new Promise<void>((r) => (mx ? mx.close(() => r()) : r()));
    ca?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const serve = (which: string): void => mx.updateSecureContext(certs[which]!);
  const deliver = async (to: string): Promise<{ kind: string; reply: string }> => {
    const domain = to.split('@')[1]!;
    const e = entry(to);
    const [o] = await deliverRemote(deps, { kind: 'mx', key: `mx:${domain}`, domain }, e, e.recipients);
    return { kind: o!.kind, reply: o!.reply };
  };

  it('unbound validates the signed zone: authentic TLSA records, an unsigned zone without AD', async () => {
    const t = await lookupTlsa(resolver, 'mx.dane.test', port);
    expect(t, unboundLog).toMatchObject({ kind: 'dane', all: 1 });
    expect(await secureQuery(resolver, 'plain.test', 'MX')).toMatchObject({ kind: 'answer', secure: false });
    expect(await lookupTlsa(resolver, 'mx.notlsa.dane.test', port)).toEqual({ kind: 'none', why: 'no TLSA records (authenticated denial)' });
  });

  it('DANE-EE: the key the TLSA record names delivers; another key defers', async () => {
    serve('ee');
    expect(await deliver('bob@dane.test')).toMatchObject({ kind: 'delivered' });
    const bad = await deliver('bob@bad.dane.test');
    expect(bad.kind).toBe('deferred');
    expect(bad.reply).toMatch(/^4\.7\.5 .*DANE: the certificate of mx\.bad\.dane\.test matches none of its 1 TLSA record/);
    serve('other');
    expect((await deliver('bob@dane.test')).kind).toBe('deferred');
    expect((await deliver('bob@bad.dane.test')).kind).toBe('delivered');
  });

  it('DANE-TA: a certificate for the MX name issued by the CA the record names delivers; a self-signed one defers', async () => {
    serve('ta');
    expect(await deliver('carol@ta.dane.test')).toMatchObject({ kind: 'delivered' });
    serve('ee');
    expect((await deliver('carol@ta.dane.test')).kind).toBe('deferred');
  });

  it('signed without TLSA, or unsigned: delivered over unverified TLS', async () => {
    serve('other');
    expect((await deliver('dave@notlsa.dane.test')).kind).toBe('delivered');
    expect((await deliver('erin@plain.test')).kind).toBe('delivered');
  });
});
