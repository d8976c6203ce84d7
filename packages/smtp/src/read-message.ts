/**
 * Reads a DATA stream (already dot-unstuffed by smtp-server) into one Buffer, and checks the
 * limits that need the bytes: size (RFC 1870, `552 5.3.4`) and line length (RFC 5321
 * §4.5.3.1.6 allows 1000 octets; we allow `limits.line_length`).

 */
import type { SMTPServerDataStream } from 'smtp-server';
import { SmtpReply } from './reply.js';

export async function readMessage(stream: SMTPServerDataStream, maxSize: number, maxLine: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const b = chunk as Buffer;
    size += b.length;
    // keep reading (smtp-server needs the stream drained) but stop keeping bytes
    if (size <= maxSize) chunks.push(b);
  }
  if (stream.sizeExceeded || size > maxSize) {
    throw new SmtpReply(552, '5.3.4', `Message exceeds fixed maximum message size ${maxSize}`);
  }
  const data = Buffer.concat(chunks, size);
  if (Number.isFinite(maxLine) && longestLine(data) > maxLine) throw new SmtpReply(552, '5.3.4', `Message has a line longer than ${maxLine} octets`);
  return data;
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
