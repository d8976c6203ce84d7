/**
 * `postern backup [--to FILE]`: one file with mail.db, queue.db, the DKIM and TLS keys and the
 * config, taken while the stack runs (core's backup.ts says how it stays consistent), optionally
 * encrypted with a passphrase. `postern restore FILE`: everything back into an empty data
 * directory, verified before use, UIDVALIDITY and UIDs as they were. `postern restore FILE
 * --user U [--folder F] [--since DATE] [--search TEXT]`: selected messages back into a live
 * mailbox, through the import path (resumable, nothing twice, a message still there left alone).
 *
 * `[backup] every` makes `postern start` run `postern backup --scheduled` on a timer; a
 * scheduled backup goes to `[backup] dir` and only the newest `[backup] keep` are kept.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import {
  BackupError,
  backupIsEncrypted,
  createBackup,
  extractBackup,
  loadConfig,
  openMailDb,
  restoreBackup,
  type BackupManifest,
  type Config,
  type MailDb,
} from '@postern/core';
import { CliError, configFileOf, configOf, printRows, withMailDb } from '../context.js';
import { runImport, BATCH_MESSAGES, type FolderPlan, type ImportSource, type SourceFolder, type SourceMessage } from '../import/engine.js';
import { askHidden } from '../password-input.js';
import { bytesProgress, formatBytes, progressFor } from '../progress.js';

/** The passphrase: --passphrase-file, $POSTERN_BACKUP_PASSPHRASE, or a prompt (twice when it encrypts). */
async function passphraseOf(o: { passphraseFile?: string }, confirm: boolean): Promise<string> {
  if (o.passphraseFile) {
    const text = (await readFile(resolve(o.passphraseFile), 'utf8')).split(/\r?\n/)[0] ?? '';
    if (text === '') throw new CliError(`${o.passphraseFile}: the first line is empty`);
    return text;
  }
  const env = process.env['POSTERN_BACKUP_PASSPHRASE'];
  if (env !== undefined && env !== '') return env;
  if (!process.stdin.isTTY) throw new CliError('no terminal to ask for the passphrase: use --passphrase-file FILE or $POSTERN_BACKUP_PASSPHRASE');
  const first = await askHidden('Backup passphrase: ');
  if (confirm) {
    if (first.length < 8) throw new CliError('a passphrase has at least 8 characters');
    if ((await askHidden('Again: ')) !== first) throw new CliError('the two passphrases differ');
  }
  return first;
}

function stamp(d = new Date()): string {
  return d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

const BACKUP_NAME = /^postern-\d{8}T\d{6}Z\.tar\.gz(\.enc)?$/;

async function pruneScheduled(config: Config): Promise<string[]> {
  const names = (await readdir(config.backup.dir)).filter((n) => BACKUP_NAME.test(n)).sort();
  const drop = names.slice(0, Math.max(0, names.length - config.backup.keep));
  for (const n of drop) await rm(join(config.backup.dir, n), { force: true });
  return drop;
}

/** The messages of a user in a restored mail.db, as an import source (filters applied). */
function backupSource(b: MailDb, userId: number, manifest: BackupManifest, filter: { folder?: string; since?: number; search?: string }): ImportSource {
  const needle = filter.search?.toLowerCase();
  const matches = async (msg: Awaited<ReturnType<MailDb['store']['messages']>>[number]): Promise<boolean> => {
    if (filter.since !== undefined && msg.internalDate < filter.since) return false;
    if (!needle) return true;
    const c = await b.store.content(msg.contentId);
    if (c && [c.subject, c.from, c.to, c.cc].some((t) => t.toLowerCase().includes(needle))) return true;
    return (await b.store.read(msg)).toString('utf8').toLowerCase().includes(needle);
  };
  return {
    id: `backup:${manifest.host}:${manifest.created}`,
    async folders(): Promise<SourceFolder[]> {
      const boxes = (await b.store.listMailboxes(userId)).filter(
        (mb) =>
          !filter.folder ||
          mb.name === filter.folder ||
          mb.name.startsWith(`${filter.folder}/`) ||
          (filter.folder.toUpperCase() === 'INBOX' && mb.name === 'INBOX'),
      );
      return boxes.map((mb) => ({
        sourceName: mb.name,
        name: mb.name,
        specialUse: mb.specialUse,
        validity: mb.uidValidity,
        skipPresent: true,
        async plan(after: string | null): Promise<FolderPlan> {
          // the UIDs that match, first (small), then the messages a batch at a time
          const uids: number[] = [];
          let bytes = 0;
          for (let next = after === null ? 1 : Number(after) + 1; ; ) {
            const page = await b.store.messages(mb.id, next, 0xffffffff, 500);
            if (page.length === 0) break;
            for (const msg of page) {
              if (await matches(msg)) {
                uids.push(msg.uid);
                bytes += msg.size;
              }
            }
            next = page[page.length - 1]!.uid + 1;
          }
          return {
            count: uids.length,
            bytes,
            async *batches() {
              for (let i = 0; i < uids.length; i += BATCH_MESSAGES) {
                const out: SourceMessage[] = [];
                for (const uid of uids.slice(i, i + BATCH_MESSAGES)) {
                  const msg = await b.store.message(mb.id, uid);
                  if (!msg) continue;
                  out.push({
                    prefix: await b.store.read(msg, 0, msg.prefixLength),
                    raw: await b.store.read(msg, msg.prefixLength),
                    flags: msg.flags,
                    internalDate: msg.internalDate,
                    position: String(uid),
                  });
                }
                yield out;
              }
            },
          };
        },
      }));
    },
    close: async () => {},
  };
}

interface RestoreFlags {
  passphraseFile?: string;
  user?: string;
  folder?: string;
  since?: string;
  search?: string;
  dryRun?: boolean;
  quiet?: boolean;
}

async function selectiveRestore(file: string, o: RestoreFlags, cmd: Command): Promise<void> {
  const config = configOf(cmd);
  const since = o.since === undefined ? undefined : Date.parse(o.since);
  if (since !== undefined && !Number.isFinite(since)) throw new CliError(`--since ${o.since}: not a date (2026-03-01, 2026-03-01T12:00Z)`);
  const encrypted = await backupIsEncrypted(file);
  await mkdir(config.dataDir, { recursive: true });
  const progress = bytesProgress(o.quiet ?? false, 'reading and verifying');
  const staged = await extractBackup(file, config.dataDir, encrypted ? await passphraseOf(o, false) : undefined, progress.tick);
  progress.end();
  try {
    const b = openMailDb({ dataDir: staged.dir, limits: config.limits });
    try {
      const backupUser = await b.accounts.findUser(o.user!);
      if (!backupUser) throw new CliError(`the backup of ${staged.manifest.created} has no user ${o.user}`);
      await withMailDb(cmd, async (m) => {
        const user = await m.accounts.findUser(o.user!);
        if (!user) throw new CliError(`no local user ${o.user} (a full restore brings back accounts too)`);
        const source = backupSource(b, backupUser.id, staged.manifest, {
          ...(o.folder ? { folder: o.folder } : {}),
          ...(since !== undefined ? { since } : {}),
          ...(o.search ? { search: o.search } : {}),
        });
        const folders = await source.folders();
        if (o.folder && folders.length === 0) throw new CliError(`the backup has no folder ${o.folder} for ${o.user}`);
        const results = await runImport(m, user.id, source, { dryRun: o.dryRun ?? false, progress: progressFor(o.quiet) });
        printRows(
          results
            .filter((r) => r.messages > 0 || r.alreadyThere > 0)
            .map((r) => ({ folder: r.target, restored: r.messages, size: formatBytes(r.bytes), still_there: r.alreadyThere })),
          ['folder', 'restored', 'size', 'still_there'],
          false,
        );
        const total = results.reduce((n, r) => n + r.messages, 0);
        process.stdout.write(`${o.dryRun ? 'would restore' : 'restored'} ${total} messages for ${o.user} from the backup of ${staged.manifest.created}\n`);
      });
    } finally {
      b.close();
    }
  } finally {
    await staged.remove();
  }
}

export function register(program: Command): void {
  program
    .command('backup')
    .description('one file with mail.db, queue.db, DKIM and TLS keys and the config, taken while Postern runs')
    .option('--to <file>', 'the backup file (default: [backup] dir/postern-TIME.tar.gz)')
    .option('--encrypt', 'encrypt with a passphrase (AES-256-GCM, scrypt); asked for, or --passphrase-file')
    .option('--passphrase-file <file>', 'the passphrase, first line of FILE (implies --encrypt)')
    .option('--scheduled', 'what `postern start` runs: [backup] dir, its passphrase_file, and only the newest [backup] keep kept')
    .option('--quiet', 'no progress output')
    .action(async (o: { to?: string; encrypt?: boolean; passphraseFile?: string; scheduled?: boolean; quiet?: boolean }, cmd: Command) => {
      const config = configOf(cmd);
      if (o.scheduled && config.backup.passphrase_file && !o.passphraseFile) o.passphraseFile = config.backup.passphrase_file;
      const encrypt = o.encrypt || !!o.passphraseFile;
      const passphrase = encrypt ? await passphraseOf(o, true) : undefined;
      const file = resolve(o.to ?? join(config.backup.dir, `postern-${stamp()}.tar.gz${encrypt ? '.enc' : ''}`));
      if (existsSync(file)) throw new CliError(`${file} exists`);
      await mkdir(join(file, '..'), { recursive: true });
      const progress = bytesProgress(o.quiet ?? false, 'backup');
      let manifest: BackupManifest;
      try {
        manifest = await createBackup({ config, file, ...(passphrase ? { passphrase } : {}), progress: progress.tick });
      } catch (err) {
        if (err instanceof BackupError) throw new CliError(err.message);
        throw err;
      } finally {
        progress.end();
      }
      const size = manifest.entries.reduce((n, e) => n + e.size, 0);
      process.stdout.write(`${file}\n  ${manifest.entries.length} files, ${formatBytes(size)} before compression${encrypt ? ', encrypted' : ''}\n`);
      if (o.scheduled) for (const gone of await pruneScheduled(config)) process.stdout.write(`  removed the older ${gone}\n`);
    });

  program
    .command('restore <file>')
    .description('everything from a backup into an empty data directory, or (--user) selected messages into a live mailbox')
    .option('--passphrase-file <file>', 'the passphrase of an encrypted backup (else $POSTERN_BACKUP_PASSPHRASE or a prompt)')
    .option('--user <address>', 'put this user’s messages back into their live mailbox')
    .option('--folder <name>', 'with --user: only this folder (and its children)')
    .option('--since <date>', 'with --user: only messages that arrived on or after DATE')
    .option('--search <text>', 'with --user: only messages whose headers or text contain TEXT')
    .option('--dry-run', 'with --user: list what would come back')
    .option('--quiet', 'no progress output')
    .action(async (fileArg: string, o: RestoreFlags, cmd: Command) => {
      const file = resolve(fileArg);
      if (!existsSync(file)) throw new CliError(`${file}: no such file`);
      try {
        if (o.user) return await selectiveRestore(file, o, cmd);
        if (o.folder || o.since || o.search) throw new CliError('--folder, --since and --search select messages of one --user');
        const passphrase = (await backupIsEncrypted(file)) ? await passphraseOf(o, false) : undefined;
        const progress = bytesProgress(o.quiet ?? false, 'reading and verifying');
        const r = await restoreBackup(file, configFileOf(cmd), loadConfig, passphrase, progress.tick).finally(() => progress.end());
        process.stdout.write(
          `restored the backup of ${r.manifest.created} (${r.manifest.host}), verified: every file's SHA-256 and each database's integrity check ok\n` +
            (r.configWritten ? `  wrote the config ${configFileOf(cmd)}\n` : '') +
            r.restored.map((p) => `  restored ${p}\n`).join('') +
            r.kept.map((p) => `  kept the existing ${p}\n`).join('') +
            '  run `postern start`\n',
        );
      } catch (err) {
        if (err instanceof BackupError) throw new CliError(err.message);
        throw err;
      }
    });
}

/**
 * `postern start`'s schedule: `postern backup --scheduled` every `[backup] every`, as a child
 * process (a backup's database copy would otherwise hold the supervisor's event loop). Returns
 * a stop function, or null when no schedule is configured.
 */
export function scheduleBackups(config: Config, say: (line: string) => void): (() => void) | null {
  if (!config.backup.every) return null;
  const bin = fileURLToPath(new URL('../main.js', import.meta.url));
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    const child = spawn(process.execPath, [bin, '--config', config.file, 'backup', '--scheduled', '--quiet'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.on('exit', (code) => {
      running = false;
      say(code === 0 ? `backup: ${out.split('\n')[0]}` : `backup failed (exit ${code}): ${out.trim().split('\n').pop() ?? ''}`);
    });
  }, config.backup.every);
  timer.unref();
  return () => clearInterval(timer);
}
