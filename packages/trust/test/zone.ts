/**
 * A DNS zone for tests, served two ways: as an injected lookup function (the shape mailauth and
 * @postern/trust take) and by a real DNS server on 127.0.0.1 (dns2, UDP) for code that goes
 * through node's resolver. Answers use node's `dns.resolve` shapes.
 */
import dns2 from 'dns2';
import type { DnsLookup } from '../src/resolver.js';

export interface ZoneData {
  [name: string]: {
    A?: string[];
    AAAA?: string[];
    MX?: Array<{ exchange: string; priority: number }>;
    /** Each record is its list of character-strings. */
    TXT?: string[][];
    SRV?: Array<{ name: string; port: number; priority: number; weight: number }>;
    CNAME?: string[];
    PTR?: string[];
  };
}

function dnsError(code: string, name: string): Error {
  return Object.assign(new Error(`${code} ${name}`), { code });
}

/** ENOTFOUND for an unknown name, ENODATA for a known name without that type. */
export function zoneLookup(zone: ZoneData, failing: readonly string[] = []): DnsLookup {
  return async (name: string, rrtype: string): Promise<unknown> => {
    const key = name.toLowerCase().replace(/\.$/, '');
    if (failing.includes(key)) throw dnsError('ESERVFAIL', key);
    const node = zone[key];
    if (!node) throw dnsError('ENOTFOUND', key);
    const answers = (node as Record<string, unknown[] | undefined>)[rrtype.toUpperCase()];
    if (!answers || answers.length === 0) throw dnsError('ENODATA', key);
    return answers;
  };
}

export interface DnsServer {
  /** "127.0.0.1:port", ready for `dns.servers`. */
  address: string;
  close(): Promise<void>;
}

/** Serves the zone over UDP on 127.0.0.1, a random port. The zone object may be changed live. */
export async function startDnsServer(zone: ZoneData): Promise<DnsServer> {
  const { Packet } = dns2;
  const TYPE = Packet.TYPE as unknown as Record<string, number>;
  const server = dns2.createServer({
    udp: true,
    handle: (request, send) => {
      const response = Packet.createResponseFromRequest(request);
      const q = request.questions[0];
      if (!q) return send(response);
      const name = q.name.toLowerCase().replace(/\.$/, '');
      const node = zone[name];
      if (!node) {
        response.header.rcode = 3; // NXDOMAIN (RFC 1035 §4.1.1)
        return send(response);
      }
      const type = Object.keys(TYPE).find((k) => TYPE[k] === q.type) ?? '';
      const base = { name: q.name, type: q.type, class: Packet.CLASS.IN, ttl: 60 };
      const answers: object[] = [];
      if (type === 'A' || type === 'AAAA') for (const address of node[type] ?? []) answers.push({ ...base, address });
      if (type === 'MX') for (const mx of node.MX ?? []) answers.push({ ...base, exchange: mx.exchange, priority: mx.priority });
      if (type === 'TXT') for (const data of node.TXT ?? []) answers.push({ ...base, data });
      if (type === 'SRV') for (const s of node.SRV ?? []) answers.push({ ...base, priority: s.priority, weight: s.weight, port: s.port, target: s.name });
      if (type === 'CNAME' || type === 'PTR') for (const domain of node[type] ?? []) answers.push({ ...base, domain });
      response.answers.push(...(answers as typeof response.answers));
      send(response);
    },
  });
  await server.listen({ udp: { port: 0, address: '127.0.0.1' } });
  const port = server.addresses().udp?.port;
  if (!port) throw new Error('the DNS server did not start');
  return { address: `127.0.0.1:${port}`, close: () => server.close() };
}

/** Adds records as printed by `dnsRecords` (zone-file values) to a zone. */
export function addRecords(zone: ZoneData, records: ReadonlyArray<{ name: string; type: string; value: string }>): ZoneData {
  const dotless = (s: string): string => s.replace(/\.$/, '');
  for (const r of records) {
    if (r.value === '') continue;
    const node = (zone[r.name.toLowerCase()] ??= {});
    switch (r.type) {
      case 'A':
      case 'AAAA':
        (node[r.type] ??= []).push(r.value);
        break;
      case 'MX': {
        const [pref, host] = r.value.split(/\s+/);
        (node.MX ??= []).push({ priority: Number(pref), exchange: dotless(host ?? '') });
        break;
      }
      case 'TXT': {
        const chunks: string[] = [];
        for (let i = 0; i < r.value.length; i += 255) chunks.push(r.value.slice(i, i + 255));
        (node.TXT ??= []).push(chunks);
        break;
      }
      case 'SRV': {
        const [priority, weight, port, target] = r.value.split(/\s+/);
        (node.SRV ??= []).push({ priority: Number(priority), weight: Number(weight), port: Number(port), name: dotless(target ?? '') });
        break;
      }
      case 'CNAME':
      case 'PTR':
        (node[r.type] ??= []).push(dotless(r.value));
        break;
    }
  }
  return zone;
}
