/**
 * `postern doctor`: everything a deliverable domain needs, checked, and said in words with what
 * to do: every record of `postern dns --check`, forward-confirmed reverse DNS of the host's
 * addresses, the addresses on the common DNS blocklists, the certificate, the MTA-STS policy as
 * senders fetch it, whether outbound port 25 is open, and the queue's refusals grouped by
 * receiver and cause. Exit code 1 when anything fails; `--json` for scripts.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { Command } from 'commander';
import { QueueStore, splitHostPort } from '@postern/core';
import {
  COMMON_BLOCKLISTS,
  checkBlocklists,
  checkCertificate,
  checkMtaSts,
  checkPort25,
  checkRecords,
  checkRefusals,
  checkReverseDns,
  createDnsLookup,
  dnsRecords,
  type DoctorCheck,
} from '@postern/trust';
import { CliError, withMailDb } from '../context.js';

interface DoctorOptions {
  ip?: string;
  ipv6?: string;
  json?: boolean;
  blocklist?: string[];
  port25?: string;
  httpsPort?: string;
  httpsCa?: string;
}

/** A well-known MX that greets anyone: whether our port 25 gets out. */
const PORT25_PROBE = 'gmail-smtp-in.l.google.com:25';

export async function runDoctor(cmd: Command, o: DoctorOptions): Promise<DoctorCheck[]> {
  if (o.ip !== undefined && isIP(o.ip) !== 4) throw new CliError(`--ip wants an IPv4 address, not "${o.ip}"`);
  if (o.ipv6 !== undefined && isIP(o.ipv6) !== 6) throw new CliError(`--ipv6 wants an IPv6 address, not "${o.ipv6}"`);
  const { config, domains } = await withMailDb(cmd, (m, config) => ({ config, domains: m.accounts.listDomains().map((d) => d.name) }));
  if (domains.length === 0) throw new CliError('no local domain yet (postern domain add DOMAIN)');
  const lookup = createDnsLookup(config);
  const out: DoctorCheck[] = [];
  // the host's addresses: as given, else what its name resolves to
  const resolved = async (type: 'A' | 'AAAA'): Promise<string[]> => ((await lookup(config.hostname, type).catch(() => [])) as string[]).map(String);
  const ipv4 = o.ip ? [o.ip] : await resolved('A');
  const ipv6 = o.ipv6 ? [o.ipv6] : await resolved('AAAA');
  for (const domain of domains) {
    out.push(...(await checkRecords(dnsRecords({ config, domain, ...(ipv4[0] ? { ipv4: ipv4[0] } : {}), ...(ipv6[0] ? { ipv6: ipv6[0] } : {}) }), lookup)));
    const httpsOptions = { ...(o.httpsPort ? { httpsPort: Number(o.httpsPort) } : {}), ...(o.httpsCa ? { ca: [readFileSync(o.httpsCa, 'utf8')] } : {}) };
    out.push(await checkMtaSts(domain, config.hostname, lookup, httpsOptions));
  }
  if (ipv4.length + ipv6.length === 0) {
    out.push({ area: 'rdns', status: 'fail', what: `${config.hostname} has no address`, fix: `publish ${config.hostname}. IN A <your address>, or pass --ip` });
  }
  out.push(...(await checkReverseDns(config.hostname, [...ipv4, ...ipv6], lookup)));
  out.push(...(await checkBlocklists(ipv4, o.blocklist ?? COMMON_BLOCKLISTS, lookup)));
  out.push(...checkCertificate(config.tlsCert, config.hostname));
  if (!config.transfer.smarthost) {
    const { host, port } = splitHostPort(o.port25 ?? PORT25_PROBE);
    out.push(await checkPort25(host, port));
  }
  const queue = QueueStore.open(config);
  try {
    out.push(...checkRefusals(queue.list()));
  } finally {
    queue.close();
  }
  return out;
}

export function register(program: Command): void {
  program
    .command('doctor')
    .description('check everything deliverable mail needs, and say what to fix')
    .option('--ip <ipv4>', "the server's public IPv4 address (default: what the host name resolves to)")
    .option('--ipv6 <ipv6>', "the server's public IPv6 address")
    .option('--blocklist <zones...>', `DNS blocklists to look the addresses up in (default: ${COMMON_BLOCKLISTS.join(' ')})`)
    .option('--port25 <host:port>', `where to try outbound port 25 (default: ${PORT25_PROBE})`)
    .option('--https-port <port>', 'port of the MTA-STS policy servers (tests)')
    .option('--https-ca <file>', 'PEM file of a CA to trust for the policy servers (tests)')
    .option('--json', 'print JSON')
    .action(async (o: DoctorOptions, cmd: Command) => {
      const checks = await runDoctor(cmd, o);
      const bad = checks.filter((c) => c.status === 'fail').length;
      const warn = checks.filter((c) => c.status === 'warn').length;
      if (o.json) process.stdout.write(`${JSON.stringify(checks, null, 2)}\n`);
      else {
        for (const c of checks) {
          if (c.status === 'ok') continue;
          process.stdout.write(`${c.status === 'fail' ? 'FAIL' : 'warn'} [${c.area}] ${c.what}\n     fix: ${c.fix}\n`);
        }
        process.stdout.write(`${checks.length - bad - warn} ok, ${warn} warnings, ${bad} failures\n`);
      }
      if (bad > 0) process.exitCode = 1;
    });
}
