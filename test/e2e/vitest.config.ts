import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/** The end-to-end suite: network namespaces, a DNS server and two Postern hosts (needs root). */
export default defineConfig({
  test: {
    root: fileURLToPath(new URL('.', import.meta.url)),
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**'],
    pool: 'forks',
    // one file at a time: each builds its own network and the machine has two cores
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 180_000,
  },
});
