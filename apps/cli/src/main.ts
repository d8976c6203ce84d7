#!/usr/bin/env node
/**
 * `postern`: the administrator's command. Every command takes `--config FILE` (else
 * $POSTERN_CONFIG, else ./postern.toml). Errors go to stderr, one line, non-zero exit code.
 */
import { Command, CommanderError } from 'commander';
import { AccountError, AddressError, ConfigError, StoreError } from '@postern/core';
import { CliError } from './context.js';
import { register as accounts } from './commands/accounts.js';
import { register as dns } from './commands/dns.js';
import { register as init } from './commands/init.js';
import { register as mail } from './commands/mail.js';
import { register as mailbox } from './commands/mailbox.js';
import { register as queue } from './commands/queue.js';
import { register as sendmail } from './commands/sendmail.js';
import { register as start } from './commands/start.js';

const program = new Command('postern')
  .description('Postern: a complete mail system for your own domain')
  .option('-c, --config <file>', 'config file (default: $POSTERN_CONFIG or ./postern.toml)')
  .showHelpAfterError()
  .exitOverride();

for (const register of [init, start, accounts, mailbox, mail, queue, sendmail, dns]) register(program);

function fail(message: string, code: number): never {
  process.stderr.write(`postern: ${message}\n`);
  process.exit(code);
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  if (err instanceof ConfigError) fail(err.message, 2);
  if (err instanceof CliError) fail(err.message, err.exitCode);
  if (err instanceof AccountError || err instanceof AddressError || err instanceof StoreError) fail(err.message, 1);
  fail(`unexpected error: ${(err as Error).stack ?? String(err)}`, 70);
}
