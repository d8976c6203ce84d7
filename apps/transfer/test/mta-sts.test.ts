/**
 * Outbound MTA-STS (RFC 8461) against real peers on loopback: a DNS server with the domains'
 * MX and `_mta-sts` records, an HTTPS server with their policies (a private CA's certificate),
 * and an SMTP server whose certificate the test swaps. Under `enforce` a certificate for the
 * wrong name defers and the right one delivers; an MX host the policy does not name is never
 * tried; `testing` and no policy deliver over whatever TLS there is.
 */
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, createNodeResolver, type QueueEntry } from '@postern/core';
import { MtaSts, createDnsLookup, mxMatches, mtaStsRecordId, parseMtaStsPolicy } from '@postern/trust';
import { createTestCa, opensslNeed, requirement, startDnsServer, type DnsServer, type TestCa, type ZoneData } from '@postern/testkit';
import { deliverRemote, type OutboundDeps } from '../src/outbound.js';
import { outboundTlsPolicy } from '../src/tls-policy.js';

const missing = requirement('outbound MTA-STS', [opensslNeed()]);

const POLICIES: Record<string, string> = {
  'enforce.test': 'version: STSv1\r\nmode: enforce\r\nmx: mx.enforce.test\r\nmax_age: 86400\r\n',
  'wildcard.test': 'version: STSv1\nmode: enforce\nmx: *.wildcard.test\nmax_age: 86400\n',
  'unlisted.test': 'version: STSv1\r\nmode: enforce\r\nmx: mx.enforce.test\r\nmax_age: 86400\r\n',
  'testing.test': 'version: STSv1\r\nmode: testing\r\nmx: mx.testing.test\r\nmax_age: 86400\r\n',
};

function entry(to: string): QueueEntry {
  const data = Buffer.from(`From: a@here.test\r\nTo: ${to}\r\nSubject: sts\r\n\r\nhello\r\n`);
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

describe.skipIf(missing !== null)('outbound MTA-STS', () => {
  let ca: TestCa;
  let dns: DnsServer;
  let web: HttpsServer;
  let mx: SMTPServer;
  let deps: OutboundDeps;
  const received: string[] = [];
  const certs: Record<string, { key: string; cert: string }> = {};

  beforeAll(async () => {
    ca = createTestCa();
    const zone: ZoneData = {};
    for (const d of ['enforce.test', 'wildcard.test', 'unlisted.test', 'testing.test', 'plain.test']) {
      const host = d === 'wildcard.test' ? 'in.wildcard.test' : d === 'unlisted.test' ? 'mx.unlisted.test' : `mx.${d}`;
      zone[d] = { MX: [{ exchange: host, priority: 10 }] };
      zone[host] = { A: ['127.0.0.1'] };
      if (POLICIES[d]) {
        zone[`_mta-sts.${d}`] = { TXT: [['v=STSv1; id=20261202']] };
        zone[`mta-sts.${d}`] = { A: ['127.0.0.1'] };
      }
    }
    dns = await startDnsServer(zone);
    const webCert = ca.issue(Object.keys(POLICIES).map((d) => `mta-sts.${d}`));
    web = createHttpsServer(webCert, (req, res) => {
      const policy = POLICIES[(req.headers.host ?? '').replace(/^mta-sts\./, '').replace(/:\d+$/, '')];
      if (req.url !== '/.well-known/mta-sts.txt' || !policy) {
        res.statusCode = 404;
        return res.end();
      }
      res.setHeader('Content-Type', 'text/plain');
      res.end(policy);
    });
    await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
    certs['right'] = ca.issue(['mx.enforce.test', 'in.wildcard.test', 'mx.testing.test', 'mx.plain.test', 'mx.unlisted.test']);
    certs['wrong'] = ca.issue(['somebody.else.test']);
    certs['selfsigned'] = ca.issue(['mx.enforce.test', 'in.wildcard.test'], { selfSigned: true });
    mx = new SMTPServer({
      ...certs['wrong']!,
      authOptional: true,
      logger: false,
      onData(stream, session, cb) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          received.push(`${session.envelope.rcptTo.map((r) => r.address).join(',')} tls=${session.secure}`);
          cb();
        });
      },
    });
    await new Promise<void>((r) => mx.listen(0, '127.0.0.1', r));
    const settings = { dns: { servers: [dns.address], timeout: 1000 } };
    const log = createLogger('transfer-test', 'silent');
    deps = {
      hostname: 'mail.here.test',
      resolver: createNodeResolver(settings),
      log,
      mxPort: (mx.server.address() as AddressInfo).port,
      timeouts: { connect: 5000, greeting: 5000, socket: 5000 },
      tlsPolicy: outboundTlsPolicy({
        mtaSts: new MtaSts({ lookup: createDnsLookup(settings), httpsPort: (web.address() as AddressInfo).port, ca: [ca.cert] }),
        dane: null,
        log,
      }),
      ca: [ca.cert],
    };
  });

  afterAll(async () => {
    await new Promise<void>((r) => (mx ? mx.close(() => r()) : r()));
    await new Promise((r) => web?.close(r));
    await dns?.close();
    ca?.close();
  });

  const serve = (which: string): void => mx.updateSecureContext(certs[which]!);
  const deliver = async (to: string): Promise<{ kind: string; reply: string }> => {
    const domain = to.split('@')[1]!;
    const e = entry(to);
    const [o] = await deliverRemote(deps, { kind: 'mx', key: `mx:${domain}`, domain }, e, e.recipients);
    return { kind: o!.kind, reply: o!.reply };
  };

  it('enforce: a certificate for another name defers, a self-signed one defers, the right one delivers', async () => {
    serve('wrong');
    const wrong = await deliver('bob@enforce.test');
    expect(wrong.kind).toBe('deferred');
    expect(wrong.reply).toMatch(/^4\.\d\.\d .*MTA-STS policy of enforce\.test \(enforce/);
    serve('selfsigned');
    expect((await deliver('bob@enforce.test')).kind).toBe('deferred');
    serve('right');
    expect(await deliver('bob@enforce.test')).toMatchObject({ kind: 'delivered' });
    expect(received.at(-1)).toBe('bob@enforce.test tls=true');
  });

  it('enforce: "*.domain" names the MX host, and a host the policy does not name is never tried', async () => {
    serve('right');
    expect((await deliver('carol@wildcard.test')).kind).toBe('delivered');
    const before = received.length;
    const r = await deliver('dave@unlisted.test');
    expect(r).toMatchObject({ kind: 'deferred' });
    expect(r.reply).toMatch(/^4\.7\.5 no MX host of unlisted\.test is allowed/);
    expect(received.length).toBe(before);
  });

  it('testing mode and domains without a policy deliver over unverified TLS', async () => {
    serve('wrong');
    expect((await deliver('erin@testing.test')).kind).toBe('delivered');
    expect((await deliver('frank@plain.test')).kind).toBe('delivered');
  });

  it('parses policies and records as RFC 8461 writes them', () => {
    expect(parseMtaStsPolicy(POLICIES['enforce.test']!)).toEqual({ mode: 'enforce', mx: ['mx.enforce.test'], maxAge: 86400 });
    expect(parseMtaStsPolicy('version: STSv1\nmode: enforce\nmax_age: 1\n')).toBeNull(); // enforce without mx
    expect(parseMtaStsPolicy('version: STSv2\nmode: none\nmax_age: 1\n')).toBeNull();
    expect(mtaStsRecordId([['v=STSv1; id=abc123']])).toBe('abc123');
    expect(mtaStsRecordId([['v=STSv1; id=a'], ['v=STSv1; id=b']])).toBeNull(); // §3.1: more than one is none
    expect(mxMatches('*.example.org', 'mx.example.org')).toBe(true);
    expect(mxMatches('*.example.org', 'a.mx.example.org')).toBe(false);
    expect(mxMatches('*.example.org', 'example.org')).toBe(false);
  });
});
