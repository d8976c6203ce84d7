/**
 * `postern migrate [--status]`: the schema migrations mail.db and queue.db are waiting for, and
 * (without --status) applies them with a backup first and a rollback on failure, as `postern
 * start` does before it starts anything (core's upgrade.ts).
 */
import type { Command } from 'commander';
import { migrationStatus, UpgradeError, upgradeWithBackup, type Config } from '@postern/core';
import { CliError, configOf, printRows } from '../context.js';

/** `postern start`'s first step: the upgrade, or a refusal that says what happened. */
export async function upgradeBeforeStart(config: Config, say: (line: string) => void): Promise<void> {
  const pending = migrationStatus(config).filter((s) => s.exists && s.pending.length > 0);
  if (pending.length === 0) return;
  say(`upgrading ${pending.map((s) => `${s.name} (schema ${s.current} -> ${s.latest})`).join(', ')}; a copy of each goes to ${config.backup.dir} first`);
  try {
    const dir = await upgradeWithBackup(config);
    say(`upgraded; the databases as they were are in ${dir}`);
  } catch (err) {
    if (err instanceof UpgradeError) throw new CliError(err.message);
    throw err;
  }
}

export function register(program: Command): void {
  program
    .command('migrate')
    .description('apply pending schema migrations (a backup first, rolled back on failure); --status lists them')
    .option('--status', 'list pending migrations, change nothing')
    .option('--json', 'print JSON')
    .action(async (o: { status?: boolean; json?: boolean }, cmd: Command) => {
      const config = configOf(cmd);
      const status = migrationStatus(config);
      if (o.status) {
        if (o.json) return printRows(status as unknown as Array<Record<string, unknown>>, [], true);
        printRows(
          status.map((s) => ({ database: s.name, schema: s.exists ? s.current : 'none yet', latest: s.latest, pending: s.pending.length })),
          ['database', 'schema', 'latest', 'pending'],
          false,
        );
        for (const s of status) for (const p of s.pending) process.stdout.write(`  ${s.name} ${p.number}: ${p.summary}\n`);
        if (status.every((s) => s.pending.length === 0)) process.stdout.write('nothing pending\n');
        return;
      }
      await upgradeBeforeStart(config, (line) => process.stdout.write(`${line}\n`));
      if (status.every((s) => !s.exists || s.pending.length === 0)) process.stdout.write('nothing pending\n');
    });
}
