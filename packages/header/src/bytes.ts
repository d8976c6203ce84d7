/** The octets header syntax is made of (RFC 5322 §2.2), and header bytes as text. */
import { isUtf8 } from 'node:buffer';

export const LF = 0x0a;
export const CR = 0x0d;
export const SP = 0x20;
export const TAB = 0x09;
export const COLON = 0x3a;

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
