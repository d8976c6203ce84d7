/**
 * mbox in and out (mboxrd: a "From " line starts each message, body lines matching /^>*From /
 * get one more ">" on the way out and lose one on the way in, so any content goes round intact).
 *
 * In: `mbox:FILE` is one folder; `mbox:DIR` is a tree, each file a folder named by its path
 * (a ".mbox" suffix dropped, Thunderbird's "X.sbd/" directories read as "X/"). Flags come from
 * the Status / X-Status / X-Keywords fields mutt and Dovecot write; those fields are taken out
 * of the stored message, as Dovecot does. Read as a stream: memory is one batch.
 * Out: one "<folder>.mbox" per folder, CRLF kept as stored, so an export read back in gives
 * the same bytes and flags.
 */
import { createReadStream, createWriteStream, type Dirent } from 'node:fs';
import { mkdir, readdir, stat } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { BATCH_BYTES, BATCH_MESSAGES, type FolderPlan, type ImportSource, type SourceFolder, type SourceMessage } from './engine.js';
import { asctime, fromLineDate, MBOX_FLAG_FIELDS, mboxFlagFields, mboxFlags, toCrlf } from './mailfiles.js';

const FROM = Buffer.from('From ');

/** Lines of a file, each with its "\n" (the last may lack it). */
async function* lines(file: string): AsyncGenerator<Buffer> {
  let carry: Buffer = Buffer.alloc(0);
  for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) {
    let buf = carry.length ? Buffer.concat([carry, chunk]) : chunk;
    let start = 0;
    for (let nl = buf.indexOf(10, start); nl >= 0; nl = buf.indexOf(10, start)) {
      yield buf.subarray(start, nl + 1);
      start = nl + 1;
    }
    buf = buf.subarray(start);
    // a copy, so the chunk the line came from can go
    carry = Buffer.from(buf);
  }
  if (carry.length) yield carry;
}

const isBlank = (l: Buffer): boolean => (l.length === 1 && l[0] === 10) || (l.length === 2 && l[0] === 13 && l[1] === 10);

/** One mbox message: its From_ line and its lines as they are in the file. */
interface RawEntry {
  fromLine: string;
  lines: Buffer[];
}

async function* entries(file: string): AsyncGenerator<RawEntry> {
  let current: RawEntry | null = null;
  let prevBlank = true;
  for await (const line of lines(file)) {
    if (prevBlank && line.subarray(0, 5).equals(FROM)) {
      if (current) yield current;
      current = { fromLine: line.toString('latin1').trimEnd(), lines: [] };
      prevBlank = false;
      continue;
    }
    prevBlank = isBlank(line);
    // text before the first From_ line is not a message
    if (current) current.lines.push(line);
  }
  if (current) yield current;
}

/** The message of an entry: separator dropped, ">From" unescaped, status fields out (and read). */
export function messageOf(entry: RawEntry): { raw: Buffer; flags: string[]; internalDate: number } {
  const ls = entry.lines;
  if (ls.length && isBlank(ls[ls.length - 1]!)) ls.pop();
  const fields = new Map<string, string>();
  const kept: Buffer[] = [];
  let inHeader = true;
  let skippingField = false;
  for (const l of ls) {
    if (inHeader) {
      if (isBlank(l)) inHeader = false;
      else if ((l[0] === 32 || l[0] === 9) && skippingField) continue;
      else {
        const colon = l.indexOf(58);
        const name = colon > 0 ? l.subarray(0, colon).toString('latin1').toLowerCase() : '';
        skippingField = MBOX_FLAG_FIELDS.includes(name);
        if (skippingField) {
          fields.set(
            name,
            l
              .subarray(colon + 1)
              .toString('latin1')
              .trim(),
          );
          continue;
        }
      }
    }
    // mboxrd: one ">" less on /^>+From /
    let i = 0;
    while (l[i] === 62) i++;
    kept.push(i > 0 && l.subarray(i, i + 5).equals(FROM) ? l.subarray(1) : l);
  }
  const raw = toCrlf(Buffer.concat(kept));
  return { raw, flags: mboxFlags(fields), internalDate: fromLineDate(entry.fromLine) ?? Date.now() };
}

function mboxFolder(file: string, name: string, sourceName: string): SourceFolder {
  return {
    sourceName,
    name,
    specialUse: null,
    validity: 0,
    async plan(after: string | null): Promise<FolderPlan> {
      const skip = after === null ? 0 : Number(after);
      let count = 0;
      // a first pass for the count the progress bar needs: reads, keeps nothing
      for await (const _ of entries(file)) count++;
      const size = (await stat(file)).size;
      return {
        count: Math.max(0, count - skip),
        bytes: count > 0 ? Math.round((size * Math.max(0, count - skip)) / count) : 0,
        async *batches() {
          let n = 0;
          let batch: SourceMessage[] = [];
          let bytes = 0;
          for await (const entry of entries(file)) {
            n++;
            if (n <= skip) continue;
            const msg = messageOf(entry);
            batch.push({ ...msg, position: String(n) });
            bytes += msg.raw.length;
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

async function startsLikeMbox(file: string): Promise<boolean> {
  for await (const line of lines(file)) return line.subarray(0, 5).equals(FROM);
  return true; // empty: an empty folder
}

export async function openMboxSource(path: string, folder: string | null): Promise<ImportSource> {
  const st = await stat(path);
  const id = `mbox:${path}`;
  if (!st.isDirectory()) {
    const name = folder ?? 'INBOX';
    return { id, folders: async () => [mboxFolder(path, name, basename(path))], close: async () => {} };
  }
  const found: SourceFolder[] = [];
  const walk = async (dir: string): Promise<void> => {
    const list: Dirent[] = await readdir(dir, { withFileTypes: true });
    for (const d of list.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (d.name.startsWith('.')) continue;
      const full = join(dir, d.name);
      if (d.isDirectory()) await walk(full);
      else if (d.isFile() && !d.name.endsWith('.msf') && (await startsLikeMbox(full))) {
        const rel = relative(path, full);
        const name = rel
          .replace(/\.mbox$/, '')
          .split('/')
          .map((level) => level.replace(/\.sbd$/, ''))
          .join('/');
        found.push(mboxFolder(full, name.toUpperCase() === 'INBOX' ? 'INBOX' : name, rel));
      }
    }
  };
  await walk(path);
  return { id, folders: async () => found, close: async () => {} };
}

/** A file written with backpressure: memory stays one message whatever the folder's size. */
export class FileWriter {
  private readonly out;
  private failed: Error | null = null;

  constructor(file: string) {
    this.out = createWriteStream(file, { flags: 'w' });
    this.out.on('error', (err) => {
      this.failed = err;
    });
  }

  async write(data: Buffer | string): Promise<void> {
    if (this.failed) throw this.failed;
    if (!this.out.write(data)) await new Promise<void>((r) => this.out.once('drain', r));
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve, reject) => this.out.end((err?: Error | null) => (err ? reject(err) : resolve())));
    if (this.failed) throw this.failed;
  }
}

/** The file a folder is exported to under `dir`. */
export function mboxFileOf(dir: string, folder: string): string {
  return `${join(dir, ...folder.split('/'))}.mbox`;
}

export async function openMboxWriter(
  file: string,
): Promise<{ add(raw: Buffer, flags: readonly string[], internalDate: number, from: string | null): Promise<void>; close(): Promise<void> }> {
  await mkdir(dirname(file), { recursive: true });
  const w = new FileWriter(file);
  return {
    async add(raw, flags, internalDate, from) {
      const eol = raw.includes('\r\n') ? '\r\n' : '\n';
      await w.write(`From ${from && /^\S+$/.test(from) ? from : 'MAILER-DAEMON'} ${asctime(internalDate)}\n`);
      await w.write(mboxFlagFields(flags, eol));
      const parts: Buffer[] = [];
      let start = 0;
      while (start < raw.length) {
        let nl = raw.indexOf(10, start);
        if (nl < 0) nl = raw.length - 1;
        const line = raw.subarray(start, nl + 1);
        let i = 0;
        while (line[i] === 62) i++;
        if (line.subarray(i, i + 5).equals(FROM)) parts.push(Buffer.from('>'));
        parts.push(line);
        start = nl + 1;
      }
      await w.write(Buffer.concat(parts));
      // the blank line before the next From_; a message without a final newline gets one
      await w.write(raw.length && raw[raw.length - 1] === 10 ? '\n' : '\n\n');
    },
    close: () => w.close(),
  };
}
