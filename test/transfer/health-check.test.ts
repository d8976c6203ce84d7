/**
 * A health check's bare TCP connect-and-close on the implicit-TLS submission port (465) is an
 * ordinary event: one info line, no error and no stack trace in the log.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createInstance, waitFor, type Instance } from '../lib/instance.js';

let a: Instance;
beforeAll(async () => {
  a = await createInstance({ domain: 'a.test', users: { alice: 'alice-password' } });
  await a.start();
});
afterAll(async () => {
  await a?.stop();
});

it('logs a connect-and-close on port 465 as one info line', async () => {
  await new Promise<void>((resolve, reject) => {
    const s = connect(a.ports.submissions, '127.0.0.1', () => s.end());
    s.once('close', () => resolve());
    s.once('error', reject);
  });
  const line = await waitFor(
    () =>
      a
        .logs('submission')
        .split('\n')
        .find((l) => l.includes('client left before the session began')) ?? null,
    10_000,
    'the info line',
  );
  expect(JSON.parse(line)).toMatchObject({ level: 30, listener: 'submissions' });
  expect(a.logs('submission')).not.toMatch(/"level":50/);
  expect(a.logs('submission')).not.toMatch(/"stack"/);
});
