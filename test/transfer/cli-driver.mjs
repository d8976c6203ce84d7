// Runs `postern [--config FILE] sendmail|queue ...` with just the two command modules of
// apps/cli (built), so these tests do not depend on how the CLI's main wires its commands.
import { Command } from 'commander';
import { register as sendmail } from '../../apps/cli/dist/commands/sendmail.js';
import { register as queue } from '../../apps/cli/dist/commands/queue.js';

const program = new Command('postern').option('--config <file>', 'config file').exitOverride();
sendmail(program);
queue(program);
try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err && typeof err === 'object' && 'exitCode' in err && err.code?.startsWith?.('commander.')) process.exit(err.exitCode);
  process.stderr.write(`postern: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(typeof err?.exitCode === 'number' ? err.exitCode : 1);
}
