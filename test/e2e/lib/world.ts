/**
 * The whole test network: five hosts on one switch (192.0.2.0/24, TEST-NET-1 of RFC 5737).
 *
 *   ns     192.0.2.53   the DNS host (dns-host.mjs, on dns2) serving a.test, b.test and the reverse zone
 *   mxa    192.0.2.10   Postern for a.test (mx.a.test)
 *   mxb    192.0.2.20   Postern for b.test (mx.b.test)
 *   client 192.0.2.100  where the users' mail clients run (swaks, curl, python)
 *   forger 192.0.2.66   a stranger on the internet who sends forged mail
 *
 * Every host resolves through the DNS host. The mail hosts have no `routes` and no smarthost:
 * they find each other by MX lookup only.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from './exec.js';
import { MailHost } from './mailhost.js';
import { cleanLeftovers, Network, type HostProcess } from './netns.js';
import type { PrintedRecord } from './zone.js';

export const IP = { ns: '192.0.2.53', mxa: '192.0.2.10', mxb: '192.0.2.20', client: '192.0.2.100', forger: '192.0.2.66' } as const;

/** The retry schedule, shortened so that scenario 4 takes seconds (transfer.* in postern.toml). */
export const SHORT_RETRIES = { retry_initial: '2s', retry_max: '3s', queue_poll: '500ms' } as const;

export interface World {
  net: Network;
  a: MailHost;
  b: MailHost;
  /** The records the DNS host serves, per domain, as `postern dns` printed them. */
  published: Map<string, PrintedRecord[]>;
  dnsLog: string;
  /** Stops everything and removes every namespace, process and file the world made. */
  destroy(): Promise<void>;
  /** Log tails of the hosts, for a failure message. */
  logs(): string;
}

export interface WorldOptions {
  /** Ports `start()` waits for on each mail host (default: all the standard ones). */
  ports?: readonly number[];
}

export const USERS = {
  alice: { address: 'alice@a.test', password: 'alice-pw-1' },
  carol: { address: 'carol@a.test', password: 'carol-pw-3' },
  bob: { address: 'bob@b.test', password: 'bob-pw-2' },
} as const;

/** The DNS host's program: Node and dns2, nothing from the system. */
const DNS_HOST = fileURLToPath(new URL('./dns-host.mjs', import.meta.url));

export async function createWorld(options: WorldOptions = {}): Promise<World> {
  const removed = cleanLeftovers();
  if (removed.length > 0) process.stderr.write(`e2e: removed leftovers of an earlier run: ${removed.join(', ')}\n`);

  const net = new Network();
  const a = new MailHost(net, 'mxa', IP.mxa, 'a.test');
  const b = new MailHost(net, 'mxb', IP.mxb, 'b.test');
  let dns: HostProcess | null = null;
  const world: World = {
    net,
    a,
    b,
    published: new Map(),
    dnsLog: '',
    async destroy() {
      await Promise.allSettled([a.stop(), b.stop()]);
      dns?.child.kill('SIGTERM');
      net.destroy();
    },
    logs() {
      let dnsTail = '';
      try {
        dnsTail = `--- DNS host log (tail) ---\n${readFileSync(world.dnsLog, 'utf8').slice(-3000)}`;
      } catch {
        /* not started */
      }
      return [a.logTail(), b.logTail(), dnsTail].join('\n');
    },
  };

  try {
    await net.create(
      Object.entries(IP).map(([name, ip]) => ({ name, ip })),
      IP.ns,
    );
    const transfer = { ...SHORT_RETRIES };
    await Promise.all([a.init({ dnsServer: IP.ns, transfer }), b.init({ dnsServer: IP.ns, transfer })]);
    await a.addUser(USERS.alice.address, USERS.alice.password);
    await a.addUser(USERS.carol.address, USERS.carol.password);
    await b.addUser(USERS.bob.address, USERS.bob.password);
    // RFC 6531 addresses for scenario 6: aliases with UTF-8 local parts
    await a.addAlias('ålice@a.test', USERS.alice.address);
    await b.addAlias('bøb@b.test', USERS.bob.address);

    // The zones: exactly what each host's `postern dns` prints.
    const records: PrintedRecord[] = [];
    for (const host of [a, b]) {
      for (const d of await host.dnsRecords()) {
        world.published.set(d.domain, d.records);
        records.push(...d.records);
      }
    }
    const zoneFile = join(net.dir, 'zone.json');
    writeFileSync(zoneFile, JSON.stringify(records));
    dns = net.start('ns', 'dns', process.execPath, [DNS_HOST, zoneFile, IP.ns]);
    const started = dns;
    world.dnsLog = started.log;
    let dnsExited = false;
    void started.exited.then(() => (dnsExited = true));
    await waitFor(
      'the DNS host to listen',
      async () => {
        if (dnsExited) throw new Error(`the DNS host exited: ${readFileSync(started.log, 'utf8').slice(-2000)}`);
        return (await net.listening('ns')).has(53);
      },
      10_000,
    );

    await Promise.all([a.start(options.ports), b.start(options.ports)]);
    return world;
  } catch (e) {
    const logs = world.logs();
    await world.destroy();
    throw new Error(`${(e as Error).message}\n${logs}`);
  }
}
