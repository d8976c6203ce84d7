/**
 * Maildir in and out. In: Maildir++ (Dovecot's default and Courier's: INBOX at the root,
 * ".A.B" directories for "A/B", names in modified UTF-7) and Dovecot's LAYOUT=fs (nested
 * directories). Flags from the ":2," letters, keywords from dovecot-keywords, INTERNALDATE from
 * the file's mtime (as Dovecot reads it). Out: Maildir++ as Dovecot reads it without settings,
 * "." inside a name written in modified UTF-7 so it cannot split the name.
 *
 * Order and resume: a folder's messages go in UID order where Dovecot's dovecot-uidlist gives one,
 * then in the order of their unique names (the part before ":", which starts with the delivery
 * time); the position is "0:<uid>" or "1:<name>", so one string order covers both, and the
 * marker is the last position stored.
 */
import { existsSync, type Dirent } from 'node:fs';
import { mkdir, readdir, readFile, rename, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { BATCH_BYTES, BATCH_MESSAGES, type FolderPlan, type ImportSource, type SourceFolder, type SourceMessage } from './engine.js';
import { maildirFlags, maildirInfo, parseDovecotKeywords, toCrlf } from './mailfiles.js';
import { decodeMutf7, encodeMutf7 } from './mutf7.js';

const SKIP_DIRS = new Set(['cur', 'new', 'tmp', 'courierimapkeywords', 'courierimaphieracl', 'courierimapacl']);

const baseOf = (file: string): string => {
  const i = file.indexOf(':');
  return i < 0 ? file : file.slice(0, i);
};

/** dovecot-uidlist (version 3): "uid [key:value...] :name" after a header line; name -> uid. */
export function parseDovecotUidlist(text: string): Map<string, number> {
  const out = new Map<string, number>();
  const lines = text.split('\n');
  for (const line of lines.slice(1)) {
    const m = /^(\d+)(?: [^:]*)? :(.+)$/.exec(line) ?? /^(\d+) (?:\S+ )*?([^ :]+)$/.exec(line);
    if (m) out.set(baseOf(m[2]!), Number(m[1]));
  }
  return out;
}

function maildirFolder(dir: string, name: string, sourceName: string): SourceFolder {
  return {
    sourceName,
    name,
    specialUse: null,
    validity: 0,
    async plan(after: string | null): Promise<FolderPlan> {
      const keywordsFile = join(dir, 'dovecot-keywords');
      const keywords = existsSync(keywordsFile) ? parseDovecotKeywords(await readFile(keywordsFile, 'utf8')) : [];
      const uidlistFile = join(dir, 'dovecot-uidlist');
      const uids = existsSync(uidlistFile) ? parseDovecotUidlist(await readFile(uidlistFile, 'utf8')) : new Map<string, number>();
      const files: Array<{ path: string; base: string; flags: string[]; size: number }> = [];
      for (const sub of ['cur', 'new']) {
        const names = existsSync(join(dir, sub)) ? await readdir(join(dir, sub)) : [];
        for (const f of names) {
          if (f.startsWith('.')) continue;
          const uid = uids.get(baseOf(f));
          const base = uid !== undefined ? `0:${String(uid).padStart(10, '0')}` : `1:${baseOf(f)}`;
          if (after !== null && base <= after) continue;
          const path = join(dir, sub, f);
          files.push({ path, base, flags: sub === 'cur' ? maildirFlags(f, keywords) : [], size: (await stat(path)).size });
        }
      }
      files.sort((a, b) => (a.base < b.base ? -1 : a.base > b.base ? 1 : 0));
      return {
        count: files.length,
        bytes: files.reduce((n, f) => n + f.size, 0),
        async *batches() {
          let batch: SourceMessage[] = [];
          let bytes = 0;
          for (const f of files) {
            let raw: Buffer;
            let mtime: number;
            try {
              raw = await readFile(f.path);
              mtime = (await stat(f.path)).mtimeMs;
            } catch (err) {
              // moved or expunged by the mail server while we read: a message that is not there
              if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
              throw err;
            }
            batch.push({ raw: toCrlf(raw), flags: f.flags, internalDate: Math.floor(mtime / 1000) * 1000, position: f.base });
            bytes += raw.length;
            if (batch.length >= BATCH_MESSAGES || bytes >= BATCH_BYTES) {
              yield batch;
              batch = [];
              bytes = 0;
            }
          }
          if (batch.length) yield batch;
        },
      };
    },
  };
}

const isMaildir = (dir: string): boolean => existsSync(join(dir, 'cur'));

export async function openMaildirSource(root: string): Promise<ImportSource> {
  if (!(await stat(root)).isDirectory()) throw new Error(`${root} is not a directory`);
  const found: SourceFolder[] = [];
  if (isMaildir(root)) found.push(maildirFolder(root, 'INBOX', 'INBOX'));
  const entries: Dirent[] = await readdir(root, { withFileTypes: true });
  const plusPlus = entries.filter((d) => d.isDirectory() && d.name.startsWith('.') && d.name !== '.' && d.name !== '..' && isMaildir(join(root, d.name)));
  if (plusPlus.length > 0) {
    for (const d of plusPlus.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      // Courier names folders "INBOX.X" in IMAP but ".X" on disk, as Dovecot does
      const levels = d.name.slice(1).split('.').map(decodeMutf7);
      const name = levels.join('/');
      found.push(maildirFolder(join(root, d.name), name.toUpperCase() === 'INBOX' ? 'INBOX' : name, d.name));
    }
  } else {
    // LAYOUT=fs: folders are nested directories
    const walk = async (dir: string, levels: string[]): Promise<void> => {
      for (const d of (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
        if (!d.isDirectory() || SKIP_DIRS.has(d.name) || d.name.startsWith('.')) continue;
        const full = join(dir, d.name);
        const next = [...levels, decodeMutf7(d.name)];
        if (isMaildir(full)) found.push(maildirFolder(full, next.join('/'), next.join('/')));
        await walk(full, next);
      }
    };
    await walk(root, []);
  }
  return { id: `maildir:${root}`, folders: async () => found, close: async () => {} };
}

/** The Maildir++ directory of a folder under `root`. */
export function maildirOf(root: string, folder: string): string {
  if (folder === 'INBOX') return root;
  return join(
    root,
    `.${folder
      .split('/')
      .map((level) => encodeMutf7(level, '.'))
      .join('.')}`,
  );
}

let sequence = 0;

/** A folder being written: each message to tmp/, then renamed into cur/ (the Maildir protocol). */
export async function openMaildirWriter(
  root: string,
  folder: string,
): Promise<{ add(raw: Buffer, flags: readonly string[], internalDate: number): Promise<void>; close(): Promise<void> }> {
  const dir = maildirOf(root, folder);
  for (const sub of ['cur', 'new', 'tmp']) await mkdir(join(dir, sub), { recursive: true });
  if (folder !== 'INBOX') await writeFile(join(dir, 'maildirfolder'), '');
  const keywordsFile = join(dir, 'dovecot-keywords');
  const keywords = existsSync(keywordsFile) ? parseDovecotKeywords(await readFile(keywordsFile, 'utf8')) : [];
  const host = hostname().replace(/[/:]/g, '_');
  return {
    async add(raw, flags, internalDate) {
      const seconds = Math.floor(internalDate / 1000);
      // fixed widths, so the names sort in the order written (the importer's order without a uidlist)
      const unique = `${seconds}.M${String(internalDate % 1000).padStart(3, '0')}P${process.pid}Q${String(++sequence).padStart(9, '0')}.${host},S=${raw.length}`;
      const tmp = join(dir, 'tmp', unique);
      await writeFile(tmp, raw);
      await utimes(tmp, seconds, seconds);
      await rename(tmp, join(dir, 'cur', `${unique}${maildirInfo(flags, keywords)}`));
    },
    async close() {
      if (keywords.length > 0) await writeFile(keywordsFile, keywords.map((k, i) => `${i} ${k}\n`).join(''));
    },
  };
}
