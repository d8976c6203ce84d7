/**
 * The deliverability doctor: each check says, in words, what is wrong and how to fix it.
 *
 * Invariants:
 * - Every lookup goes through the injected `DnsLookup`; the network probes (port 25 out, the
 *   MTA-STS fetch) take their targets as arguments, so tests plant every mistake on loopback.
 * - A check never throws: a failure to look something up is itself a finding.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect, isIP } from 'node:net';
import { MtaSts, mxMatches, parseMtaStsPolicy } from './mta-sts.js';
import { checkDnsRecords, type DnsRecord } from './records.js';
import type { DnsLookup } from './resolver.js';

export type Finding = 'ok' | 'warn' | 'fail';

export interface DoctorCheck {
  /** "dns", "rdns", "blocklist", "certificate", "mta-sts", "port25", "queue". */
  area: string;
  status: Finding;
  /** What was found, in a sentence. */
  what: string;
  /** What to do about it ('' when ok). */
  fix: string;
}

/** The blocklists most receivers consult (DNSBL, RFC 5782). */
export const COMMON_BLOCKLISTS = ['zen.spamhaus.org', 'bl.spamcop.net', 'b.barracudacentral.org', 'psbl.surriel.com'];

const ok = (area: string, what: string): DoctorCheck => ({ area, status: 'ok', what, fix: '' });

/** Every record `postern dns` prints, looked up. */
export async function checkRecords(records: readonly DnsRecord[], lookup: DnsLookup): Promise<DoctorCheck[]> {
  const out: DoctorCheck[] = [];
  for (const c of await checkDnsRecords(records, lookup)) {
    const r = c.record;
    if (c.status === 'ok') {
      out.push(ok('dns', `${r.name} ${r.type} is published`));
      continue;
    }
    const found = c.found.length > 0 ? ` (found: ${c.found.join(' | ')})` : '';
    out.push({
      area: 'dns',
      status: r.match === 'exact' && r.type === 'SRV' ? 'warn' : 'fail',
      what: `${r.name} ${r.type} is ${c.status}: ${c.detail}${found}`,
      fix: r.value === '' ? `publish ${r.name} ${r.type} (run postern dns --ip <your address> for its value)` : `publish ${r.name}. IN ${r.type} ${r.value}`,
    });
  }
  return out;
}

function reverseName(ip: string): string {
  if (isIP(ip) === 4) return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
  const full = ip.includes('::') ? expand6(ip) : ip;
  return `${full.replace(/:/g, '').split('').reverse().join('.')}.ip6.arpa`;
}

function expand6(ip: string): string {
  const [head, tail] = ip.split('::') as [string, string];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return groups.map((g) => g.padStart(4, '0')).join(':');
}

async function names(lookup: DnsLookup, name: string, type: string): Promise<string[]> {
  try {
    return ((await lookup(name, type)) as string[]).map((s) => String(s).toLowerCase().replace(/\.$/, ''));
  } catch {
    return [];
  }
}

/** Forward-confirmed reverse DNS (RFC 8601 §2.7.3 "iprev"): PTR of each IP names the host, whose A/AAAA has the IP. */
export async function checkReverseDns(hostname: string, ips: readonly string[], lookup: DnsLookup): Promise<DoctorCheck[]> {
  const out: DoctorCheck[] = [];
  const host = hostname.toLowerCase();
  for (const ip of ips) {
    const ptr = await names(lookup, reverseName(ip), 'PTR');
    if (ptr.length === 0) {
      out.push({ area: 'rdns', status: 'fail', what: `${ip} has no reverse DNS (PTR)`, fix: `ask whoever gave you ${ip} to set its PTR to ${host}` });
      continue;
    }
    const forward = await names(lookup, host, isIP(ip) === 4 ? 'A' : 'AAAA');
    if (!ptr.includes(host)) {
      out.push({
        area: 'rdns',
        status: 'fail',
        what: `${ip} reverse-resolves to ${ptr.join(', ')}, not ${host}`,
        fix: `set the PTR of ${ip} to ${host} (receivers compare it with our EHLO name)`,
      });
    } else if (!forward.includes(ip)) {
      out.push({
        area: 'rdns',
        status: 'fail',
        what: `${host} does not resolve back to ${ip} (found ${forward.join(', ') || 'nothing'})`,
        fix: `publish ${host}. IN ${isIP(ip) === 4 ? 'A' : 'AAAA'} ${ip}`,
      });
    } else out.push(ok('rdns', `${ip} <-> ${host} (forward-confirmed)`));
  }
  return out;
}

/** The host's IPv4 addresses on DNS blocklists (RFC 5782 §2.1: 127.0.0.x answers mean listed). */
export async function checkBlocklists(ips: readonly string[], lists: readonly string[], lookup: DnsLookup): Promise<DoctorCheck[]> {
  const out: DoctorCheck[] = [];
  for (const ip of ips.filter((a) => isIP(a) === 4)) {
    for (const list of lists) {
      const q = `${ip.split('.').reverse().join('.')}.${list}`;
      const a = await names(lookup, q, 'A');
      // 127.255.255.x: the list refuses to answer this resolver (Spamhaus says so for public ones)
      if (a.some((x) => x.startsWith('127.255.255.'))) {
        out.push({
          area: 'blocklist',
          status: 'warn',
          what: `${list} refused to answer for ${ip} (a public or unregistered resolver)`,
          fix: 'use your own resolver for dns.servers',
        });
      } else if (a.some((x) => x.startsWith('127.'))) {
        const txt = await (lookup(q, 'TXT') as Promise<string[][]>).catch(() => [] as string[][]);
        const why = txt.map((t) => t.join('')).join(' ');
        out.push({
          area: 'blocklist',
          status: 'fail',
          what: `${ip} is listed at ${list}${why ? `: ${why}` : ''}`,
          fix: `ask ${list} to delist ${ip} (its site has a removal form), after stopping what got it listed`,
        });
      } else out.push(ok('blocklist', `${ip} is not listed at ${list}`));
    }
  }
  return out;
}

/** The certificate every TLS port serves: valid now, for long enough, for the host name, not self-signed. */
export function checkCertificate(certPath: string, hostname: string, now = Date.now()): DoctorCheck[] {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(readFileSync(certPath));
  } catch (err) {
    return [
      {
        area: 'certificate',
        status: 'fail',
        what: `${certPath} cannot be read as a certificate: ${(err as Error).message}`,
        fix: 'point [tls] cert at a PEM certificate, or turn on [acme]',
      },
    ];
  }
  const out: DoctorCheck[] = [];
  const notAfter = Date.parse(cert.validTo);
  const days = Math.floor((notAfter - now) / 86_400_000);
  if (cert.checkHost(hostname) === undefined)
    out.push({
      area: 'certificate',
      status: 'fail',
      what: `the certificate does not name ${hostname}`,
      fix: `get one for ${hostname} (postern init --acme does)`,
    });
  if (notAfter <= now)
    out.push({
      area: 'certificate',
      status: 'fail',
      what: `the certificate expired on ${cert.validTo}`,
      fix: 'renew it (with [acme] on, look at the webmail log for why the order failed)',
    });
  else if (days < 14) out.push({ area: 'certificate', status: 'warn', what: `the certificate expires in ${days} days (${cert.validTo})`, fix: 'renew it now' });
  if (cert.checkIssued(cert))
    out.push({
      area: 'certificate',
      status: 'warn',
      what: 'the certificate is self-signed: mail clients warn, MTA-STS senders refuse it',
      fix: 'turn on [acme] (postern init --acme) or install a CA-signed pair',
    });
  if (out.length === 0) out.push(ok('certificate', `valid for ${hostname} until ${cert.validTo} (${days} days)`));
  return out;
}

/** The MTA-STS policy of `domain`, fetched as senders fetch it, and naming our host. */
export async function checkMtaSts(domain: string, hostname: string, lookup: DnsLookup, o: { httpsPort?: number; ca?: string[] } = {}): Promise<DoctorCheck> {
  const sts = new MtaSts({ lookup, timeoutMs: 10_000, ...o });
  let text: string;
  try {
    text = await sts.fetchPolicy(domain);
  } catch (err) {
    return {
      area: 'mta-sts',
      status: 'fail',
      what: `https://mta-sts.${domain}/.well-known/mta-sts.txt cannot be fetched: ${(err as Error).message}`,
      fix: `turn on listen.https and [acme] (the webmail app serves it), and publish mta-sts.${domain}; or remove the _mta-sts.${domain} record`,
    };
  }
  const policy = parseMtaStsPolicy(text);
  if (!policy)
    return {
      area: 'mta-sts',
      status: 'fail',
      what: `the MTA-STS policy of ${domain} does not parse (RFC 8461 §3.2)`,
      fix: 'serve the text postern dns prints',
    };
  if (policy.mode !== 'none' && !policy.mx.some((p) => mxMatches(p, hostname))) {
    return {
      area: 'mta-sts',
      status: 'fail',
      what: `the MTA-STS policy of ${domain} does not name ${hostname} (mx: ${policy.mx.join(' ')})`,
      fix: 'serve the text postern dns prints',
    };
  }
  return ok('mta-sts', `the MTA-STS policy of ${domain} is served (mode ${policy.mode})`);
}

/** Whether outbound port 25 is open: a TCP connection to `host:port` that gets a 220. */
export function checkPort25(host: string, port: number, timeoutMs = 10_000): Promise<DoctorCheck> {
  return new Promise((resolve) => {
    const s = connect(port, host);
    let said = '';
    const done = (c: DoctorCheck): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(c);
    };
    const blocked = (why: string): DoctorCheck => ({
      area: 'port25',
      status: 'fail',
      what: `outbound port 25 to ${host} ${why}`,
      fix: 'ask your provider to open outbound port 25, or relay through a smarthost ([transfer] smarthost)',
    });
    const timer = setTimeout(() => done(blocked('timed out (blocked?)')), timeoutMs);
    s.on('data', (d: Buffer) => {
      said += d.toString('latin1');
      if (said.includes('\n'))
        done(said.startsWith('220') ? ok('port25', `outbound port 25 is open (${host} greeted)`) : blocked(`answered "${said.trim().slice(0, 80)}"`));
    });
    s.on('error', (err) => done(blocked(`failed: ${err.message}`)));
  });
}

export interface Refusal {
  recipients: string[];
  lastError: string | null;
}

/** Mail still queued after remote refusals, grouped by receiving domain and what it said. */
export function checkRefusals(queued: readonly Refusal[]): DoctorCheck[] {
  const groups = new Map<string, { count: number; reply: string; domain: string }>();
  for (const q of queued) {
    if (!q.lastError) continue;
    const domain = (q.recipients[0] ?? '').split('@')[1] ?? '?';
    const cause = causeOf(q.lastError);
    const key = `${domain}\0${cause}`;
    const g = groups.get(key) ?? { count: 0, reply: q.lastError, domain };
    g.count++;
    groups.set(key, g);
  }
  if (groups.size === 0) return [ok('queue', 'no queued mail was refused by a receiver')];
  return [...groups.values()].map((g) => ({
    area: 'queue',
    status: 'warn',
    what: `${g.count} message(s) to ${g.domain} waiting: ${causeOf(g.reply)} (the receiver said: ${g.reply.slice(0, 200)})`,
    fix: fixOf(g.reply),
  }));
}

/** What a refusal means, in words. */
function causeOf(reply: string): string {
  const r = reply.toLowerCase();
  if (/spamhaus|blocklist|blacklist|listed|\bdnsbl\b|\brbl\b/.test(r)) return 'the receiver says our IP is listed on a blocklist';
  if (/ptr|reverse dns|rdns|hostname does not/.test(r)) return "the receiver does not like our IP's reverse DNS";
  if (/spf|dkim|dmarc|authenticat|unauthenticated/.test(r)) return 'the receiver wants SPF/DKIM/DMARC that pass';
  if (/rate|too many|try again later|throttl|4\.7\.28|421 4\.7\.0/.test(r)) return 'the receiver is throttling us';
  if (/mta-sts|dane|tls|certificate/.test(r)) return 'TLS to the receiver failed';
  return 'a temporary refusal';
}

function fixOf(reply: string): string {
  switch (causeOf(reply)) {
    case 'the receiver says our IP is listed on a blocklist':
      return 'postern doctor lists the blocklists that list us; request delisting there';
    case "the receiver does not like our IP's reverse DNS":
      return 'set the PTR of our address to the host name (see the rdns findings)';
    case 'the receiver wants SPF/DKIM/DMARC that pass':
      return 'publish the SPF, DKIM and DMARC records postern dns prints';
    case 'the receiver is throttling us':
      return 'nothing, usually: it passes as our reputation grows; send less at once';
    case 'TLS to the receiver failed':
      return "the receiver's MTA-STS or DANE says its TLS must verify and it did not: tell its postmaster";
    default:
      return 'wait for the retries; postern queue show ID has the details';
  }
}
