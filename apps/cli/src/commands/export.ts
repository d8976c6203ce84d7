/**
 * `postern export USER --format maildir|mbox DIR`: every folder of a user out again, flags,
 * keywords and INTERNALDATE kept (Maildir: file names and mtimes; mbox: the From_ line and
 * Status / X-Status / X-Keywords), messages byte for byte. Read a page at a time: memory is one
 * page whatever the mailbox's size. `postern import maildir:DIR` / `mbox:DIR` reads it back.
 */
import { existsSync, readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { MailDb, Mailbox } from '@postern/core';
import { CliError, printRows, withMailDb } from '../context.js';
import { openMaildirWriter } from '../import/maildir.js';
import { mboxFileOf, openMboxWriter } from '../import/mbox.js';
import { formatBytes, progressFor, type Progress } from '../progress.js';

const PAGE = 200;

interface Writer {
  add(raw: Buffer, flags: readonly string[], internalDate: number, from: string | null): Promise<void>;
  close(): Promise<void>;
}

/** Every message of a mailbox in UID order, a page at a time. */
export async function* mailboxMessages(
  m: MailDb,
  mb: Mailbox,
): AsyncGenerator<{ raw: Buffer; flags: string[]; internalDate: number; from: string | null; uid: number }> {
  let next = 1;
  for (;;) {
    const page = await m.store.messages(mb.id, next, 0xffffffff, PAGE);
    if (page.length === 0) return;
    for (const msg of page) {
      const content = await m.store.content(msg.contentId);
      yield { raw: await m.store.read(msg), flags: msg.flags, internalDate: msg.internalDate, from: content?.fromAddress ?? null, uid: msg.uid };
    }
    next = page[page.length - 1]!.uid + 1;
  }
}

export async function exportUser(
  m: MailDb,
  userId: number,
  format: 'maildir' | 'mbox',
  dir: string,
  progress: Progress,
): Promise<Array<{ folder: string; messages: number; bytes: number }>> {
  const out: Array<{ folder: string; messages: number; bytes: number }> = [];
  for (const mb of await m.store.listMailboxes(userId)) {
    const w: Writer = format === 'mbox' ? await openMboxWriter(mboxFileOf(dir, mb.name)) : await openMaildirWriter(dir, mb.name);
    progress.folderStart(mb.name, mb.messages, mb.size);
    const row = { folder: mb.name, messages: 0, bytes: 0 };
    try {
      for await (const msg of mailboxMessages(m, mb)) {
        await w.add(msg.raw, msg.flags, msg.internalDate, msg.from);
        row.messages++;
        row.bytes += msg.raw.length;
        progress.advance(1, msg.raw.length);
      }
    } finally {
      await w.close();
    }
    progress.folderEnd();
    out.push(row);
  }
  return out;
}

export function register(program: Command): void {
  program
    .command('export <user> <dir>')
    .description("write every folder of a user's mail to DIR as Maildir++ or mbox files, flags kept")
    .requiredOption('--format <format>', 'maildir or mbox')
    .option('--quiet', 'no progress output')
    .action(async (address: string, dirArg: string, o: { format: string; quiet?: boolean }, cmd: Command) => {
      if (o.format !== 'maildir' && o.format !== 'mbox') throw new CliError('--format is maildir or mbox');
      const dir = resolve(dirArg);
      // an export never mixes with files already there (a second Maildir export would double every message)
      if (existsSync(dir) && readdirSync(dir).length > 0) throw new CliError(`${dir} is not empty`);
      await withMailDb(cmd, async (m) => {
        const user = await m.accounts.findUser(address);
        if (!user) throw new CliError(`no user ${address}`);
        const progress = progressFor(o.quiet);
        const rows = await exportUser(m, user.id, o.format as 'maildir' | 'mbox', dir, progress);
        progress.stop();
        printRows(
          rows.map((r) => ({ ...r, size: formatBytes(r.bytes) })),
          ['folder', 'messages', 'size'],
          false,
        );
      });
    });
}
