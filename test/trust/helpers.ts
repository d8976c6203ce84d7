/**
 * What the trust tests share: running the built `postern` binary against a config, and the
 * records `postern dns --json` prints, loaded into a zone served by a DNS server on loopback
 * (the zone helpers of packages/trust's own tests).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { addRecords, type ZoneData } from '../../packages/trust/test/zone.js';

export { addRecords, startDnsServer, type DnsServer, type ZoneData } from '../../packages/trust/test/zone.js';

const bin = fileURLToPath(new URL('../../apps/cli/bin/postern.js', import.meta.url));

/**
 * Runs `postern --config FILE ...args`. Asynchronous on purpose: the DNS server the command
 * asks lives in this process and must keep answering while it runs.
 */
export function postern(configFile: string, args: string[], input?: string): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, '--config', configFile, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdin.end(input ?? '');
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, out, err });
    });
  });
}

export interface PrintedRecord {
  name: string;
  type: string;
  value: string;
  note: string;
}

/** `postern dns DOMAIN --json` (which also makes the domain's DKIM keys when missing). */
export async function printedRecords(configFile: string, domain: string, extra: string[] = []): Promise<PrintedRecord[]> {
  const r = await postern(configFile, ['dns', domain, '--json', ...extra]);
  if (r.code !== 0) throw new Error(`postern dns failed (${r.code}): ${r.err}`);
  const out = JSON.parse(r.out) as Array<{ domain: string; records: PrintedRecord[] }>;
  return out.flatMap((d) => d.records);
}

/** Publishes what `postern dns` printed for the domain. */
export async function publish(zone: ZoneData, configFile: string, domain: string, ip: string): Promise<PrintedRecord[]> {
  const records = await printedRecords(configFile, domain, ['--ip', ip]);
  addRecords(zone, records);
  return records;
}
