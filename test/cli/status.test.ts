/**
 * `postern status` against a stack where one app exits at once every time it starts (a crash
 * loop: here a stand-in for the webmail app that says ready and dies) and one app was killed
 * once (the delivery agent, SIGKILL): each app's state, restarts in the last hour, last exit and
 * last stderr lines, in the table and as JSON; the crash loop logged as an error exactly once.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../lib/instance.js';
import { createSupervisedInstance, type SupervisedInstance } from '../lib/supervised.js';

let s: SupervisedInstance;

beforeAll(async () => {
  s = await createSupervisedInstance({ domain: 'a.test', users: { alice: 'alice-password' } });
  const crasher = join(s.dir, 'crasher.mjs');
  writeFileSync(
    crasher,
    `process.stderr.write('crasher: starting\\n');\n` +
      `process.send?.({ postern: 'ready' });\n` +
      `setTimeout(() => { process.stderr.write('crasher: out of cheese\\n'); process.exit(7); }, 20);\n`,
  );
  await s.startSupervised({}, ['--app-entry', `webmail=${crasher}`]);
});

afterAll(async () => {
  await s?.stop();
});

interface Report {
  running: boolean;
  supervisor: { pid: number } | null;
  apps: Array<{
    app: string;
    state: string;
    pid: number | null;
    restartsLastHour: number;
    lastExit: { code: number | null; signal: string | null; stderr: string[] } | null;
  }>;
}

describe('postern status', () => {
  it('shows the crash loop and the app killed once, with their exits and stderr', async () => {
    await s.kill9Supervised('delivery');
    await waitFor(() => s.appStatus('webmail').crashLoop, 60_000, 'the crash loop to be noticed', 100);

    const json = s.statusCommand(true);
    expect(json.code, json.out).toBe(1); // not every app is running
    const r = JSON.parse(json.out) as Report;
    expect(r.running).toBe(true);
    const app = (name: string): Report['apps'][number] => r.apps.find((x) => x.app === name)!;

    expect(app('delivery')).toMatchObject({ state: 'running', restartsLastHour: 1, lastExit: { code: null, signal: 'SIGKILL' } });
    expect(app('delivery').pid).toBeGreaterThan(0);
    expect(app('transfer')).toMatchObject({ state: 'running', restartsLastHour: 0, lastExit: null });
    expect(app('submission')).toMatchObject({ state: 'running', restartsLastHour: 0, lastExit: null });
    const web = app('webmail');
    expect(web.state).toBe('crash-loop');
    expect(web.restartsLastHour).toBeGreaterThanOrEqual(5);
    expect(web.lastExit).toMatchObject({ code: 7, signal: null, stderr: ['crasher: starting', 'crasher: out of cheese'] });

    const table = s.statusCommand(false);
    expect(table.out).toMatch(/^postern start is running \(pid \d+\)/);
    expect(table.out).toMatch(/^delivery\s+running\s+\d+\s+\S+ \(\d+ s ago\)\s+1\s+SIGKILL /m);
    expect(table.out).toMatch(/^webmail\s+crash-loop\s+-?\d*\s+.*code 7 /m);
    expect(table.out).toContain('webmail: last lines on stderr before it exited:\n  | crasher: starting\n  | crasher: out of cheese\n');

    // the JSON log: every exit with its detail, the crash loop once as an error
    const lines = s.startOutput
      .split('\n')
      .filter((l) => l.startsWith('{') && l.includes('"app":"supervisor"'))
      .map((l) => JSON.parse(l) as { level: number; msg: string; child?: string; signal?: string | null; stderr?: string[] });
    expect(lines.filter((l) => l.child === 'delivery' && l.level === 40 && l.signal === 'SIGKILL')).toHaveLength(1);
    const loops = lines.filter((l) => l.level === 50 && /crash-looping/.test(l.msg));
    expect(loops).toHaveLength(1);
    expect(loops[0]).toMatchObject({ child: 'webmail', stderr: ['crasher: starting', 'crasher: out of cheese'] });
    expect(loops[0]!.msg).toMatch(/^webmail is crash-looping: 5 exits in 2 minutes, the last with code 7: crasher: out of cheese$/);
  });

  it('says so when the supervisor is not running', async () => {
    await s.stopSupervisor();
    const r = s.statusCommand(false);
    expect(r.code).toBe(3);
    expect(r.out).toMatch(/^postern start is not running/);
  });
});
