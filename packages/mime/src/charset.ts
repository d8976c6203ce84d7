/** Charset handling for decoded text (RFC 2047 words, RFC 2231 values, text bodies). */
import { isUtf8 } from 'node:buffer';
import libmime from 'libmime';
import { decode as decodeCharset } from 'libmime/lib/charset.js';

/**
 * Bytes in `charset` to a JS string. An absent charset, "us-ascii" with 8-bit content, or an
 * unknown one falls back to UTF-8 when the bytes are valid UTF-8, else to windows-1252, which
 * is what undeclared 8-bit mail nearly always is.
 */
export function bytesToText(bytes: Buffer, charset: string | null | undefined): string {
  const cs = (charset ?? '').trim().toLowerCase();
  if (cs === '' || cs === 'us-ascii' || cs === 'ascii' || cs === 'utf-8' || cs === 'utf8') {
    if (isUtf8(bytes)) return bytes.toString('utf8');
    if (cs === 'utf-8' || cs === 'utf8') return bytes.toString('utf8');
    return decodeCharset(bytes, 'windows-1252');
  }
  try {
    return decodeCharset(bytes, cs);
  } catch {
    return isUtf8(bytes) ? bytes.toString('utf8') : decodeCharset(bytes, 'windows-1252');
  }
}

/** RFC 2047 encoded-words decoded; text without any is returned as is. */
export function decodeEncodedWords(text: string): string {
  if (!text.includes('=?')) return text;
  try {
    return libmime.decodeWords(text);
  } catch {
    return text;
  }
}
