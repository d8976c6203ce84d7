/**
 * MX resolution (RFC 5321 §5.1, RFC 7505) against a real DNS server on loopback (dns2), through
 * the same node resolver and `dns.servers` setting production uses.
 */
import type { AddressInfo } from 'node:net';
import dns2 from 'dns2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configFromObject, createResolver, DnsTemporaryError, lookupMx, resolveHost, type DnsResolver } from '@postern/core';

const { Packet } = dns2;
// RFC 1035 §4.1.1 response codes (dns2's typings lack Packet.RCODE)
const RCODE = { SERVFAIL: 2, NXDOMAIN: 3 } as const;

type Zone = Record<string, { mx?: Array<[number, string]>; a?: string[]; aaaa?: string[]; servfail?: boolean }>;

const zone: Zone = {
  'pref.test': {
    mx: [
      [20, 'backup.pref.test'],
      [10, 'mx1.pref.test'],
      [10, 'mx2.pref.test'],
      [30, 'last.pref.test'],
    ],
  },
  'mx1.pref.test': { a: ['127.0.0.11'] },
  'plain.test': { a: ['127.0.0.12'], aaaa: ['::1'] },
  'nullmx.test': { mx: [[0, '']] },
  'broken.test': { servfail: true },
  'noaddr.test': {},
};

let server: ReturnType<typeof dns2.createServer>;
let resolver: DnsResolver;

beforeAll(async () => {
  server = dns2.createServer({
    udp: true,
    handle: (request, send) => {
      const response = Packet.createResponseFromRequest(request);
      const q = request.questions[0]!;
      const name = q.name.toLowerCase();
      const entry = zone[name];
      if (!entry) {
        response.header.rcode = RCODE.NXDOMAIN;
        return send(response);
      }
      if (entry.servfail) {
        response.header.rcode = RCODE.SERVFAIL;
        return send(response);
      }
      const base = { name: q.name, class: Packet.CLASS.IN, ttl: 60 };
      const answers = response.answers as unknown[]; // plain records; dns2 encodes them by type
      if (q.type === Packet.TYPE.MX) for (const [priority, exchange] of entry.mx ?? []) answers.push({ ...base, type: Packet.TYPE.MX, priority, exchange });
      if (q.type === Packet.TYPE.A) for (const address of entry.a ?? []) answers.push({ ...base, type: Packet.TYPE.A, address });
      if (q.type === Packet.TYPE.AAAA) for (const address of entry.aaaa ?? []) answers.push({ ...base, type: Packet.TYPE.AAAA, address });
      send(response);
    },
  });
  await server.listen({ udp: { port: 0, address: '127.0.0.1' } });
  const port = (server.addresses().udp as AddressInfo).port;
  const config = configFromObject({ hostname: 'mail.a.test', dns: { servers: [`127.0.0.1:${port}`], timeout: '2s' } }, '/tmp/postern.toml');
  resolver = createResolver(config);
});

afterAll(async () => {
  await server?.close();
});

describe('MX resolution', () => {
  it('orders MX hosts by preference, shuffling only equal preferences', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const r = await lookupMx('pref.test', resolver);
      expect(r.kind).toBe('hosts');
      if (r.kind !== 'hosts') return;
      const names = r.hosts.map((h) => h.name);
      expect(new Set(names.slice(0, 2))).toEqual(new Set(['mx1.pref.test', 'mx2.pref.test']));
      expect(names.slice(2)).toEqual(['backup.pref.test', 'last.pref.test']);
      expect(r.implicit).toBe(false);
      seen.add(names[0]!);
    }
    // with a fixed random source the order of equal preferences is decided by it
    const first = await lookupMx('pref.test', resolver, () => 0);
    const again = await lookupMx('pref.test', resolver, () => 0);
    expect(first).toEqual(again);
    expect(seen.size).toBeGreaterThanOrEqual(1);
  });

  it('falls back to the address records when there is no MX (implicit MX)', async () => {
    const r = await lookupMx('plain.test', resolver);
    expect(r).toEqual({ kind: 'hosts', hosts: [{ name: 'plain.test', preference: 0 }], implicit: true });
    expect(await resolveHost('plain.test', resolver)).toEqual(['127.0.0.12', '::1']);
    expect(await resolveHost('mx1.pref.test', resolver)).toEqual(['127.0.0.11']);
  });

  it('treats a null MX (RFC 7505) as a domain that takes no mail', async () => {
    expect(await lookupMx('nullmx.test', resolver)).toEqual({ kind: 'null-mx' });
  });

  it('reports a nonexistent domain, and a domain with neither MX nor address, as permanent', async () => {
    expect(await lookupMx('nowhere.test', resolver)).toEqual({ kind: 'no-domain' });
    expect(await lookupMx('noaddr.test', resolver)).toEqual({ kind: 'no-domain' });
  });

  it('makes a DNS failure a temporary error', async () => {
    await expect(lookupMx('broken.test', resolver)).rejects.toBeInstanceOf(DnsTemporaryError);
  });
});
