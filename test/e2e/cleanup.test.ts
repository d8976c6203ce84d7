/**
 * The harness leaves nothing behind: namespaces, the processes inside them, /etc/netns files
 * and scratch directories go when a network is destroyed, and what a run that died by SIGKILL
 * left is removed by the next run.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { skip } from '@postern/testkit';
import { describe, expect, it } from 'vitest';
import { waitFor } from './lib/exec.js';
import { cleanLeftovers, Network, netnsUnavailable } from './lib/netns.js';

const unavailable = netnsUnavailable();
if (unavailable) skip('e2e: harness cleanup', unavailable);

/** Running (a zombie waiting for its reaper counts as gone). */
const alive = (pid: number): boolean => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
};

/** A pid that belonged to a process that has exited: the owner of a "crashed run". */
function deadPid(): number {
  const r = spawnSync('sh', ['-c', 'echo $$']);
  const pid = Number(r.stdout.toString().trim());
  expect(alive(pid)).toBe(false);
  return pid;
}

describe.skipIf(unavailable !== null)('the e2e harness cleans up', () => {
  it('destroy() removes the namespaces, kills what runs inside and removes the files', async () => {
    const net = new Network();
    await net.create(
      [
        { name: 'one', ip: '192.0.2.1' },
        { name: 'two', ip: '192.0.2.2' },
      ],
      '192.0.2.53',
    );
    // the two hosts reach each other through the switch
    const server = net.start('two', 'listener', process.execPath, ['-e', 'require("net").createServer((s) => s.end("hi")).listen(7, "192.0.2.2")']);
    await waitFor('the listener', async () => (await net.listening('two')).has(7), 10_000);
    const hello = await net.runOk('one', process.execPath, ['-e', 'require("net").connect(7, "192.0.2.2").pipe(process.stdout)'], { timeoutMs: 10_000 });
    expect(hello.stdout.toString()).toBe('hi');
    const sleeper = net.start('one', 'sleeper', 'sleep', ['600']);
    const pid = sleeper.child.pid!;
    await waitFor('the sleeper to run', () => alive(pid), 5_000, 50);
    expect(net.remaining().length).toBe(3); // switch + two hosts
    expect(existsSync(join('/etc/netns', net.ns('one'), 'resolv.conf'))).toBe(true);

    net.destroy();
    await Promise.all([sleeper.exited, server.exited]);
    expect(alive(pid)).toBe(false);
    expect(net.remaining()).toEqual([]);
    expect(existsSync(join('/etc/netns', `${net.tag}-one`))).toBe(false);
    expect(existsSync(net.dir)).toBe(false);
  });

  it('a later run removes what a run killed with SIGKILL left behind, and nothing of a live run', async () => {
    const dead = deadPid();
    const ns = `pe2e-${dead}-1-host`;
    execFileSync('ip', ['netns', 'add', ns]);
    const orphan = spawnSync('sh', ['-c', `ip netns exec ${ns} sleep 600 >/dev/null 2>&1 & echo $!`]);
    const orphanPid = Number(orphan.stdout.toString().trim());
    const dir = join(tmpdir(), `pe2e-${dead}-1-run`);
    mkdirSync(dir, { recursive: true });
    mkdirSync(join('/etc/netns', ns), { recursive: true });
    writeFileSync(join('/etc/netns', ns, 'resolv.conf'), 'nameserver 192.0.2.53\n');
    // a run that is still alive (this process) must be left alone
    const live = new Network();
    await live.create([{ name: 'live', ip: '192.0.2.9' }]);
    try {
      await waitFor('the orphan to run', () => alive(orphanPid), 5_000, 50);
      const removed = cleanLeftovers();
      expect(removed).toContain(ns);
      expect(removed).toContain(dir);
      expect(existsSync(dir)).toBe(false);
      expect(existsSync(join('/etc/netns', ns))).toBe(false);
      expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).not.toContain(ns);
      await waitFor('the orphan to die', () => !alive(orphanPid), 5_000, 50);
      expect(live.remaining().length).toBe(2);
    } finally {
      live.destroy();
    }
  });
});
