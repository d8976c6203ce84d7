/**
 * A DNS zone for tests, served by a real DNS server (dns2, UDP and TCP): on 127.0.0.1 for tests
 * that go through node's resolver, or on a network-namespace address for the end-to-end suite's
 * DNS host, which serves exactly the records `postern dns` prints. Names the zone does not hold
 * are NXDOMAIN; a known name without records of the asked type is an empty NOERROR (NODATA).
 */
import dns2 from 'dns2';

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

export interface PrintedRecord {
  name: string;
  type: string;
  value: string;
}

const dotless = (s: string): string => s.replace(/\.$/, '').toLowerCase();

/**
 * Adds records as `postern dns` prints them (zone-file values) to a zone. A record type this
 * server cannot serve is an error, so a test never silently serves less than was printed; so is
 * a record without a value (was `--ip` given?), unless `skipEmpty`.
 */
export function addRecords(zone: ZoneData, records: readonly PrintedRecord[], options: { skipEmpty?: boolean } = {}): ZoneData {
  for (const r of records) {
    if (r.value === '') {
      if (options.skipEmpty !== false) continue;
      throw new Error(`record without a value (was --ip given?): ${r.type} ${r.name}`);
    }
    const key = dotless(r.name);
    const node = zone[key] ?? {};
    zone[key] = node;
    const f = r.value.trim().split(/\s+/);
    switch (r.type) {
      case 'A':
      case 'AAAA':
        node[r.type] = [...(node[r.type] ?? []), r.value];
        break;
      case 'MX': // "10 mx.a.test."
        node.MX = [...(node.MX ?? []), { priority: Number(f[0]), exchange: dotless(f[1] ?? '') }];
        break;
      case 'TXT': {
        // character-strings of at most 255 octets (RFC 1035 §3.3.14)
        const chunks: string[] = [];
        for (let i = 0; i < r.value.length; i += 255) chunks.push(r.value.slice(i, i + 255));
        node.TXT = [...(node.TXT ?? []), chunks];
        break;
      }
      case 'SRV': {
        // "priority weight port target."; a target of "." says: not offered (RFC 2782)
        const [priority, weight, port, target] = f;
        node.SRV = [
          ...(node.SRV ?? []),
          { priority: Number(priority), weight: Number(weight), port: Number(port), name: target === '.' ? '' : dotless(target ?? '') },
        ];
        break;
      }
      case 'CNAME':
      case 'PTR':
        node[r.type] = [...(node[r.type] ?? []), dotless(r.value)];
        break;
      default:
        throw new Error(`the test DNS server cannot serve a ${r.type} record (${r.name})`);
    }
  }
  return zone;
}

/** The querier's address, whether it came over UDP (rinfo), TCP (a socket) or HTTP. */
function peerAddress(peer: object): string {
  if ('address' in peer && typeof peer.address === 'string') return peer.address;
  if ('remoteAddress' in peer && typeof peer.remoteAddress === 'string') return peer.remoteAddress;
  if ('socket' in peer && peer.socket && typeof peer.socket === 'object') return peerAddress(peer.socket);
  return '?';
}

export interface DnsServer {
  /** "address:port", ready for `dns.servers`. */
  address: string;
  close(): Promise<void>;
}

export interface ServeOptions {
  /** Default 127.0.0.1. */
  address?: string;
  /** Default 0: a free port. */
  port?: number;
  /** Called with one line per query, in dnsmasq's words: "query[MX] b.test from 192.0.2.10". */
  log?: (line: string) => void;
}

/** Serves the zone over UDP and TCP. The zone object may be changed while it is served. */
export async function startDnsServer(zone: ZoneData, options: ServeOptions = {}): Promise<DnsServer> {
  const { Packet } = dns2;
  const TYPE = Packet.TYPE as unknown as Record<string, number>;
  const address = options.address ?? '127.0.0.1';
  const server = dns2.createServer({
    udp: true,
    tcp: true,
    handle: (request, send, rinfo) => {
      const response = Packet.createResponseFromRequest(request);
      const q = request.questions[0];
      if (!q) return send(response);
      const type = Object.keys(TYPE).find((k) => TYPE[k] === q.type) ?? String(q.type);
      options.log?.(`query[${type}] ${q.name} from ${peerAddress(rinfo)}`);
      const node = zone[dotless(q.name)];
      if (!node) {
        response.header.rcode = 3; // NXDOMAIN (RFC 1035 §4.1.1)
        return send(response);
      }
      response.header.aa = 1; // we are the zone's authority (RFC 1035 §4.1.1)
      const base = { name: q.name, type: q.type, class: Packet.CLASS.IN, ttl: 60 };
      const answers: object[] = [];
      if (type === 'A' || type === 'AAAA') for (const a of node[type] ?? []) answers.push({ ...base, address: a });
      if (type === 'MX') for (const mx of node.MX ?? []) answers.push({ ...base, exchange: mx.exchange, priority: mx.priority });
      if (type === 'TXT') for (const data of node.TXT ?? []) answers.push({ ...base, data });
      if (type === 'SRV') for (const s of node.SRV ?? []) answers.push({ ...base, priority: s.priority, weight: s.weight, port: s.port, target: s.name });
      if (type === 'CNAME' || type === 'PTR') for (const domain of node[type] ?? []) answers.push({ ...base, domain });
      response.answers.push(...(answers as typeof response.answers));
      send(response);
    },
  });
  const port = options.port ?? 0;
  await server.listen({ udp: { port, address }, tcp: { port, address } });
  const bound = server.addresses().udp?.port;
  if (!bound) throw new Error('the DNS server did not start');
  // With port 0, UDP and TCP may get different ports; tests that use port 0 query over UDP.
  return { address: `${address}:${bound}`, close: () => server.close() };
}
