/**
 * `postern metrics`: serves the one Prometheus scrape endpoint (`listen.metrics`) where the apps
 * run as separate units (systemd) rather than under `postern start`, which serves it itself.
 * See @postern/metrics for how every app's registry is reached.
 */
import type { Command } from 'commander';
import { createLogger } from '@postern/core';
import { startMetricsEndpoint } from '@postern/metrics';
import { CliError, configOf } from '../context.js';

export function register(program: Command): void {
  program
    .command('metrics')
    .description('serve the Prometheus scrape endpoint (listen.metrics) for every app, until SIGTERM')
    .action(async (_o, cmd: Command) => {
      const config = configOf(cmd);
      if (!config.listen.metrics) throw new CliError('set listen.metrics (e.g. "127.0.0.1:9187") in the config first');
      const endpoint = await startMetricsEndpoint(config, createLogger('metrics', config.log_level));
      process.stdout.write(`metrics on http://${config.listen.metrics.replace(/:\d+$/, '')}:${endpoint.port}/metrics\n`);
      await new Promise<void>((resolve) => {
        const stop = (): void => void endpoint.close().then(resolve);
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      });
    });
}
