/**
 * `postern import SOURCE --user ADDRESS`: moves old mail in. SOURCE is
 * `imap://USER@HOST[:PORT]` (TLS: implicit on 993, the default, else STARTTLS required),
 * `mbox:FILE` or `mbox:DIR` (a tree of *.mbox files), or `maildir:DIR` (Dovecot's and Courier's
 * Maildir++ layout, or Dovecot's LAYOUT=fs). Interrupted at any moment, the same command goes on
 * where it stopped, without a duplicate (import/engine.ts).
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { CliError, printRows, readAll, withMailDb } from '../context.js';
import { runImport, type ImportSource } from '../import/engine.js';
import { openImapSource } from '../import/imap-source.js';
import { openMaildirSource } from '../import/maildir.js';
import { openMboxSource } from '../import/mbox.js';
import { askHidden } from '../password-input.js';
import { formatBytes, progressFor } from '../progress.js';

interface ImportFlags {
  user?: string;
  folders?: string;
  folder?: string;
  dryRun?: boolean;
  passwordStdin?: boolean;
  tls?: string;
  insecure?: boolean;
  restart?: boolean;
  quiet?: boolean;
  json?: boolean;
}

async function password(fromStdin: boolean): Promise<string> {
  if (fromStdin) {
    const pw = (await readAll(process.stdin, 4096)).toString('utf8').split(/\r?\n/)[0] ?? '';
    if (pw === '') throw new CliError('no password on standard input');
    return pw;
  }
  if (process.env['POSTERN_IMPORT_PASSWORD'] !== undefined) return process.env['POSTERN_IMPORT_PASSWORD'];
  if (!process.stdin.isTTY) throw new CliError('no terminal to ask for the source password: use --password-stdin');
  return askHidden('Password at the source: ');
}

/** The source named on the command line, and the source's user (imap://USER@...) if any. */
export async function openSource(spec: string, o: ImportFlags): Promise<{ source: ImportSource; sourceUser: string | null }> {
  if (spec.startsWith('mbox:')) return { source: await openMboxSource(resolve(spec.slice(5)), o.folder ?? null), sourceUser: null };
  if (spec.startsWith('maildir:')) return { source: await openMaildirSource(resolve(spec.slice(8))), sourceUser: null };
  let url: URL;
  try {
    url = new URL(spec);
  } catch {
    throw new CliError(`${spec}: not a source (imap://USER@HOST[:PORT], mbox:FILE, maildir:DIR)`);
  }
  if (url.protocol !== 'imap:' && url.protocol !== 'imaps:') throw new CliError(`${spec}: unknown source kind ${url.protocol}`);
  const user = decodeURIComponent(url.username);
  if (!user) throw new CliError(`${spec}: the source needs a user: imap://USER@HOST`);
  const port = url.port ? Number(url.port) : 993;
  const tls = (o.tls ?? (port === 993 || url.protocol === 'imaps:' ? 'implicit' : 'starttls')) as 'implicit' | 'starttls' | 'none';
  if (!['implicit', 'starttls', 'none'].includes(tls)) throw new CliError('--tls is implicit, starttls or none');
  const pass = url.password ? decodeURIComponent(url.password) : await password(o.passwordStdin ?? false);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  try {
    return { source: await openImapSource({ host, port, user, password: pass, tls, insecure: o.insecure ?? false }), sourceUser: user };
  } catch (err) {
    const e = err as Error & { responseText?: string; authenticationFailed?: boolean };
    throw new CliError(`${host}:${port}: ${e.authenticationFailed ? 'the source refused the login' : (e.responseText ?? e.message)}`);
  }
}

export function register(program: Command): void {
  program
    .command('import <source>')
    .description('copy mail in from an IMAP server (imap://USER@HOST[:PORT]), an mbox (mbox:FILE|DIR) or a Maildir (maildir:DIR); resumable')
    .option('--user <address>', 'the local user to import into (default: the source user, when local)')
    .option('--folders <list>', 'only these source folders (comma-separated; a parent includes its children)')
    .option('--folder <name>', 'mbox:FILE only: the folder to import into (default INBOX)')
    .option('--dry-run', 'list what would move, move nothing')
    .option('--password-stdin', 'read the source password from standard input (else a prompt, or $POSTERN_IMPORT_PASSWORD)')
    .option('--tls <mode>', 'implicit, starttls or none (default: implicit on port 993, else starttls)')
    .option('--insecure', "accept the source's certificate without checking it")
    .option('--restart', 'forget where an earlier import of this source stopped (messages already here are still not stored twice)')
    .option('--quiet', 'no progress output')
    .option('--json', 'print the summary as JSON')
    .action(async (spec: string, o: ImportFlags, cmd: Command) => {
      const { source, sourceUser } = await openSource(spec, o);
      let stopping = false;
      const onSigint = (): void => {
        if (stopping) process.exit(130);
        stopping = true;
        process.stderr.write('\nstopping after this batch (Ctrl-C again to stop now; either way, run the same command to go on)\n');
      };
      process.on('SIGINT', onSigint);
      const progress = progressFor(o.quiet);
      try {
        await withMailDb(cmd, async (m) => {
          const address = o.user ?? sourceUser;
          if (!address) throw new CliError('--user ADDRESS: which local user gets the mail');
          const user = await m.accounts.findUser(address);
          if (!user) throw new CliError(`no local user ${address}${o.user ? '' : ' (name one with --user)'}`);
          if (o.restart) await m.imports.forget(user.id, source.id);
          const started = Date.now();
          const results = await runImport(m, user.id, source, {
            folders: o.folders ? o.folders.split(',').map((f) => f.trim()) : [],
            dryRun: o.dryRun ?? false,
            progress,
            stopping: () => stopping,
          });
          progress.stop();
          const total = results.reduce((n, r) => n + r.messages, 0);
          const bytes = results.reduce((n, r) => n + r.bytes, 0);
          const seconds = (Date.now() - started) / 1000;
          if (o.json) {
            printRows(results as unknown as Array<Record<string, unknown>>, [], true);
          } else {
            printRows(
              results.map((r) => ({ folder: r.folder, into: r.target, messages: r.messages, size: formatBytes(r.bytes), already: r.alreadyThere })),
              ['folder', 'into', 'messages', 'size', 'already'],
              false,
            );
            process.stdout.write(
              o.dryRun
                ? `would import ${total} messages (${formatBytes(bytes)})\n`
                : `imported ${total} messages (${formatBytes(bytes)}) in ${seconds.toFixed(1)} s${stopping ? '; interrupted: run the same command to go on' : ''}\n`,
            );
          }
          if (stopping) process.exitCode = 130;
        });
      } catch (err) {
        // a connection the source dropped, or a command it refused: one line, and the way on
        const e = err as Error & { code?: string; responseText?: string };
        if (
          !(err instanceof CliError) &&
          (e.code === 'NoConnection' ||
            e.code === 'EConnectionClosed' ||
            e.code === 'StateLogout' ||
            e.code === 'ETIMEOUT' ||
            e.code === 'ECONNRESET' ||
            e.responseText !== undefined)
        ) {
          throw new CliError(`the source: ${e.responseText ?? e.message}; what was stored stays, run the same command to go on`);
        }
        throw err;
      } finally {
        process.off('SIGINT', onSigint);
        await source.close();
      }
    });
}
