/**
 * deploy/postern.service runs `postern start` as an unprivileged user whose only privilege is
 * the ambient capability CAP_NET_BIND_SERVICE. This runs it the same way (setpriv(1) sets up
 * what systemd's User= and AmbientCapabilities= do) inside a namespace of its own, and checks
 * that every app `postern start` spawns inherits the capability and binds its standard port.
 */
import { execFileSync } from 'node:child_process';
import { chownSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { skip } from '@postern/testkit';
import { describe, expect, it } from 'vitest';
import { waitFor } from './lib/exec.js';
import { NOBODY, readableProgram } from '../lib/readable-program.js';
import { MailHost, STANDARD_PORTS } from './lib/mailhost.js';
import { Network, netnsUnavailable } from './lib/netns.js';

const unit = readFileSync(fileURLToPath(new URL('../../deploy/postern.service', import.meta.url)), 'utf8');
const directive = (name: string): string[] =>
  unit
    .split('\n')
    .filter((l) => l.startsWith(`${name}=`))
    .map((l) => l.slice(name.length + 1).trim());

function missingSetpriv(): string | null {
  try {
    execFileSync('setpriv', ['--version'], { stdio: 'ignore' });
    return null;
  } catch {
    return 'setpriv (util-linux) is not installed';
  }
}

const unavailable = netnsUnavailable() ?? missingSetpriv();
if (unavailable) skip('e2e: deploy/postern.service', unavailable);

/** An unprivileged uid/gid ("nobody" on Debian). */
const UID = NOBODY;

function chownTree(path: string): void {
  chownSync(path, UID, UID);
  if (statSync(path).isDirectory()) for (const n of readdirSync(path)) chownTree(join(path, n));
}

describe.skipIf(unavailable !== null)('deploy/postern.service', () => {
  it('names a dedicated user and passes only CAP_NET_BIND_SERVICE', () => {
    expect(directive('User')).toEqual(['postern']);
    expect(directive('AmbientCapabilities')).toEqual(['CAP_NET_BIND_SERVICE']);
    expect(directive('CapabilityBoundingSet')).toEqual(['CAP_NET_BIND_SERVICE']);
    expect(directive('ExecStart')[0]).toMatch(/postern\.js start$/);
  });

  it('postern start as an unprivileged user with that capability binds every standard port', async () => {
    const net = new Network();
    const program = readableProgram();
    try {
      await net.create([{ name: 'mx', ip: '192.0.2.30' }]);
      const host = new MailHost(net, 'mx', '192.0.2.30', 'c.test');
      await host.init({ dnsServer: '192.0.2.53', transfer: {} });
      chownTree(host.dir);
      const caps = directive('AmbientCapabilities')
        .map((c) => `+${c.replace(/^CAP_/, '').toLowerCase()}`)
        .join(',');
      const proc = net.start('mx', 'postern-unprivileged', 'setpriv', [
        `--reuid=${UID}`,
        `--regid=${UID}`,
        '--clear-groups',
        `--inh-caps=-all,${caps}`,
        `--ambient-caps=${caps}`,
        `--bounding-set=-all,${caps}`,
        '--no-new-privs',
        process.execPath,
        program.bin,
        '--config',
        host.configFile,
        'start',
      ]);
      let exited = false;
      void proc.exited.then(() => (exited = true));
      const ports = Object.values(STANDARD_PORTS);
      await waitFor(
        `the standard ports ${ports.join(', ')}`,
        async () => {
          if (exited) throw new Error(`postern start exited: ${readFileSync(proc.log, 'utf8').slice(-3000)}`);
          const open = await net.listening('mx');
          return ports.every((p) => open.has(p));
        },
        30_000,
      );
      // the apps run as that user, and what they write belongs to it
      expect(statSync(join(host.dir, 'data', 'queue.db')).uid).toBe(UID);
      const pids = execFileSync('ip', ['netns', 'pids', net.ns('mx')], { encoding: 'utf8' })
        .split(/\s+/)
        .filter(Boolean);
      expect(pids.length).toBeGreaterThanOrEqual(4); // the supervisor and its apps
      for (const pid of pids) expect(readFileSync(`/proc/${pid}/status`, 'utf8')).toMatch(new RegExp(`^Uid:\\s+${UID}\\s`, 'm'));
      proc.child.kill('SIGTERM');
      await proc.exited;
    } finally {
      net.destroy();
      program.cleanup();
    }
  });
});
