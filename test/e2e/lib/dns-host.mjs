#!/usr/bin/env node
/**
 * The end-to-end network's DNS host, run inside its namespace by world.ts:
 *   node dns-host.mjs <records.json> <listen address>
 * It serves exactly the records in the file (what each mail host's `postern dns --json` printed)
 * on port 53, UDP and TCP, answers NXDOMAIN for every other name and asks nobody upstream, and
 * logs one line per query in dnsmasq's words ("query[MX] b.test from 192.0.2.10").
 */
import { readFileSync } from 'node:fs';
import { addRecords, startDnsServer } from '@postern/testkit';

const [file, address] = process.argv.slice(2);
if (!file || !address) {
  process.stderr.write('usage: dns-host.mjs RECORDS.json ADDRESS\n');
  process.exit(64);
}
const zone = addRecords({}, JSON.parse(readFileSync(file, 'utf8')), { skipEmpty: false });
await startDnsServer(zone, { address, port: 53, log: (line) => process.stdout.write(`${line}\n`) });
process.stdout.write(`serving ${Object.keys(zone).length} names on ${address}:53\n`);
process.on('SIGTERM', () => process.exit(0));
