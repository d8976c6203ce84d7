/**
 * Byte-level helpers. Every offset in this package is an index into the raw message Buffer;
 * nothing here turns a whole message into a JS string.
 */
export { CR, LF, SP, TAB } from '@postern/header';
import { CR, LF } from '@postern/header';

/** Length of the line terminator (CRLF = 2, LF = 1, none = 0) that ends just before `pos`. */
export function eolLengthBefore(raw: Buffer, pos: number, floor: number): number {
  if (pos - 1 < floor || raw[pos - 1] !== LF) return 0;
  return pos - 2 >= floor && raw[pos - 2] === CR ? 2 : 1;
}

/** Position just past the end of the line containing `pos` (after its LF), or `end`. */
export function lineEndAfter(raw: Buffer, pos: number, end: number): number {
  const lf = raw.indexOf(LF, pos);
  return lf === -1 || lf >= end ? end : lf + 1;
}

/** Number of LF octets in raw[start, end): the line count IMAP reports (RFC 9051 §7.5.2 body-fld-lines). */
export function countLines(raw: Buffer, start: number, end: number): number {
  let n = 0;
  let p = raw.indexOf(LF, start);
  while (p !== -1 && p < end) {
    n++;
    p = raw.indexOf(LF, p + 1);
  }
  return n;
}
