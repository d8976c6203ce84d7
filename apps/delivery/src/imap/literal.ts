/**
 * Literals produced on demand. A FETCH item larger than STREAM_MIN is not read into one Buffer:
 * it becomes a LiteralSource whose length is known up front (the `{n}` must precede the bytes,
 * RFC 9051 §4.3) and whose bytes come chunk by chunk from the store while the socket drains.
 * Sources that transform bytes (BINARY decoding, HEADER.FIELDS selection) learn their length by
 * a first pass over the same chunks: twice the reading, never the whole message in memory.
 */

/** Sections up to this size are read whole (one query, one write); larger ones stream. */
export const STREAM_MIN = 64 * 1024;

export interface LiteralSource {
  readonly length: number;
  /** Sent as literal8 `~{n}` (RFC 3516 §4.3: BINARY data holding NUL). */
  readonly binary: boolean;
  /** The bytes, in order; may be called once per pass. Yields exactly `length` bytes. */
  chunks(): Iterable<Buffer>;
}

/** `length` bytes starting at `offset` of a chunk sequence (FETCH `<offset.length>` partials). */
export function* sliceChunks(chunks: Iterable<Buffer>, offset: number, length: number): Generator<Buffer> {
  if (length <= 0) return;
  let pos = 0;
  const end = offset + length;
  for (const c of chunks) {
    const next = pos + c.length;
    if (next > offset) {
      const from = Math.max(0, offset - pos);
      const to = Math.min(c.length, end - pos);
      if (to > from) yield from === 0 && to === c.length ? c : c.subarray(from, to);
    }
    pos = next;
    if (pos >= end) return;
  }
}

/** Length of a chunk sequence and whether it holds a NUL (literal8 needed for BINARY). */
export function measure(chunks: Iterable<Buffer>): { length: number; hasNul: boolean } {
  let length = 0;
  let hasNul = false;
  for (const c of chunks) {
    length += c.length;
    if (!hasNul && c.includes(0)) hasNul = true;
  }
  return { length, hasNul };
}

/** A chunk sequence joined (for data known to be small). */
export function collect(chunks: Iterable<Buffer>): Buffer {
  const list = [...chunks];
  return list.length === 1 ? (list[0] as Buffer) : Buffer.concat(list);
}
