/**
 * `postern dns [DOMAIN] [--ip A.B.C.D] [--ipv6 ADDR] [--check] [--json]`: the DNS records each
 * local domain needs (MX, A/AAAA, SPF, DKIM, DMARC, MTA-STS, TLS-RPT, SRV, autoconfig, PTR),
 * ready to paste into a zone file, plus the MTA-STS policy text to serve. DKIM keys missing for
 * a domain are made first, so the printed key is the one mail will be signed with.
 *
 * `--check` looks every record up (through `dns.servers`) and says, record by record, ok /
 * missing / wrong / error; the exit code is 1 when anything is not ok.
 */
import { isIP } from 'node:net';
import type { Command } from 'commander';
import { normalizeDomain, splitHostPort, type Config } from '@postern/core';
import { checkDnsRecords, createDnsLookup, dnsRecords, formatZone, mtaStsPolicy, type DnsRecord, type RecordCheck } from '@postern/trust';
import { CliError, printRows, withMailDb } from '../context.js';

interface DnsOptions {
  ip?: string;
  ipv6?: string;
  check?: boolean;
  json?: boolean;
}

/** The SMTP listener's address when it is a specific public one (not a wildcard or loopback). */
function listenedIp(config: Config, family: 4 | 6): string | undefined {
  if (!config.listen.smtp) return undefined;
  const { host } = splitHostPort(config.listen.smtp);
  if (isIP(host) !== family) return undefined;
  if (/^(0\.0\.0\.0|127\.|::$|::1$)/.test(host)) return undefined;
  return host;
}

function policyBlock(config: Config, domain: string): string {
  const lines = mtaStsPolicy(config).trimEnd().split('\r\n');
  return [
    `; MTA-STS policy: serve this text (CRLF line ends) as https://mta-sts.${domain}/.well-known/mta-sts.txt`,
    ...lines.map((l) => `;   ${l}`),
    '; change "mode: testing" to "mode: enforce" once TLS reports show no failures (the id changes with it)',
  ].join('\n');
}

function checkRows(checks: RecordCheck[]): Array<Record<string, unknown>> {
  return checks.map((c) => ({
    status: c.status,
    name: c.record.name,
    type: c.record.type,
    detail: c.status === 'ok' ? '' : [c.detail, c.found.length > 0 ? `found: ${c.found.join(' | ')}` : ''].filter(Boolean).join('; '),
  }));
}

export async function runDns(cmd: Command, domainArg: string | undefined, o: DnsOptions): Promise<void> {
  if (o.ip !== undefined && isIP(o.ip) !== 4) throw new CliError(`--ip wants an IPv4 address, not "${o.ip}"`);
  if (o.ipv6 !== undefined && isIP(o.ipv6) !== 6) throw new CliError(`--ipv6 wants an IPv6 address, not "${o.ipv6}"`);
  const { config, domains } = await withMailDb(cmd, (m, config) => {
    const local = m.accounts.listDomains().map((d) => d.name);
    if (domainArg === undefined) return { config, domains: local };
    const d = normalizeDomain(domainArg);
    if (!local.includes(d)) throw new CliError(`${d} is not a local domain (postern domain add ${d})`);
    return { config, domains: [d] };
  });
  if (domains.length === 0) throw new CliError('no local domain yet (postern domain add DOMAIN)');
  const ipv4 = o.ip ?? listenedIp(config, 4);
  const ipv6 = o.ipv6 ?? listenedIp(config, 6);
  const perDomain = new Map<string, DnsRecord[]>();
  for (const domain of domains) {
    const records = dnsRecords({ config, domain, ...(ipv4 ? { ipv4 } : {}), ...(ipv6 ? { ipv6 } : {}) });
    // The host's A/AAAA/PTR are the same for every domain: list them once.
    const seen = [...perDomain.values()].flat();
    perDomain.set(
      domain,
      records.filter((r) => !seen.some((s) => s.name === r.name && s.type === r.type && s.value === r.value)),
    );
  }

  if (!o.check) {
    if (o.json) {
      const out = [...perDomain].map(([domain, records]) => ({ domain, records, mtaStsPolicy: mtaStsPolicy(config) }));
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      return;
    }
    for (const [domain, records] of perDomain) {
      process.stdout.write(`; ---- ${domain} ----\n${formatZone(records)}${policyBlock(config, domain)}\n\n`);
    }
    return;
  }

  const lookup = createDnsLookup(config);
  const all: RecordCheck[] = [];
  for (const records of perDomain.values()) all.push(...(await checkDnsRecords(records, lookup)));
  if (o.json) process.stdout.write(`${JSON.stringify(all, null, 2)}\n`);
  else printRows(checkRows(all), ['status', 'name', 'type', 'detail'], false);
  const bad = all.filter((c) => c.status !== 'ok').length;
  if (!o.json) process.stdout.write(bad === 0 ? `all ${all.length} records ok\n` : `${bad} of ${all.length} records need attention\n`);
  if (bad > 0) process.exitCode = 1;
}

export function register(program: Command): void {
  program
    .command('dns [domain]')
    .description('print the DNS records to publish for a domain (default: every local domain); --check looks them up')
    .option('--ip <ipv4>', "the server's public IPv4 address (for A and PTR)")
    .option('--ipv6 <ipv6>', "the server's public IPv6 address (for AAAA and PTR)")
    .option('--check', 'look the records up and report what is missing or wrong')
    .option('--json', 'print JSON')
    .action((domain: string | undefined, o: DnsOptions, cmd: Command) => runDns(cmd, domain, o));
}
