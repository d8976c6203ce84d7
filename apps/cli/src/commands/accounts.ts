/** `postern domain|user|alias ...`: account administration, on mail.db directly. */
import type { Command } from 'commander';
import { DEVICE_PROTOCOLS, type DeviceProtocol, type MailDb, type User } from '@postern/core';
import { ensureDomainKeys } from '@postern/trust';
import { readPassword } from '../password-input.js';
import { CliError, printRows, withMailDb } from '../context.js';

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
    .option('--admin', 'may use the web admin')
    .action(async (address: string, o: { passwordStdin?: boolean; admin?: boolean }, cmd: Command) => {
      const password = await readPassword(!!o.passwordStdin);
      await withMailDb(cmd, async (m) => {
        const u = await m.accounts.addUser(address, password, { admin: !!o.admin });
        process.stdout.write(`added user ${u.address}${u.admin ? ' (admin)' : ''}\n`);
      });
    });
  user
    .command('admin <address> <on|off>')
    .description('give or take the web admin')
    .action((address: string, value: string, _o, cmd: Command) =>
      withMailDb(cmd, (m) => {
        if (value !== 'on' && value !== 'off') throw new CliError('say on or off');
        m.accounts.setAdmin(address, value === 'on');
        process.stdout.write(`${address}: admin ${value}\n`);
      }),
    );
  user
    .command('logins <address>')
    .description("the user's last logins: when, from where, over which protocol")
    .option('--json', 'print JSON')
    .action((address: string, o: { json?: boolean }, cmd: Command) =>
      withMailDb(cmd, (m) => {
        needUser(m, address);
        printRows(
          m.accounts.lastLogins(address).map((l) => ({ when: new Date(l.at).toISOString(), protocol: l.protocol, from: l.ip })),
          ['when', 'protocol', 'from'],
          !!o.json,
        );
      }),
    );
  user
    .command('two-factor-off <address>')
    .description('turn off two-factor login (a user who lost their authenticator and recovery codes)')
    .action((address: string, _o, cmd: Command) =>
      withMailDb(cmd, (m) => {
        m.accounts.credentials.disableTotp(needUser(m, address).id);
        process.stdout.write(`two-factor login off for ${address}: the account password works for every protocol again\n`);
      }),
    );

  // App passwords: one per device, shown once (credentials.ts); with two-factor login on, the
  // only passwords IMAP, POP3, SMTP and ManageSieve take.
  const appPassword = user.command('app-password').description("manage a user's app passwords (one per device)");
  appPassword
    .command('add <address> <name>')
    .description('make an app password for a device; it is shown once')
    .option('--protocols <list>', `limit it to some of ${DEVICE_PROTOCOLS.join(',')}`)
    .action(async (address: string, name: string, o: { protocols?: string }, cmd: Command) => {
      const protocols = parseProtocols(o.protocols);
      await withMailDb(cmd, async (m) => {
        const u = needUser(m, address);
        const { secret } = await m.accounts.credentials.addAppPassword(u.id, name, protocols);
        process.stdout.write(
          `app password "${name}" for ${u.address} (${protocols.length ? protocols.join(', ') : 'every protocol'}):\n\n  ${secret}\n\nIt is shown only now; spaces do not matter.\n`,
        );
      });
    });
  appPassword
    .command('list <address>')
    .option('--json', 'print JSON')
    .action((address: string, o: { json?: boolean }, cmd: Command) =>
      withMailDb(cmd, (m) =>
        printRows(
          m.accounts.credentials
            .listAppPasswords(needUser(m, address).id)
            .map((p) => ({ id: p.id, name: p.name, protocols: p.protocols.length ? p.protocols : ['all'], created: new Date(p.created).toISOString() })),
          ['id', 'name', 'protocols', 'created'],
          !!o.json,
        ),
      ),
    );
  appPassword.command('revoke <address> <name-or-id>').action((address: string, which: string, _o, cmd: Command) =>
    withMailDb(cmd, (m) => {
      const u = needUser(m, address);
      const n =
        m.accounts.credentials.revokeAppPassword(u.id, which) || (/^\d+$/.test(which) ? m.accounts.credentials.revokeAppPassword(u.id, Number(which)) : 0);
      if (n === 0) throw new CliError(`${u.address} has no app password ${which}`);
      process.stdout.write(`revoked app password ${which} of ${u.address}\n`);
    }),
  );
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

function needUser(m: MailDb, address: string): User {
  const u = m.accounts.findUser(address);
  if (!u) throw new CliError(`no user ${address}`);
  return u;
}

function parseProtocols(list: string | undefined): DeviceProtocol[] {
  if (!list) return [];
  const out: DeviceProtocol[] = [];
  for (const p of list
    .toLowerCase()
    .split(/[\s,]+/)
    .filter(Boolean)) {
    if (!(DEVICE_PROTOCOLS as readonly string[]).includes(p)) throw new CliError(`unknown protocol ${p}: say some of ${DEVICE_PROTOCOLS.join(', ')}`);
    out.push(p as DeviceProtocol);
  }
  return out;
}

function countMessages(mailboxes: ReadonlyArray<{ messages: number }>): number {
  return mailboxes.reduce((n, b) => n + b.messages, 0);
}
