/**
 * The spool: `<data_dir>/spool/`, where messages and IMAP literals too large to keep in memory
 * wait while they arrive (limits.data_in_flight caps the bytes in flight; the spool keeps them
 * out of memory). Files are named `<pid>-<uuid>`: the MX, submission and the delivery agent share
 * the folder, and `cleanSpool` removes only the files of processes that no longer run.
 */
import { randomUUID } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** A fresh spool file name (the folder is made when missing). */
export function makeSpoolPath(dataDir: string): string {
  const dir = join(dataDir, 'spool');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return join(dir, `${process.pid}-${randomUUID()}`);
}

/**
 * One spool file written synchronously, for a caller that is itself synchronous (the IMAP
 * framer). Writes go to the page cache, so each costs about a memory copy; nothing is fsynced:
 * the file only bridges the transfer, the store commits the message.
 */
export class SyncSpoolFile {
  private readonly path: string;
  private fd: number | null;

  constructor(dataDir: string) {
    this.path = makeSpoolPath(dataDir);
    this.fd = openSync(this.path, 'wx', 0o600);
  }

  write(piece: Buffer): void {
    if (this.fd === null) throw new Error('spool file closed');
    let done = 0;
    while (done < piece.length) done += writeSync(this.fd, piece, done, piece.length - done);
  }

  /** Everything written, read back; the file is removed. */
  finish(): Buffer {
    this.close();
    try {
      return readFileSync(this.path);
    } finally {
      rmSync(this.path, { force: true });
    }
  }

  discard(): void {
    this.close();
    rmSync(this.path, { force: true });
  }

  private close(): void {
    if (this.fd === null) return;
    const fd = this.fd;
    this.fd = null;
    closeSync(fd);
  }
}

/** Removes spool files of processes that no longer run. Called once when an app starts. */
export function cleanSpool(dataDir: string): void {
  const dir = join(dataDir, 'spool');
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const pid = Number(/^(\d+)-/.exec(name)?.[1]);
    if (Number.isInteger(pid) && pid !== process.pid && alive(pid)) continue;
    rmSync(join(dir, name), { force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it runs, as another user
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
