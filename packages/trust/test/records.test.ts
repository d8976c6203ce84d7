import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDomainKeys } from '../src/dkim-keys.js';
import { checkDnsRecords, dnsRecords, formatZone, mtaStsId, mtaStsPolicy, type DnsRecord } from '../src/records.js';
import { cachedDnsLookup, createDnsLookup, expandIpv6, reverseName } from '../src/resolver.js';
import { testConfig } from './fixtures.js';
import { addRecords, startDnsServer, zoneLookup, type DnsServer, type ZoneData } from './zone.js';

let config: ReturnType<typeof testConfig>['config'];
let cleanup: () => void;
beforeAll(() => {
  ({ config, cleanup } = testConfig('mail.example.org'));
});
afterAll(() => cleanup());

const byName = (records: DnsRecord[], name: string, type: string): DnsRecord | undefined => records.find((r) => r.name === name && r.type === type);

describe('dnsRecords', () => {
  it('lists every record the domain needs', () => {
    const records = dnsRecords({ config, domain: 'Example.org', ipv4: '192.0.2.10', ipv6: '2001:db8::10' });
    const keys = ensureDomainKeys(config, 'example.org').keys;
    const table = records.map((r) => [r.name, r.type, r.value]);
    expect(table).toEqual([
      ['example.org', 'MX', '10 mail.example.org.'],
      ['mail.example.org', 'A', '192.0.2.10'],
      ['mail.example.org', 'AAAA', '2001:db8::10'],
      ['example.org', 'TXT', 'v=spf1 mx -all'],
      ['mail.example.org', 'TXT', 'v=spf1 a -all'],
      ['postern._domainkey.example.org', 'TXT', `v=DKIM1; k=rsa; p=${keys[0]!.publicKey}`],
      ['postern-ed25519._domainkey.example.org', 'TXT', `v=DKIM1; k=ed25519; p=${keys[1]!.publicKey}`],
      ['_dmarc.example.org', 'TXT', 'v=DMARC1; p=quarantine; rua=mailto:postmaster@example.org'],
      ['_mta-sts.example.org', 'TXT', `v=STSv1; id=${mtaStsId(mtaStsPolicy(config))}`],
      ['mta-sts.example.org', 'CNAME', 'mail.example.org.'],
      ['_smtp._tls.example.org', 'TXT', 'v=TLSRPTv1; rua=mailto:postmaster@example.org'],
      ['_submissions._tcp.example.org', 'SRV', '0 1 465 mail.example.org.'],
      ['_submission._tcp.example.org', 'SRV', '10 1 587 mail.example.org.'],
      ['_imaps._tcp.example.org', 'SRV', '0 1 993 mail.example.org.'],
      ['_imap._tcp.example.org', 'SRV', '10 1 143 mail.example.org.'],
      ['_pop3s._tcp.example.org', 'SRV', '0 1 995 mail.example.org.'],
      // pop3 is not configured in the fixture: RFC 6186 §3.4 "not offered"
      ['_pop3._tcp.example.org', 'SRV', '0 0 0 .'],
      ['autoconfig.example.org', 'CNAME', 'mail.example.org.'],
      ['autodiscover.example.org', 'CNAME', 'mail.example.org.'],
      ['10.2.0.192.in-addr.arpa', 'PTR', 'mail.example.org.'],
      ['0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa', 'PTR', 'mail.example.org.'],
    ]);
    expect(records.every((r) => r.note.length > 0)).toBe(true);
  });

  it('leaves the address to fill in when the IP is not given', () => {
    const records = dnsRecords({ config, domain: 'example.org' });
    expect(byName(records, 'mail.example.org', 'A')).toMatchObject({ value: '', match: 'present' });
    expect(records.some((r) => r.type === 'PTR' || r.type === 'AAAA')).toBe(false);
    expect(formatZone(records)).toMatch(/^; mail\.example\.org\. 3600 IN A <fill in>$/m);
  });

  it('serves an MTA-STS policy naming our MX, and its id follows the text', () => {
    const policy = mtaStsPolicy(config);
    expect(policy).toBe('version: STSv1\r\nmode: testing\r\nmx: mail.example.org\r\nmax_age: 604800\r\n');
    expect(mtaStsId(policy)).toMatch(/^[0-9a-f]{20}$/);
    expect(mtaStsId(policy.replace('testing', 'enforce'))).not.toBe(mtaStsId(policy));
  });

  it('prints a zone file: TXT quoted and split at 255 bytes', () => {
    const zone = formatZone(dnsRecords({ config, domain: 'example.org', ipv4: '192.0.2.10' }));
    expect(zone).toMatch(/^example\.org\. 3600 IN MX 10 mail\.example\.org\.$/m);
    expect(zone).toMatch(/^example\.org\. 3600 IN TXT "v=spf1 mx -all"$/m);
    const dkim = zone.split('\n').find((l) => l.startsWith('postern._domainkey.'))!;
    const strings = [...dkim.matchAll(/"([^"]*)"/g)].map((m) => m[1]!);
    expect(strings.length).toBeGreaterThan(1);
    expect(strings.every((s) => s.length <= 255)).toBe(true);
    expect(strings.join('')).toMatch(/^v=DKIM1; k=rsa; p=/);
    expect(zone).toMatch(/^_submissions\._tcp\.example\.org\. 3600 IN SRV 0 1 465 mail\.example\.org\.$/m);
  });
});

describe('reverse names', () => {
  it('follows RFC 1035 §3.5 and RFC 3596 §2.5', () => {
    expect(reverseName('192.0.2.10')).toBe('10.2.0.192.in-addr.arpa');
    expect(expandIpv6('2001:db8::1')).toBe('2001:0db8:0000:0000:0000:0000:0000:0001');
    expect(expandIpv6('::1')).toBe('0000:0000:0000:0000:0000:0000:0000:0001');
    expect(reverseName('2001:db8::1').startsWith('1.0.0.0.0.0.0.0')).toBe(true);
  });
});

describe('checkDnsRecords against a DNS server on 127.0.0.1', () => {
  let server: DnsServer;
  const zone: ZoneData = {};
  let records: DnsRecord[];

  beforeAll(async () => {
    records = dnsRecords({ config, domain: 'example.org', ipv4: '192.0.2.10' });
    addRecords(zone, records);
    server = await startDnsServer(zone);
  });
  afterAll(() => server.close());

  const lookup = (): ReturnType<typeof createDnsLookup> => createDnsLookup({ dns: { servers: [server.address], timeout: 2000 } });

  it('says ok for every record when the zone is what `postern dns` printed', async () => {
    const checks = await checkDnsRecords(records, lookup());
    expect(checks.filter((c) => c.status !== 'ok').map((c) => [c.record.name, c.record.type, c.status, c.detail])).toEqual([]);
    expect(checks).toHaveLength(records.length);
  });

  it('reports a missing and a wrong record, and what it found', async () => {
    const saved = structuredClone(zone);
    try {
      delete zone['_dmarc.example.org'];
      zone['example.org']!.MX = [{ exchange: 'mx.someone-else.net', priority: 10 }];
      zone['mail.example.org']!.A = ['198.51.100.99'];
      const keyName = 'postern._domainkey.example.org';
      zone[keyName]!.TXT = [['v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAold']];
      zone['example.org']!.TXT = [['v=spf1 a:other.example.net -all'], ['google-site-verification=abc']];
      const checks = await checkDnsRecords(records, lookup());
      const status = Object.fromEntries(checks.map((c) => [`${c.record.name} ${c.record.type}`, c]));
      expect(status['_dmarc.example.org TXT']).toMatchObject({ status: 'missing', found: [] });
      expect(status['example.org MX']).toMatchObject({ status: 'wrong', found: ['10 mx.someone-else.net'], detail: 'no MX names mail.example.org' });
      expect(status['mail.example.org A']).toMatchObject({ status: 'wrong', found: ['198.51.100.99'], detail: 'expected 192.0.2.10' });
      expect(status[`${keyName} TXT`]).toMatchObject({ status: 'wrong', detail: 'a different public key is published' });
      expect(status['example.org TXT']).toMatchObject({ status: 'wrong', detail: expect.stringContaining('no "mx" mechanism') });
      expect(checks.filter((c) => c.status === 'ok')).toHaveLength(records.length - 5);
    } finally {
      for (const k of Object.keys(zone)) delete zone[k];
      Object.assign(zone, saved);
    }
  });

  it('accepts a stricter DMARC policy and a wider SPF record', async () => {
    const checks = await checkDnsRecords(
      records,
      zoneLookup({
        ...zone,
        'example.org': { ...zone['example.org'], TXT: [['v=spf1 mx ip4:192.0.2.99 ~all']] },
        '_dmarc.example.org': { TXT: [['v=DMARC1; p=reject']] },
      }),
    );
    expect(checks.filter((c) => c.status !== 'ok')).toEqual([]);
  });

  it('says error (not missing) when the DNS server does not answer', async () => {
    const dead = createDnsLookup({ dns: { servers: ['127.0.0.1:9'], timeout: 200 } });
    const checks = await checkDnsRecords(records.slice(0, 2), dead);
    expect(checks.map((c) => c.status)).toEqual(['error', 'error']);
    expect(checks[0]!.detail).toMatch(/^lookup failed: E/);
  });

  it('flags two SPF records as wrong (RFC 7208 §4.5: permerror)', async () => {
    const checks = await checkDnsRecords(
      records.filter((r) => r.name === 'example.org' && r.type === 'TXT'),
      zoneLookup({ 'example.org': { TXT: [['v=spf1 mx -all'], ['v=spf1 -all']] } }),
    );
    expect(checks[0]).toMatchObject({ status: 'wrong', detail: '2 records where one is allowed' });
  });
});

describe('cachedDnsLookup', () => {
  it('keeps answers and absences for its age, shares concurrent lookups, and asks again after a temporary failure', async () => {
    const asked: string[] = [];
    let failNext = false;
    const base = async (name: string, rrtype: string): Promise<unknown> => {
      asked.push(`${rrtype} ${name}`);
      if (failNext) {
        failNext = false;
        throw Object.assign(new Error('timeout'), { code: 'ETIMEOUT' });
      }
      if (name === 'absent.example') throw Object.assign(new Error('no such name'), { code: 'ENOTFOUND' });
      return [[`answer for ${name}`]];
    };
    const lookup = cachedDnsLookup(base, 60_000);
    const [a, b] = await Promise.all([lookup('Example.ORG', 'txt'), lookup('example.org', 'TXT')]);
    expect(a).toEqual([['answer for Example.ORG']]);
    expect(b).toBe(a);
    await expect(lookup('absent.example', 'TXT')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    await expect(lookup('absent.example', 'TXT')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    expect(asked).toEqual(['txt Example.ORG', 'TXT absent.example']);
    failNext = true;
    await expect(lookup('flaky.example', 'TXT')).rejects.toMatchObject({ code: 'ETIMEOUT' });
    await expect(lookup('flaky.example', 'TXT')).resolves.toEqual([['answer for flaky.example']]);
    expect(asked.filter((q) => q.includes('flaky'))).toHaveLength(2);
    // Age 0: no cache at all.
    const uncached = cachedDnsLookup(base, 0);
    await uncached('example.org', 'TXT');
    await uncached('example.org', 'TXT');
    expect(asked.filter((q) => q === 'TXT example.org')).toHaveLength(2);
  });

  it('forgets an answer once it is older than its age', async () => {
    let n = 0;
    const lookup = cachedDnsLookup(async () => [[`answer ${++n}`]], 50);
    expect(await lookup('example.org', 'TXT')).toEqual([['answer 1']]);
    expect(await lookup('example.org', 'TXT')).toEqual([['answer 1']]);
    const until = Date.now() + 5000;
    while (Date.now() < until && n === 1) {
      await new Promise((r) => setTimeout(r, 20));
      await lookup('example.org', 'TXT');
    }
    expect(n).toBe(2);
  });
});
