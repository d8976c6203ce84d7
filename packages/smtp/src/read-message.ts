/**
 * Reads a DATA stream (already dot-unstuffed by smtp-server) and checks the limits that need the
 * bytes: size (RFC 1870, `552 5.3.4`), line length (RFC 5321 §4.5.3.1.6 allows 1000 octets; we
 * allow `limits.line_length`) and the process's bytes in flight (`452 4.3.1` past
 * `limits.data_in_flight`: insufficient system storage, RFC 3463, try again later).
 *
 * A message stays in memory up to SPOOL_AFTER bytes; the rest goes to a file under
 * `<data_dir>/spool/` as it arrives, so a hundred clients halfway through large messages hold
 * disk, not memory. The file is read back once the message is complete and removed at once (also
 * when the transfer fails). The message's bytes stay counted in flight until `release()`: the
 * caller calls it once the message has been handed on (stored, queued or refused). Files a
 * killed process left behind are removed by `cleanSpool` (spool.ts) when an app starts.
 */
import { open, readFile, rm, type FileHandle } from 'node:fs/promises';
import type { SMTPServerDataStream } from 'smtp-server';
import type { ByteBudget } from '@postern/core';
import { SmtpReply } from './reply.js';
import { makeSpoolPath } from './spool.js';

/** Bytes kept in memory before a message goes to the spool. */
export const SPOOL_AFTER = 1024 * 1024;

export interface InFlight {
  budget: ByteBudget;
  /** The data directory; the spool is its `spool/` folder. */
  dataDir: string;
}

export interface ReadMessage {
  data: Buffer;
  /** Gives the message's bytes back to the budget; idempotent. */
  release(): void;
}

export async function readMessage(stream: SMTPServerDataStream, maxSize: number, maxLine: number, flight: InFlight): Promise<ReadMessage> {
  const chunks: Buffer[] = [];
  let size = 0;
  let held = 0;
  let overBudget = false;
  let spool: { path: string; file: FileHandle } | null = null;
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    flight.budget.give(held);
  };
  try {
    for await (const chunk of stream) {
      const b = chunk as Buffer;
      size += b.length;
      // keep reading (smtp-server needs the stream drained) but stop keeping bytes
      if (size > maxSize || overBudget) continue;
      if (!flight.budget.take(b.length)) {
        overBudget = true;
        continue;
      }
      held += b.length;
      if (!spool && size > SPOOL_AFTER) {
        const path = makeSpoolPath(flight.dataDir);
        spool = { path, file: await open(path, 'wx', 0o600) };
        for (const c of chunks.splice(0)) await spool.file.write(c);
      }
      if (spool) await spool.file.write(b);
      else chunks.push(b);
    }
    if (stream.sizeExceeded || size > maxSize) {
      throw new SmtpReply(552, '5.3.4', `Message exceeds fixed maximum message size ${maxSize}`);
    }
    if (overBudget) throw new SmtpReply(452, '4.3.1', 'Insufficient system resources, try again later');
    let data: Buffer;
    if (spool) {
      await spool.file.close();
      data = await readFile(spool.path);
    } else {
      data = Buffer.concat(chunks, size);
    }
    if (Number.isFinite(maxLine) && longestLine(data) > maxLine) throw new SmtpReply(552, '5.3.4', `Message has a line longer than ${maxLine} octets`);
    return { data, release };
  } catch (err) {
    release();
    throw err;
  } finally {
    if (spool) {
      await spool.file.close().catch(() => undefined);
      await rm(spool.path, { force: true });
    }
  }
}

function longestLine(data: Buffer): number {
  let max = 0;
  let start = 0;
  for (;;) {
    const nl = data.indexOf(10, start);
    const end = nl === -1 ? data.length : nl;
    const len = end - start - (end > start && data[end - 1] === 13 ? 1 : 0);
    if (len > max) max = len;
    if (nl === -1) return max;
    start = nl + 1;
  }
}
