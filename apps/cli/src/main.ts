#!/usr/bin/env node
/**
 * `postern`: the administrator's command. Every command takes `--config FILE` (else
 * $POSTERN_CONFIG, else ./postern.toml). Errors go to stderr, one line, non-zero exit code.
 */
import { Command, CommanderError } from 'commander';
import { AccountError, AddressError, CredentialError, ConfigError, StoreError } from '@postern/core';
import { CliError } from './context.js';
import { register as accounts } from './commands/accounts.js';
import { register as backup } from './commands/backup.js';
import { register as metrics } from './commands/metrics.js';
import { register as dns } from './commands/dns.js';
import { register as doctor } from './commands/doctor.js';
import { register as exportMail } from './commands/export.js';
import { register as importMail } from './commands/import.js';
import { register as init } from './commands/init.js';
import { register as mail } from './commands/mail.js';
import { register as mailbox } from './commands/mailbox.js';
import { register as migrate } from './commands/migrate.js';
import { register as queue } from './commands/queue.js';
import { register as sieve } from './commands/sieve.js';
import { runSendmail, sendmailPersona } from './commands/sendmail.js';
import { register as start } from './commands/start.js';
import { register as status } from './commands/status.js';

const program = new Command('postern')
  .description('Postern: a complete mail system for your own domain')
  .option('-c, --config <file>', 'config file (default: $POSTERN_CONFIG or ./postern.toml)')
  .showHelpAfterError()
  .addHelpText(
    'after',
    '\n  sendmail [options] [recipient...]  queue a message read on stdin, like sendmail(8) (also as `sendmail`, `mailq`, `newaliases` through a link)',
  )
  .exitOverride();

for (const register of [init, start, status, accounts, mailbox, mail, queue, sieve, dns, doctor, importMail, exportMail, backup, migrate, metrics])
  register(program);

function fail(message: string, code: number): never {
  process.stderr.write(`postern: ${message}\n`);
  process.exit(code);
}

/**
 * sendmail's options are getopt(3)'s (`-oi`, `-FCronDaemon`, `-ti`), not commander's: the
 * sendmail names and `postern [--config FILE] sendmail ...` go to its own parser.
 */
async function dispatch(argv: readonly string[]): Promise<void> {
  const persona = sendmailPersona(argv[1]);
  const queueCommand = async (args: string[], configFile: string): Promise<void> => {
    await program.parseAsync(['--config', configFile, 'queue', ...args], { from: 'user' });
  };
  if (persona === 'mailq') return runSendmail(['-bp'], null, queueCommand);
  if (persona === 'newaliases') return runSendmail(['-bi'], null, queueCommand);
  if (persona === 'sendmail') return runSendmail(argv.slice(2), null, queueCommand);
  let i = 2;
  let config: string | null = null;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if ((a === '--config' || a === '-c') && i + 1 < argv.length) config = argv[++i]!;
    else if (a.startsWith('--config=')) config = a.slice('--config='.length);
    else break;
  }
  if (argv[i] === 'sendmail') return runSendmail(argv.slice(i + 1), config, queueCommand);
  await program.parseAsync(argv);
}

try {
  await dispatch(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  if (err instanceof ConfigError) fail(err.message, 2);
  if (err instanceof CliError) fail(err.message, err.exitCode);
  if (err instanceof AccountError || err instanceof CredentialError || err instanceof AddressError || err instanceof StoreError) fail(err.message, 1);
  fail(`unexpected error: ${(err as Error).stack ?? String(err)}`, 70);
}
