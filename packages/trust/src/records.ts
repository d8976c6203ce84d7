/**
 * The DNS records a mail domain served by Postern needs, and a check of what is published.
 *
 * - MX (RFC 5321 §5) to our host name, and the host's A/AAAA.
 * - SPF (RFC 7208): `v=spf1 mx -all`, the domain's MX hosts may send for it, nobody else; and
 *   `v=spf1 a -all` for the host name, which SPF checks for bounces (empty MAIL FROM).
 * - DKIM (RFC 6376 §3.6.2, RFC 8463): one TXT per key at `<selector>._domainkey.<domain>`.
 * - DMARC (RFC 7489): `p=quarantine` to start with, aggregate reports to postmaster.
 * - MTA-STS (RFC 8461): the `_mta-sts` TXT and the policy to serve at
 *   https://mta-sts.<domain>/.well-known/mta-sts.txt (mode testing to start with); TLS-RPT
 *   (RFC 8460) so senders report TLS failures to postmaster.
 * - SRV (RFC 6186, RFC 8314 §5.1) for submission, IMAP and POP3, implicit TLS preferred;
 *   autoconfig/autodiscover host names for mail clients that look for them.
 * - The PTR of the server's addresses, which most receivers want to match the host name.
 */
import { createHash } from 'node:crypto';
import { splitHostPort, type Config } from '@postern/core';
import { dkimTxtValue, ensureDomainKeys, type DkimKey } from './dkim-keys.js';
import { expandIpv6, isAbsent, reverseName, type DnsLookup } from './resolver.js';

export type RecordType = 'MX' | 'A' | 'AAAA' | 'TXT' | 'SRV' | 'CNAME' | 'PTR';

/** How `checkDnsRecords` compares what it finds with the record. */
export type RecordMatch =
  /** The value must be among the published ones. */
  | 'exact'
  /** Any record of the type will do: we do not know the value (the server's IP was not given). */
  | 'present'
  /** TXT records judged by meaning, not by text. */
  | 'spf'
  | 'dkim'
  | 'dmarc'
  | 'mta-sts'
  | 'tls-rpt';

export interface DnsRecord {
  /** Fully qualified, without the final dot. */
  name: string;
  type: RecordType;
  /** The record data as in a zone file, unquoted ('' when we do not know it). */
  value: string;
  note: string;
  match: RecordMatch;
}

export type RecordsConfig = Pick<Config, 'hostname' | 'dataDir' | 'dkim' | 'listen'>;

export interface RecordsInput {
  config: RecordsConfig;
  domain: string;
  /** The server's public addresses; without them the A/AAAA/PTR values are left to fill in. */
  ipv4?: string;
  ipv6?: string;
  /** DKIM keys to publish; default: the domain's keys (made when missing). */
  keys?: DkimKey[];
}

/** The SRV services of RFC 6186 and RFC 8314: implicit TLS first (lower priority value). */
const SRV_SERVICES = [
  { service: '_submissions._tcp', listener: 'submissions', priority: 0, what: 'mail submission over implicit TLS (RFC 8314)' },
  { service: '_submission._tcp', listener: 'submission', priority: 10, what: 'mail submission with STARTTLS (RFC 6186)' },
  { service: '_imaps._tcp', listener: 'imaps', priority: 0, what: 'IMAP over implicit TLS' },
  { service: '_imap._tcp', listener: 'imap', priority: 10, what: 'IMAP with STARTTLS' },
  { service: '_pop3s._tcp', listener: 'pop3s', priority: 0, what: 'POP3 over implicit TLS' },
  { service: '_pop3._tcp', listener: 'pop3', priority: 10, what: 'POP3 with STARTTLS' },
] as const;

/** MTA-STS policy (RFC 8461 §3.2), in testing mode until the operator has seen reports. */
export function mtaStsPolicy(config: Pick<Config, 'hostname'>): string {
  return `version: STSv1\r\nmode: testing\r\nmx: ${config.hostname}\r\nmax_age: 604800\r\n`;
}

/** The policy id: changes whenever the policy text does (RFC 8461 §3.1: 1 to 32 alphanumerics). */
export function mtaStsId(policy: string): string {
  return createHash('sha256').update(policy).digest('hex').slice(0, 20);
}

/** Every record the domain needs, in the order a zone file would list them. */
export function dnsRecords(input: RecordsInput): DnsRecord[] {
  const { config } = input;
  const domain = input.domain.toLowerCase().replace(/\.$/, '');
  const host = config.hostname.toLowerCase().replace(/\.$/, '');
  const keys = input.keys ?? ensureDomainKeys(config, domain).keys;
  const out: DnsRecord[] = [];
  out.push({ name: domain, type: 'MX', value: `10 ${host}.`, note: 'mail for the domain goes to this server', match: 'exact' });
  out.push(
    input.ipv4
      ? { name: host, type: 'A', value: input.ipv4, note: "the mail server's IPv4 address", match: 'exact' }
      : { name: host, type: 'A', value: '', note: "the mail server's IPv4 address (give it with --ip)", match: 'present' },
  );
  if (input.ipv6) out.push({ name: host, type: 'AAAA', value: input.ipv6, note: "the mail server's IPv6 address", match: 'exact' });
  out.push({ name: domain, type: 'TXT', value: 'v=spf1 mx -all', note: 'SPF: only the MX hosts send for the domain', match: 'spf' });
  if (host !== domain) {
    // RFC 7208 §2.3: bounces have no envelope sender, so SPF checks the HELO name: ours.
    out.push({
      name: host,
      type: 'TXT',
      value: 'v=spf1 a -all',
      note: 'SPF for the host name itself (checked for bounces, sent with an empty MAIL FROM)',
      match: 'spf',
    });
  }
  for (const key of keys) {
    out.push({
      name: `${key.selector}._domainkey.${domain}`,
      type: 'TXT',
      value: dkimTxtValue(key),
      note: `DKIM public key (${key.algorithm})`,
      match: 'dkim',
    });
  }
  out.push({
    name: `_dmarc.${domain}`,
    type: 'TXT',
    value: `v=DMARC1; p=quarantine; rua=mailto:postmaster@${domain}`,
    note: 'DMARC: unauthenticated mail claiming the domain goes to junk; reports to postmaster',
    match: 'dmarc',
  });
  const policy = mtaStsPolicy(config);
  out.push({
    name: `_mta-sts.${domain}`,
    type: 'TXT',
    value: `v=STSv1; id=${mtaStsId(policy)}`,
    note: `MTA-STS: serve the policy at https://mta-sts.${domain}/.well-known/mta-sts.txt`,
    match: 'mta-sts',
  });
  out.push({
    name: `mta-sts.${domain}`,
    type: 'CNAME',
    value: `${host}.`,
    note: 'the web server of the MTA-STS policy (needs a certificate for this name)',
    match: 'exact',
  });
  out.push({
    name: `_smtp._tls.${domain}`,
    type: 'TXT',
    value: `v=TLSRPTv1; rua=mailto:postmaster@${domain}`,
    note: 'TLS-RPT: senders report TLS problems to postmaster',
    match: 'tls-rpt',
  });
  for (const s of SRV_SERVICES) {
    const listen = config.listen[s.listener];
    // RFC 6186 §3.4: a target of "." says the service is not offered at all
    const value = listen ? `${s.priority} 1 ${splitHostPort(listen).port} ${host}.` : '0 0 0 .';
    out.push({ name: `${s.service}.${domain}`, type: 'SRV', value, note: listen ? s.what : `${s.what}: not offered`, match: 'exact' });
  }
  out.push({ name: `autoconfig.${domain}`, type: 'CNAME', value: `${host}.`, note: 'Thunderbird-style mail client autoconfiguration', match: 'exact' });
  out.push({ name: `autodiscover.${domain}`, type: 'CNAME', value: `${host}.`, note: 'Outlook-style mail client autodiscovery', match: 'exact' });
  for (const ip of [input.ipv4, input.ipv6]) {
    if (!ip) continue;
    out.push({ name: reverseName(ip), type: 'PTR', value: `${host}.`, note: 'reverse DNS: set by whoever gives you the IP address', match: 'exact' });
  }
  return out;
}

/** A TXT value as zone-file strings: quoted, at most 255 bytes each (RFC 1035 §3.3.14). */
function quoteTxt(value: string): string {
  const parts: string[] = [];
  for (let i = 0; i < value.length; i += 255) parts.push(`"${value.slice(i, i + 255).replace(/(["\\])/g, '\\$1')}"`);
  return parts.join(' ');
}

/** The records as zone-file lines (one comment line per record); unknown values are commented out. */
export function formatZone(records: readonly DnsRecord[], ttl = 3600): string {
  const lines: string[] = [];
  for (const r of records) {
    lines.push(`; ${r.note}`);
    const data = r.type === 'TXT' ? quoteTxt(r.value) : r.value;
    if (r.value === '') lines.push(`; ${r.name}. ${ttl} IN ${r.type} <fill in>`);
    else lines.push(`${r.name}. ${ttl} IN ${r.type} ${data}`);
  }
  return `${lines.join('\n')}\n`;
}

export type CheckStatus = 'ok' | 'missing' | 'wrong' | 'error';

export interface RecordCheck {
  record: DnsRecord;
  status: CheckStatus;
  /** What was published (as text), for the report. */
  found: string[];
  /** Why it is not ok (empty when ok). */
  detail: string;
}

const dotless = (s: string): string => s.toLowerCase().replace(/\.$/, '');

/** The published values of one name and type as text; [] when there are none. */
async function published(resolver: DnsLookup, name: string, type: RecordType): Promise<string[]> {
  try {
    const answer = (await resolver(name, type)) as unknown[];
    return answer.map((a) => {
      if (type === 'TXT') return (a as string[]).join('');
      if (type === 'MX') return `${(a as { priority: number }).priority} ${dotless((a as { exchange: string }).exchange)}`;
      if (type === 'SRV') {
        const s = a as { priority: number; weight: number; port: number; name: string };
        return `${s.priority} ${s.weight} ${s.port} ${s.name === '' ? '.' : dotless(s.name)}`;
      }
      return String(a);
    });
  } catch (err) {
    if (isAbsent(err)) return [];
    throw err;
  }
}

/** Tag-value list of a TXT record (RFC 6376 §3.2; DMARC, MTA-STS and TLS-RPT use the same form). */
function tags(txt: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const part of txt.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) m.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim());
  }
  return m;
}

type Judgement = { status: CheckStatus; detail: string };

function judgeTxt(record: DnsRecord, found: string[], ipv4: string | undefined): Judgement {
  const prefix = {
    spf: /^v=spf1(\s|$)/i,
    dkim: /^v=DKIM1\s*;|^(?!v=)[^;]*p=/i,
    dmarc: /^v=DMARC1\s*;/i,
    'mta-sts': /^v=STSv1\s*;/i,
    'tls-rpt': /^v=TLSRPTv1\s*;/i,
  }[record.match as 'spf' | 'dkim' | 'dmarc' | 'mta-sts' | 'tls-rpt'];
  const mine = found.filter((t) => prefix.test(t.trim()));
  if (mine.length === 0) return { status: 'missing', detail: found.length ? 'no record of this kind among the TXT records' : 'no TXT record' };
  if (mine.length > 1 && record.match !== 'dkim') return { status: 'wrong', detail: `${mine.length} records where one is allowed` };
  const txt = mine[0]!.trim();
  const t = tags(txt);
  switch (record.match) {
    case 'spf': {
      // Good enough when it lets our MX (or our IP) send and ends with a hard or soft fail.
      const terms = txt.toLowerCase().split(/\s+/);
      const mech = record.value.split(' ')[1] ?? 'mx';
      const allows = terms.some((x) => x === mech || x === `+${mech}` || (ipv4 !== undefined && x === `ip4:${ipv4}`));
      const ends = terms.includes('-all') || terms.includes('~all');
      if (allows && ends) return { status: 'ok', detail: '' };
      return { status: 'wrong', detail: allows ? 'does not end with -all or ~all' : `does not let this server send (no "${mech}" mechanism)` };
    }
    case 'dkim': {
      const want = tags(record.value).get('p');
      const same = mine.some((m) => (tags(m).get('p') ?? '').replace(/\s+/g, '') === want);
      return same ? { status: 'ok', detail: '' } : { status: 'wrong', detail: 'a different public key is published' };
    }
    case 'dmarc': {
      const p = (t.get('p') ?? '').toLowerCase();
      return ['none', 'quarantine', 'reject'].includes(p) ? { status: 'ok', detail: '' } : { status: 'wrong', detail: 'no valid p= policy' };
    }
    case 'mta-sts':
      return /^[A-Za-z0-9]{1,32}$/.test(t.get('id') ?? '') ? { status: 'ok', detail: '' } : { status: 'wrong', detail: 'no valid id=' };
    case 'tls-rpt':
      return t.get('rua') ? { status: 'ok', detail: '' } : { status: 'wrong', detail: 'no rua=' };
    default:
      return { status: 'wrong', detail: 'not understood' };
  }
}

function normalise(type: RecordType, value: string): string {
  if (type === 'AAAA') return expandIpv6(value.toLowerCase());
  if (type === 'A') return value;
  return dotless(value.trim().replace(/\s+/g, ' '));
}

function judge(record: DnsRecord, found: string[], ipv4: string | undefined): Judgement {
  if (record.type === 'TXT') return judgeTxt(record, found, ipv4);
  if (found.length === 0) return { status: 'missing', detail: `no ${record.type} record` };
  if (record.match === 'present') return { status: 'ok', detail: '' };
  if (record.type === 'MX') {
    // The preference is ours to suggest, not to insist on: any MX naming our host will do.
    const host = dotless(record.value.split(/\s+/)[1] ?? '');
    return found.some((f) => f.split(' ')[1] === host) ? { status: 'ok', detail: '' } : { status: 'wrong', detail: `no MX names ${host}` };
  }
  const want = normalise(record.type, record.value);
  if (found.some((f) => normalise(record.type, f) === want)) return { status: 'ok', detail: '' };
  return { status: 'wrong', detail: `expected ${record.value}` };
}

/** Looks every record up and says, record by record, whether it is published as it should be. */
export async function checkDnsRecords(records: readonly DnsRecord[], resolver: DnsLookup): Promise<RecordCheck[]> {
  const ipv4 = records.find((r) => r.type === 'A' && r.value !== '')?.value;
  return Promise.all(
    records.map(async (record): Promise<RecordCheck> => {
      let found: string[];
      try {
        found = await published(resolver, record.name, record.type);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
        return { record, status: 'error', found: [], detail: `lookup failed: ${code}` };
      }
      return { record, found, ...judge(record, found, ipv4) };
    }),
  );
}
