/**
 * Content-Transfer-Encoding decoders (RFC 2045 §6), on bytes and lenient: mail in the wild has
 * stray characters in base64, lowercase hex in quoted-printable and bare LF line ends. Both are
 * single passes over the input with one output allocation.
 */

/** Thrown for a Content-Transfer-Encoding we cannot undo (RFC 3516 §4.2: BINARY answers NO). */
export class UnknownEncodingError extends Error {
  override readonly name = 'UnknownEncodingError';
  constructor(readonly encoding: string) {
    super(`unknown Content-Transfer-Encoding: ${encoding}`);
  }
}

const B64 = new Int8Array(256).fill(-1);
{
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  for (let i = 0; i < alphabet.length; i++) B64[alphabet.charCodeAt(i)] = i;
  // the URL-safe alphabet shows up too; accept it
  B64[0x2d] = 62;
  B64[0x5f] = 63;
}

/** Base64 (RFC 2045 §6.8): characters outside the alphabet are ignored; "=" ends a quantum. */
export function decodeBase64(input: Buffer): Buffer {
  const out = Buffer.allocUnsafe(Math.ceil((input.length * 3) / 4) + 3);
  let n = 0;
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < input.length; i++) {
    const c = input[i]!;
    const v = B64[c]!;
    if (v >= 0) {
      acc = ((acc << 6) | v) & 0xffffff;
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        out[n++] = (acc >> bits) & 0xff;
      }
    } else if (c === 0x3d) {
      // padding: drop the partial bits, so a following quantum starts clean
      acc = 0;
      bits = 0;
    }
  }
  return out.subarray(0, n);
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/**
 * Quoted-printable (RFC 2045 §6.7): "=XX" is an octet, "=" at the end of a line (after optional
 * white space) is a soft line break, white space at the end of a line is transport padding
 * (rule 3) and dropped. An "=" that starts neither is kept as it is.
 */
export function decodeQuotedPrintable(input: Buffer): Buffer {
  const out = Buffer.allocUnsafe(input.length);
  let n = 0;
  const len = input.length;
  let i = 0;
  while (i < len) {
    const c = input[i]!;
    if (c === 0x3d) {
      const h = i + 2 < len ? hexValue(input[i + 1]!) : -1;
      const l = h >= 0 ? hexValue(input[i + 2]!) : -1;
      if (h >= 0 && l >= 0) {
        out[n++] = (h << 4) | l;
        i += 3;
        continue;
      }
      // soft line break: "=" [WSP...] (CR)LF, or "=" at the very end
      let j = i + 1;
      while (j < len && (input[j] === 0x20 || input[j] === 0x09)) j++;
      if (j >= len) {
        i = j;
        continue;
      }
      if (input[j] === 0x0a) {
        i = j + 1;
        continue;
      }
      if (input[j] === 0x0d && input[j + 1] === 0x0a) {
        i = j + 2;
        continue;
      }
      out[n++] = c;
      i++;
      continue;
    }
    if (c === 0x20 || c === 0x09) {
      // trailing white space before a line end is dropped
      let j = i;
      while (j < len && (input[j] === 0x20 || input[j] === 0x09)) j++;
      if (j >= len || input[j] === 0x0a || (input[j] === 0x0d && input[j + 1] === 0x0a)) {
        i = j;
        continue;
      }
      while (i < j) out[n++] = input[i++]!;
      continue;
    }
    out[n++] = c;
    i++;
  }
  return out.subarray(0, n);
}

/**
 * Undoes `encoding` (lowercased). Identity encodings return a view of the input, not a copy.
 * Throws UnknownEncodingError for anything else (x-uuencode, typos, ...).
 */
export function decodeTransferEncoding(body: Buffer, encoding: string): Buffer {
  switch (encoding) {
    case '':
    case '7bit':
    case '8bit':
    case 'binary':
      return body;
    case 'base64':
      return decodeBase64(body);
    case 'quoted-printable':
      return decodeQuotedPrintable(body);
    default:
      throw new UnknownEncodingError(encoding);
  }
}
