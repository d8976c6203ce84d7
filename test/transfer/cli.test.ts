/**
 * `postern sendmail` queues without any network and the running transfer app delivers;
 * `postern queue list|show|retry|delete` show and manage what waits.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInstance, freePort, waitFor, type Instance } from '../lib/instance.js';

// The real `postern` binary, as a user or cron runs it.
const driver = fileURLToPath(new URL('../../apps/cli/bin/postern.js', import.meta.url));
let a: Instance;

function postern(args: string[], input = ''): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [driver, '--config', a.configFile, ...args], { input, encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(async () => {
  a = await createInstance({ domain: 'a.test', users: { alice: 'alice-password', bob: 'bob-password' } });
  await a.start({ transfer: { routes: { 'down.test': `127.0.0.1:${await freePort()}` }, retry_initial: '1h', retry_max: '1h' } });
});

afterAll(async () => {
  await a?.stop();
});

describe('postern sendmail', () => {
  it('queues a message from stdin with -t, drops Bcc:, and transfer delivers it', async () => {
    const r = postern(
      ['sendmail', '-t', '-f', 'cron@a.test'],
      'To: alice@a.test\nBcc: bob@a.test\nSubject: nightly report\n\nAll good.\n.\nthis is after the dot and not sent\n',
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const [alice] = await a.waitForMessages('alice@a.test', 1);
    const [bob] = await a.waitForMessages('bob@a.test', 1);
    for (const m of [alice!, bob!]) {
      expect(m.raw).toMatch(/^Return-Path: <cron@a\.test>/m);
      expect(m.raw).toMatch(/Subject: nightly report\r\n/);
      expect(m.raw).toMatch(/with local\r\n\tid \w+/);
      expect(m.raw).toMatch(/^Message-ID: /m);
      expect(m.raw).not.toMatch(/^Bcc:/im);
      expect(m.raw).toMatch(/All good\.\r\n$/);
    }
  });

  it('refuses to run without recipients or with a bad one', () => {
    expect(postern(['sendmail'], 'Subject: x\n\nbody\n').status).not.toBe(0);
    const r = postern(['sendmail', 'not an address'], 'Subject: x\n\nbody\n');
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/bad recipient/);
  });
});

describe('postern queue', () => {
  it('lists, shows, retries and deletes what waits', async () => {
    expect(postern(['sendmail', '-i', 'someone@down.test'], 'Subject: stuck\n\n.\nbody\n').status).toBe(0);
    const listed = await waitFor(
      () => {
        const rows = JSON.parse(postern(['queue', 'list', '--json']).stdout) as Array<{
          id: string;
          attempts: number;
          last_error: string | null;
          recipients: string[];
        }>;
        return rows.find((row) => row.attempts >= 1) ?? null;
      },
      15_000,
      'a deferred message',
    );
    expect(listed.recipients).toEqual(['someone@down.test']);
    expect(listed.last_error).toMatch(/4\.4\.1/);
    const show = postern(['queue', 'show', listed.id]);
    expect(show.stdout).toMatch(/someone@down\.test\s+queued\s+1/);
    expect(show.stdout).toMatch(/Subject: stuck/);
    expect(postern(['queue', 'retry', listed.id]).stdout).toMatch(/1 recipient/);
    await waitFor(() => a.withQueue((q) => (q.get(listed.id)?.recipients[0]?.attempts ?? 0) >= 2), 15_000, 'a second attempt');
    expect(postern(['queue', 'delete', listed.id]).stdout).toMatch(/deleted/);
    expect(JSON.parse(postern(['queue', 'list', '--json']).stdout)).toEqual([]);
    expect(postern(['queue', 'show', listed.id]).status).not.toBe(0);
  });
});
