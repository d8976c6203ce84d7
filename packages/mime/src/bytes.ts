/**
 * Byte-level helpers. Every offset in this package is an index into the raw message Buffer;
 * nothing here turns a whole message into a JS string.
 */
import { isUtf8 } from 'node:buffer';

export const LF = 0x0a;
export const CR = 0x0d;
export const SP = 0x20;
export const TAB = 0x09;

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

/**
 * Header bytes to a JS string: 7-bit and valid UTF-8 (RFC 6532) decode as UTF-8; anything else is
 * undeclared 8-bit and decodes as Latin-1, so every byte still maps to one visible character.
 * NUL never survives (it is not allowed in IMAP strings): it becomes U+FFFD.
 */
export function headerBytesToString(bytes: Buffer): string {
  let ascii = true;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i]! >= 0x80) {
      ascii = false;
      break;
    }
  }
  const s = ascii ? bytes.toString('latin1') : isUtf8(bytes) ? bytes.toString('utf8') : bytes.toString('latin1');
  return s.includes('\0') ? s.replace(/\0/g, '\ufffd') : s;
}
