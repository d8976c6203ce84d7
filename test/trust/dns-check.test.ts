/**
 * `postern dns` and `postern dns --check` through the built binary: the records printed for a
 * domain, then checked against a DNS server on loopback (`dns.servers` in postern.toml) that
 * serves them, first exactly, then with one record missing and one wrong.
 */
import { createPublicKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postern, printedRecords, addRecords, startDnsServer, type DnsServer, type ZoneData } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'postern-dns-'));
const config = join(dir, 'postern.toml');
const zone: ZoneData = {};
let server: DnsServer;

beforeAll(async () => {
  server = await startDnsServer(zone);
  const init = await postern(config, ['init', '--domain', 'example.test']);
  expect(init.err).toBe('');
  // the DNS server on loopback instead of the system's
  writeFileSync(config, readFileSync(config, 'utf8').replace('servers = []', `servers = ["${server.address}"]\ntimeout = "2s"`));
});

afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('postern dns', () => {
  it('prints the zone: MX, A, SPF, both DKIM keys, DMARC, MTA-STS, TLS-RPT, SRV, autoconfig, PTR', async () => {
    const r = await postern(config, ['dns', '--ip', '192.0.2.10']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const lines = r.out.split('\n');
    const has = (re: RegExp): void =>
      expect(
        lines.some((l) => re.test(l)),
        String(re),
      ).toBe(true);
    has(/^example\.test\. 3600 IN MX 10 mail\.example\.test\.$/);
    has(/^mail\.example\.test\. 3600 IN A 192\.0\.2\.10$/);
    has(/^example\.test\. 3600 IN TXT "v=spf1 mx -all"$/);
    has(/^postern\._domainkey\.example\.test\. 3600 IN TXT "v=DKIM1; k=rsa; p=[^"]+" "[^"]+"$/);
    has(/^postern-ed25519\._domainkey\.example\.test\. 3600 IN TXT "v=DKIM1; k=ed25519; p=[A-Za-z0-9+/=]{44}"$/);
    has(/^_dmarc\.example\.test\. 3600 IN TXT "v=DMARC1; p=quarantine; rua=mailto:postmaster@example\.test"$/);
    has(/^_mta-sts\.example\.test\. 3600 IN TXT "v=STSv1; id=[0-9a-f]+"$/);
    has(/^_smtp\._tls\.example\.test\. 3600 IN TXT "v=TLSRPTv1; rua=mailto:postmaster@example\.test"$/);
    has(/^_submissions\._tcp\.example\.test\. 3600 IN SRV 0 1 465 mail\.example\.test\.$/);
    has(/^_imaps\._tcp\.example\.test\. 3600 IN SRV 0 1 993 mail\.example\.test\.$/);
    has(/^_pop3\._tcp\.example\.test\. 3600 IN SRV 10 1 110 mail\.example\.test\.$/);
    has(/^autoconfig\.example\.test\. 3600 IN CNAME mail\.example\.test\.$/);
    has(/^10\.2\.0\.192\.in-addr\.arpa\. 3600 IN PTR mail\.example\.test\.$/);
    has(/^; {3}mode: testing$/);
    // `init` made the keys that are printed
    const ed = createPublicKey(readFileSync(join(dir, 'data/dkim/example.test/postern.ed25519.pem'), 'utf8'));
    expect(r.out).toContain(`k=ed25519; p=${ed.export({ type: 'spki', format: 'der' }).subarray(12).toString('base64')}"`);
  });

  it('refuses a domain that is not ours and a malformed --ip', async () => {
    const other = await postern(config, ['dns', 'elsewhere.test']);
    expect(other.code).toBe(1);
    expect(other.err).toMatch(/elsewhere\.test is not a local domain/);
    expect((await postern(config, ['dns', '--ip', '300.1.1.1'])).err).toMatch(/--ip wants an IPv4 address/);
  });

  it('--check: every record ok when the zone holds what was printed (exit 0)', async () => {
    addRecords(zone, await printedRecords(config, 'example.test', ['--ip', '192.0.2.10']));
    const r = await postern(config, ['dns', 'example.test', '--ip', '192.0.2.10', '--check']);
    expect(r.err).toBe('');
    expect(r.out).toMatch(/^all \d+ records ok$/m);
    expect(r.code).toBe(0);
  });

  it('--check: reports a missing and a wrong record, with what it found (exit 1)', async () => {
    const saved = structuredClone(zone);
    try {
      delete zone['_dmarc.example.test'];
      zone['example.test']!.MX = [{ exchange: 'mx.elsewhere.test', priority: 10 }];
      const r = await postern(config, ['dns', 'example.test', '--ip', '192.0.2.10', '--check']);
      expect(r.code).toBe(1);
      const rows = r.out.split('\n').filter((l) => !/^ok\s/.test(l));
      expect(rows[0]).toMatch(/^STATUS\s+NAME\s+TYPE\s+DETAIL$/);
      expect(rows).toContainEqual(expect.stringMatching(/^wrong\s+example\.test\s+MX\s+no MX names mail\.example\.test; found: 10 mx\.elsewhere\.test$/));
      expect(rows).toContainEqual(expect.stringMatching(/^missing\s+_dmarc\.example\.test\s+TXT\s+no TXT record$/));
      expect(r.out).toMatch(/^2 of \d+ records need attention$/m);

      const json = JSON.parse((await postern(config, ['dns', 'example.test', '--ip', '192.0.2.10', '--check', '--json'])).out) as Array<{
        status: string;
        record: { name: string; type: string };
      }>;
      expect(
        json
          .filter((c) => c.status !== 'ok')
          .map((c) => `${c.status} ${c.record.name} ${c.record.type}`)
          .sort(),
      ).toEqual(['missing _dmarc.example.test TXT', 'wrong example.test MX']);
    } finally {
      for (const k of Object.keys(zone)) delete zone[k];
      Object.assign(zone, saved);
    }
  });
});
