#!/usr/bin/env node
/**
 * `npm test` in the test workspace runs this after the normal suite: the end-to-end suite needs
 * root (it creates network namespaces and listens on ports below 1024), so as any other user it
 * is skipped with the reason printed. CI runs as root, so CI runs it.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { skip } from '@postern/testkit';

const testDir = fileURLToPath(new URL('..', import.meta.url));

if (process.platform !== 'linux' || typeof process.getuid !== 'function' || process.getuid() !== 0) {
  skip('e2e: the end-to-end suite', 'root on Linux (network namespaces): run `sudo npm test`');
  process.exit(0);
}
const ip = spawnSync('ip', ['netns', 'list'], { stdio: 'ignore' });
if (ip.error || ip.status !== 0) {
  skip('e2e: the end-to-end suite', '`ip netns`: apt-get install iproute2');
  process.exit(0);
}
const r = spawnSync('npx', ['vitest', 'run', '--config', 'e2e/vitest.config.ts'], { cwd: testDir, stdio: 'inherit' });
process.exit(r.status ?? 1);
