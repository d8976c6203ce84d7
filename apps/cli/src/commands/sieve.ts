/**
 * `postern sieve ...`: a user's Sieve scripts on mail.db directly (what ManageSieve does over the
 * network): put (checked first, errors with line and column), list with the last run-time
 * error, get, activate, deactivate, delete, check.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { MailDb } from '@postern/core';
import { compile, DEFAULT_LIMITS, SieveSyntaxError, type SieveLimits } from '@postern/sieve';
import { CliError, printRows, readAll, withMailDb } from '../context.js';

function limitsOf(config: { sieve: { max_script_size: number; max_nesting: number } }): SieveLimits {
  return { ...DEFAULT_LIMITS, maxScriptSize: config.sieve.max_script_size, maxNesting: config.sieve.max_nesting };
}

function userId(m: MailDb, address: string): number {
  const u = m.accounts.findUser(address);
  if (!u) throw new CliError(`no user ${address}`);
  return u.id;
}

async function source(file: string, limit: number): Promise<string> {
  if (file === '-') return (await readAll(process.stdin, limit + 1)).toString('utf8');
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

function check(text: string, file: string, limits: SieveLimits): void {
  try {
    compile(text, limits);
  } catch (err) {
    if (err instanceof SieveSyntaxError) throw new CliError(`${file}: ${err.message}`);
    throw err;
  }
}

export function register(program: Command): void {
  const sieve = program.command('sieve').description("manage a user's Sieve filters (RFC 5228; also over ManageSieve, port 4190)");
  sieve
    .command('put <user> <name> <file>')
    .description('store a script from FILE ("-": standard input), after checking it')
    .option('--activate', 'make it the active script')
    .action(async (address: string, name: string, file: string, o: { activate?: boolean }, cmd: Command) =>
      withMailDb(cmd, async (m, config) => {
        const text = await source(file, config.sieve.max_script_size);
        check(text, file, limitsOf(config));
        const id = userId(m, address);
        await m.sieve.put(id, name, text, { maxScripts: config.sieve.max_scripts, maxScriptSize: config.sieve.max_script_size });
        if (o.activate) await m.sieve.setActive(id, name);
        process.stdout.write(`stored ${name} for ${address}${o.activate ? ' (active)' : ''}\n`);
      }),
    );
  sieve
    .command('check <file>')
    .description('check a script without storing it')
    .action(async (file: string, _o, cmd: Command) =>
      withMailDb(cmd, async (_m, config) => {
        check(await source(file, config.sieve.max_script_size), file, limitsOf(config));
        process.stdout.write(`${file}: ok\n`);
      }),
    );
  sieve
    .command('list <user>')
    .option('--json', 'print JSON')
    .action((address: string, o: { json?: boolean }, cmd: Command) =>
      withMailDb(cmd, async (m) => {
        const rows = (await m.sieve.list(userId(m, address))).map((s) => ({
          name: s.name,
          active: s.active ? 'yes' : '',
          size: s.size,
          updated: new Date(s.updated).toISOString(),
          last_error: s.lastError ?? '',
        }));
        printRows(rows, ['name', 'active', 'size', 'updated', 'last_error'], !!o.json);
      }),
    );
  sieve
    .command('get <user> <name>')
    .description('print a script')
    .action((address: string, name: string, _o, cmd: Command) =>
      withMailDb(cmd, async (m) => {
        const s = await m.sieve.get(userId(m, address), name);
        if (!s) throw new CliError(`${address} has no script ${name}`);
        process.stdout.write(s.content.endsWith('\n') ? s.content : `${s.content}\n`);
      }),
    );
  sieve.command('activate <user> <name>').action((address: string, name: string, _o, cmd: Command) =>
    withMailDb(cmd, async (m) => {
      await m.sieve.setActive(userId(m, address), name);
      process.stdout.write(`${name} is the active script of ${address}\n`);
    }),
  );
  sieve
    .command('deactivate <user>')
    .description('no active script: every message goes to INBOX')
    .action((address: string, _o, cmd: Command) =>
      withMailDb(cmd, async (m) => {
        await m.sieve.setActive(userId(m, address), null);
        process.stdout.write(`${address} has no active script\n`);
      }),
    );
  sieve.command('delete <user> <name>').action((address: string, name: string, _o, cmd: Command) =>
    withMailDb(cmd, async (m) => {
      await m.sieve.delete(userId(m, address), name);
      process.stdout.write(`deleted ${name} of ${address}\n`);
    }),
  );
}
