/** `postern domain|user|alias ...`: account administration, on mail.db directly. */
import type { Command } from 'commander';
import { ensureDomainKeys } from '@postern/trust';
import { readPassword } from '../password-input.js';
import { printRows, withMailDb } from '../context.js';

export function register(program: Command): void {
  const domain = program.command('domain').description('manage local mail domains');
  domain
    .command('add <domain>')
    .description('accept mail for a domain')
    .action((name: string, _o, cmd: Command) =>
      withMailDb(cmd, (m, config) => {
        const d = m.accounts.addDomain(name);
        // RFC 6376: the domain signs its mail from the start; `postern dns` prints the keys to publish
        const dkim = ensureDomainKeys(config, d.name);
        process.stdout.write(
          `added domain ${d.name}\nDKIM selectors ${dkim.keys.map((k) => k.selector).join(', ')}: publish them with \`postern dns ${d.name}\`\n`,
        );
      }),
    );
  domain
    .command('list')
    .option('--json', 'print JSON')
    .action((o: { json?: boolean }, cmd: Command) =>
      withMailDb(cmd, (m) =>
        printRows(
          m.accounts.listDomains().map((d) => ({ domain: d.name, catch_all: d.catchAll })),
          ['domain', 'catch_all'],
          !!o.json,
        ),
      ),
    );
  domain
    .command('remove <domain>')
    .description('remove a domain with its users, aliases and their mail')
    .action((name: string, _o, cmd: Command) =>
      withMailDb(cmd, (m) => {
        m.accounts.removeDomain(name);
        process.stdout.write(`removed domain ${name}\n`);
      }),
    );
  domain
    .command('catchall <domain> [user]')
    .description('deliver mail for unknown addresses of DOMAIN to USER (no USER: turn it off)')
    .action((name: string, user: string | undefined, _o, cmd: Command) =>
      withMailDb(cmd, (m) => {
        m.accounts.setCatchAll(name, user ?? null);
        process.stdout.write(user ? `catch-all for ${name}: ${user}\n` : `no catch-all for ${name}\n`);
      }),
    );

  const user = program.command('user').description('manage users (the login is the full address)');
  user
    .command('add <address>')
    .option('--password-stdin', 'read the password from standard input')
    .action(async (address: string, o: { passwordStdin?: boolean }, cmd: Command) => {
      const password = await readPassword(!!o.passwordStdin);
      await withMailDb(cmd, async (m) => {
        const u = await m.accounts.addUser(address, password);
        process.stdout.write(`added user ${u.address}\n`);
      });
    });
  user
    .command('passwd <address>')
    .option('--password-stdin', 'read the password from standard input')
    .action(async (address: string, o: { passwordStdin?: boolean }, cmd: Command) => {
      const password = await readPassword(!!o.passwordStdin);
      await withMailDb(cmd, async (m) => {
        await m.accounts.setPassword(address, password);
        process.stdout.write(`password changed for ${address}\n`);
      });
    });
  user
    .command('list [domain]')
    .option('--json', 'print JSON')
    .action((d: string | undefined, o: { json?: boolean }, cmd: Command) =>
      withMailDb(cmd, async (m) => {
        const rows = [];
        for (const u of m.accounts.listUsers(d)) {
          rows.push({ address: u.address, messages: countMessages(await m.store.listMailboxes(u.id)), bytes: await m.store.usage(u.id) });
        }
        printRows(rows, ['address', 'messages', 'bytes'], !!o.json);
      }),
    );
  user
    .command('remove <address>')
    .description('remove a user and all their mail')
    .action((address: string, _o, cmd: Command) =>
      withMailDb(cmd, (m) => {
        m.accounts.removeUser(address);
        process.stdout.write(`removed user ${address}\n`);
      }),
    );

  const alias = program.command('alias').description('manage aliases (an address delivered to users, or forwarded to outside addresses with SRS and ARC)');
  alias.command('add <address> <users...>').action((address: string, users: string[], _o, cmd: Command) =>
    withMailDb(cmd, (m) => {
      m.accounts.addAlias(address, users);
      process.stdout.write(`alias ${address} -> ${users.join(', ')}\n`);
    }),
  );
  alias
    .command('list')
    .option('--json', 'print JSON')
    .action((o: { json?: boolean }, cmd: Command) =>
      withMailDb(cmd, (m) =>
        printRows(
          m.accounts.listAliases().map((a) => ({ address: a.address, targets: a.targets })),
          ['address', 'targets'],
          !!o.json,
        ),
      ),
    );
  alias.command('remove <address> [user]').action((address: string, target: string | undefined, _o, cmd: Command) =>
    withMailDb(cmd, (m) => {
      m.accounts.removeAlias(address, target);
      process.stdout.write(`removed alias ${address}${target ? ` -> ${target}` : ''}\n`);
    }),
  );
}

function countMessages(mailboxes: ReadonlyArray<{ messages: number }>): number {
  return mailboxes.reduce((n, b) => n + b.messages, 0);
}
