/** `postern mailbox ls|cat`: look at stored mail as the administrator (like `doveadm fetch`). */
import type { Command } from 'commander';
import { CliError, printRows, withMailDb } from '../context.js';

export function register(program: Command): void {
  const mailbox = program.command('mailbox').description("look at a user's stored mail");
  mailbox
    .command('ls <user> [folder]')
    .description('list messages (newest first): uid, date, from, subject, size, flags')
    .option('--json', 'print JSON')
    .option('--limit <n>', 'at most N messages', '100')
    .action((address: string, folder: string | undefined, o: { json?: boolean; limit: string }, cmd: Command) =>
      withMailDb(cmd, async (m) => {
        const user = m.accounts.findUser(address);
        if (!user) throw new CliError(`no user ${address}`);
        const mb = await m.store.mailbox(user.id, folder ?? 'INBOX');
        if (!mb) throw new CliError(`${address} has no folder ${folder ?? 'INBOX'}`);
        const limit = Number.parseInt(o.limit, 10);
        if (!(limit > 0)) throw new CliError('--limit needs a positive number');
        const rows = [];
        for (const msg of await m.store.messagesNewestFirst(mb.id, 0, limit)) {
          const c = await m.store.content(msg.contentId);
          rows.push({
            uid: msg.uid,
            date: new Date(msg.internalDate).toISOString(),
            from: c?.from ?? '',
            subject: c?.subject ?? '',
            size: msg.size,
            flags: msg.flags,
          });
        }
        if (o.json) printRows(rows, [], true);
        else
          printRows(
            rows.map((r) => ({ ...r, flags: r.flags.join(' ') })),
            ['uid', 'date', 'from', 'subject', 'size', 'flags'],
            false,
          );
      }),
    );
  mailbox
    .command('cat <user> <uid> [folder]')
    .description('print a stored message byte for byte')
    .action((address: string, uidText: string, folder: string | undefined, _o, cmd: Command) =>
      withMailDb(cmd, async (m) => {
        const user = m.accounts.findUser(address);
        if (!user) throw new CliError(`no user ${address}`);
        const mb = await m.store.mailbox(user.id, folder ?? 'INBOX');
        if (!mb) throw new CliError(`${address} has no folder ${folder ?? 'INBOX'}`);
        const uid = Number(uidText);
        const msg = Number.isInteger(uid) && uid > 0 ? await m.store.message(mb.id, uid) : null;
        if (!msg) throw new CliError(`no message with UID ${uidText} in ${mb.name}`);
        for (const chunk of m.store.chunks(msg)) process.stdout.write(chunk);
      }),
    );
}
