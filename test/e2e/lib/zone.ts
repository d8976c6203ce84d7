/**
 * The zones of the test's DNS host, made from exactly what `postern dns --json` prints. The DNS
 * host (dns-host.mjs) serves them with @postern/testkit's `addRecords`, where a record type it
 * cannot serve fails the test rather than being left out, so the DNS the mail hosts see is the
 * DNS an operator would publish.
 */
import type { PrintedRecord } from '@postern/testkit';

export type { PrintedRecord };

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
