#!/usr/bin/env node
/**
 * postern-submission: `node apps/transfer/dist/main.js --config FILE` (or $POSTERN_CONFIG, or
 * ./postern.toml). Stops on SIGTERM/SIGINT after the messages in flight are queued.
 */
import { configPath, ConfigError, loadConfig } from '@postern/core';
import { start } from './index.js';

function configArg(argv: readonly string[]): string | undefined {
  const i = argv.indexOf('--config');
  if (i !== -1) return argv[i + 1];
  const eq = argv.find((a) => a.startsWith('--config='));
  return eq?.slice('--config='.length);
}

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(configPath(configArg(process.argv.slice(2))));
  } catch (err) {
    process.stderr.write(`postern-submission: ${err instanceof ConfigError ? err.message : String(err)}\n`);
    process.exit(2);
  }
  const app = await start(config);
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    app.close().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`postern-submission: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`postern-submission: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
