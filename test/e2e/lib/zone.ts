/**
 * The zones of the test's DNS server, made from exactly what `postern dns --json` prints: each
 * record becomes one dnsmasq option (dnsmasq(8): mx-host, host-record, txt-record, srv-host,
 * cname, ptr-record). A record type we do not know how to serve fails the test rather than being
 * left out, so the DNS the mail hosts see is the DNS an operator would publish.
 */

export interface PrintedRecord {
  name: string;
  type: string;
  value: string;
}

export interface PrintedDomain {
  domain: string;
  records: PrintedRecord[];
}

/** Parses the output of `postern dns --json` (a list of domains with their records). */
export function parseDnsJson(text: string): PrintedDomain[] {
  const doc = JSON.parse(text) as unknown;
  if (!Array.isArray(doc)) throw new Error('postern dns --json: expected a list');
  return doc.map((d: unknown) => {
    const o = d as { domain?: unknown; records?: unknown };
    if (typeof o.domain !== 'string' || !Array.isArray(o.records)) throw new Error('postern dns --json: expected {domain, records}');
    const records = o.records.map((r: unknown) => {
      const x = r as Record<string, unknown>;
      if (typeof x['name'] !== 'string' || typeof x['type'] !== 'string' || typeof x['value'] !== 'string') {
        throw new Error(`postern dns --json: bad record ${JSON.stringify(r)}`);
      }
      return { name: x['name'], type: x['type'], value: x['value'] };
    });
    return { domain: o.domain, records };
  });
}

const noDot = (n: string): string => n.replace(/\.$/, '');

/** A TXT value as dnsmasq strings: quoted, at most 255 bytes each (RFC 1035 §3.3.14). */
function txtStrings(value: string): string {
  if (value.includes('"') || value.includes('\\')) throw new Error(`TXT value with quotes or backslashes: ${value}`);
  const parts: string[] = [];
  for (let i = 0; i < value.length; i += 255) parts.push(`"${value.slice(i, i + 255)}"`);
  return parts.join(',');
}

/** One dnsmasq config line per record. */
export function dnsmasqLines(records: readonly PrintedRecord[]): string[] {
  const lines: string[] = [];
  for (const r of records) {
    const name = noDot(r.name);
    const f = r.value.trim().split(/\s+/);
    if (r.value === '') throw new Error(`record without a value (was --ip given?): ${r.type} ${r.name}`);
    switch (r.type) {
      case 'MX': // "10 mx.a.test."
        lines.push(`mx-host=${name},${noDot(f[1]!)},${f[0]}`);
        break;
      case 'A':
      case 'AAAA':
        // host-record answers the reverse name too, with the same host name as the PTR record
        // `postern dns` prints beside it (dnsmasq gives one answer, not two)
        lines.push(`host-record=${name},${r.value}`);
        break;
      case 'TXT':
        lines.push(`txt-record=${name},${txtStrings(r.value)}`);
        break;
      case 'SRV': {
        // "priority weight port target." ; a target of "." says: not offered (RFC 2782)
        const [priority, weight, port, target] = f;
        lines.push(target === '.' ? `srv-host=${name}` : `srv-host=${name},${noDot(target!)},${port},${priority},${weight}`);
        break;
      }
      case 'CNAME':
        lines.push(`cname=${name},${noDot(r.value)}`);
        break;
      case 'PTR':
        lines.push(`ptr-record=${name},${noDot(r.value)}`);
        break;
      default:
        throw new Error(`no dnsmasq form for a ${r.type} record (${r.name})`);
    }
  }
  return lines;
}

/** A whole dnsmasq configuration: authoritative-like answers for our zones only, nothing forwarded
 * anywhere (no upstream servers, no /etc/hosts), names we do not know answered NXDOMAIN. */
export function dnsmasqConfig(o: { listen: string; zones: readonly string[]; records: readonly PrintedRecord[] }): string {
  return [
    `listen-address=${o.listen}`,
    'bind-interfaces',
    'port=53',
    'no-resolv',
    'no-hosts',
    'no-poll',
    'user=root',
    'log-queries',
    'log-facility=-',
    // answer from the records below and never ask upstream about these zones (NXDOMAIN otherwise)
    ...o.zones.map((z) => `local=/${z}/`),
    ...dnsmasqLines(o.records),
    '',
  ].join('\n');
}
