/**
 * `postern doctor` through the built binary, against a DNS zone on loopback holding what
 * `postern dns` printed, an HTTPS server with the MTA-STS policy (a private CA's certificate),
 * a TCP peer that greets like an MX, and a test blocklist zone; then each kind of mistake
 * planted in turn, and the finding it must produce, with its fix.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueueStore, loadConfig, newId, retryPolicyOf } from '@postern/core';
import { createTestCa, freePort, opensslNeed, requirement, type TestCa } from '@postern/testkit';
import { postern, printedRecords, addRecords, startDnsServer, type DnsServer, type ZoneData } from './helpers.js';

const missing = requirement('postern doctor', [opensslNeed()]);
const IP = '192.0.2.10';

interface Check {
  area: string;
  status: 'ok' | 'warn' | 'fail';
  what: string;
  fix: string;
}

describe.skipIf(missing !== null)('postern doctor', () => {
  const dir = mkdtempSync(join(tmpdir(), 'postern-doctor-'));
  const config = join(dir, 'postern.toml');
  const zone: ZoneData = {};
  let dns: DnsServer;
  let ca: TestCa;
  let web: HttpsServer;
  let mx: Server;
  let policy = '';
  let args: string[];

  beforeAll(async () => {
    dns = await startDnsServer(zone);
    const init = await postern(config, ['init', '--domain', 'example.test']);
    expect(init.err).toBe('');
    writeFileSync(config, readFileSync(config, 'utf8').replace('servers = []', `servers = ["${dns.address}"]\ntimeout = "2s"`));
    addRecords(zone, await printedRecords(config, 'example.test', ['--ip', IP]));
    const printed = JSON.parse((await postern(config, ['dns', '--json', '--ip', IP])).out) as Array<{ mtaStsPolicy: string }>;
    policy = printed[0]!.mtaStsPolicy;
    // mta-sts.example.test is a CNAME to the host; this test server does not chase CNAMEs as a
    // resolver would, so the name also answers A itself: the policy server on loopback
    zone['mta-sts.example.test']!.A = ['127.0.0.1'];
    ca = createTestCa();
    writeFileSync(join(dir, 'ca.pem'), ca.cert);
    web = createHttpsServer(ca.issue(['mta-sts.example.test']), (_req, res) => {
      if (policy === '') {
        res.statusCode = 404;
        return res.end();
      }
      res.setHeader('Content-Type', 'text/plain');
      res.end(policy);
    });
    await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
    mx = createServer((s) => s.end('220 mx.greeter.test ESMTP\r\n'));
    await new Promise<void>((r) => mx.listen(0, '127.0.0.1', r));
    args = [
      'doctor',
      '--json',
      '--ip',
      IP,
      '--blocklist',
      'bl.test',
      '--port25',
      `127.0.0.1:${(mx.address() as AddressInfo).port}`,
      '--https-port',
      String((web.address() as AddressInfo).port),
      '--https-ca',
      join(dir, 'ca.pem'),
    ];
  });

  afterAll(async () => {
    await dns?.close();
    await new Promise((r) => web?.close(r));
    await new Promise((r) => mx?.close(r));
    ca?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const doctor = async (extra: string[] = []): Promise<{ code: number; checks: Check[] }> => {
    const r = await postern(config, [...args, ...extra]);
    expect(r.err).toBe('');
    return { code: r.code, checks: JSON.parse(r.out) as Check[] };
  };
  const failures = (checks: Check[]): Check[] => checks.filter((c) => c.status === 'fail');

  it('finds nothing wrong when everything postern dns printed is in place (exit 0)', async () => {
    const { code, checks } = await doctor();
    expect(failures(checks), JSON.stringify(failures(checks))).toEqual([]);
    expect(code).toBe(0);
    const areas = new Set(checks.map((c) => c.area));
    for (const a of ['dns', 'mta-sts', 'rdns', 'blocklist', 'certificate', 'port25', 'queue']) expect(areas, a).toContain(a);
    // init's certificate is self-signed: a warning that says what to do
    expect(checks.find((c) => c.area === 'certificate')).toMatchObject({ status: 'warn', fix: expect.stringMatching(/acme/) });
  });

  it('a missing DKIM key record: fails, and says what to publish', async () => {
    const saved = zone['postern._domainkey.example.test'];
    delete zone['postern._domainkey.example.test'];
    try {
      const { code, checks } = await doctor();
      expect(code).toBe(1);
      expect(failures(checks)).toEqual([
        expect.objectContaining({
          area: 'dns',
          what: expect.stringMatching(/^postern\._domainkey\.example\.test TXT is missing/),
          fix: expect.stringMatching(/^publish postern\._domainkey\.example\.test\. IN TXT v=DKIM1; k=rsa; p=/),
        }),
      ]);
    } finally {
      zone['postern._domainkey.example.test'] = saved!;
    }
  });

  it('reverse DNS naming another host: fails', async () => {
    const key = '10.2.0.192.in-addr.arpa';
    const saved = zone[key];
    zone[key] = { PTR: ['host-192-0-2-10.provider.test'] };
    try {
      const f = failures((await doctor()).checks);
      expect(f.map((c) => c.area)).toContain('rdns');
      expect(f.find((c) => c.area === 'rdns')!.what).toBe(`${IP} reverse-resolves to host-192-0-2-10.provider.test, not mail.example.test`);
    } finally {
      zone[key] = saved!;
    }
  });

  it('the address on a blocklist: fails with the list and its reason', async () => {
    zone['10.2.0.192.bl.test'] = { A: ['127.0.0.2'], TXT: [['listed for spam, see https://bl.test/']] };
    try {
      const f = failures((await doctor()).checks);
      expect(f).toEqual([expect.objectContaining({ area: 'blocklist', what: `${IP} is listed at bl.test: listed for spam, see https://bl.test/` })]);
    } finally {
      delete zone['10.2.0.192.bl.test'];
    }
  });

  it('the MTA-STS policy not served: fails', async () => {
    const saved = policy;
    policy = '';
    try {
      const f = failures((await doctor()).checks);
      expect(f).toEqual([expect.objectContaining({ area: 'mta-sts', what: expect.stringContaining('cannot be fetched: policy fetch: HTTP 404') })]);
    } finally {
      policy = saved;
    }
  });

  it('outbound port 25 closed: fails and names the smarthost way out', async () => {
    const closed = await freePort();
    const f = failures((await doctor(['--port25', `127.0.0.1:${closed}`])).checks);
    expect(f).toEqual([expect.objectContaining({ area: 'port25', fix: expect.stringMatching(/smarthost/) })]);
  });

  it("groups the queue's refusals by receiver and cause", async () => {
    const q = QueueStore.open(loadConfig(config));
    try {
      for (let i = 0; i < 2; i++) {
        const id = newId();
        await q.enqueue({
          id,
          sender: 'a@example.test',
          recipients: [{ address: `x${i}@big.test` }],
          data: Buffer.from('Subject: x\r\n\r\nx\r\n'),
          origin: 'submission',
        });
        const entry = q.get(id)!;
        q.record(
          entry,
          [{ recipientId: entry.recipients[0]!.id, kind: 'deferred', reply: '421 4.7.0 [192.0.2.10] listed at zen.spamhaus.org' }],
          retryPolicyOf(loadConfig(config)),
        );
      }
    } finally {
      q.close();
    }
    const queue = (await doctor()).checks.filter((c) => c.area === 'queue');
    expect(queue).toEqual([
      {
        area: 'queue',
        status: 'warn',
        what: '2 message(s) to big.test waiting: the receiver says our IP is listed on a blocklist (the receiver said: 421 4.7.0 [192.0.2.10] listed at zen.spamhaus.org)',
        fix: expect.stringMatching(/delisting/),
      },
    ]);
  });
});
