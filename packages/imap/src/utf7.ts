/**
 * Modified UTF-7 for mailbox names (RFC 3501 §5.1.3, kept by RFC 9051 §5.1.3 for IMAP4rev1
 * clients): printable US-ASCII stands for itself except `&`, written `&-`; any other run of
 * characters is `&` + base64 of its UTF-16BE code units with `,` for `/` and no padding + `-`.
 */

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,';
const B64_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < B64.length; i++) B64_VALUE[B64.charCodeAt(i)] = i;

export class ModifiedUtf7Error extends Error {
  override readonly name = 'ModifiedUtf7Error';
}

function isDirect(c: number): boolean {
  return c >= 0x20 && c <= 0x7e;
}

/** Encodes a Unicode mailbox name to modified UTF-7. */
export function encodeModifiedUtf7(name: string): string {
  let out = '';
  let i = 0;
  while (i < name.length) {
    const c = name.charCodeAt(i);
    if (isDirect(c)) {
      out += c === 0x26 ? '&-' : name[i];
      i++;
      continue;
    }
    // A run of characters outside printable ASCII, as UTF-16BE code units.
    let bits = 0;
    let nbits = 0;
    out += '&';
    while (i < name.length && !isDirect(name.charCodeAt(i))) {
      bits = (bits << 16) | name.charCodeAt(i);
      nbits += 16;
      while (nbits >= 6) {
        nbits -= 6;
        out += B64[(bits >> nbits) & 0x3f];
      }
      bits &= (1 << nbits) - 1;
      i++;
    }
    if (nbits > 0) out += B64[(bits << (6 - nbits)) & 0x3f];
    out += '-';
  }
  return out;
}

/**
 * Decodes a modified UTF-7 mailbox name. Throws ModifiedUtf7Error on bytes outside printable
 * ASCII, an unterminated or empty shift (`&` must end in `-`), bad base64, non-zero padding
 * bits or a broken surrogate pair: such a name cannot have come from a conforming client.
 */
export function decodeModifiedUtf7(text: string): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (!isDirect(c)) throw new ModifiedUtf7Error('8-bit or control character in a modified UTF-7 name');
    if (c !== 0x26) {
      out += text[i];
      i++;
      continue;
    }
    const end = text.indexOf('-', i + 1);
    if (end === -1) throw new ModifiedUtf7Error('Unterminated "&" shift in a modified UTF-7 name');
    if (end === i + 1) {
      out += '&';
      i = end + 1;
      continue;
    }
    let bits = 0;
    let nbits = 0;
    let units = '';
    for (let j = i + 1; j < end; j++) {
      const ch = text.charCodeAt(j);
      const v = ch < 128 ? (B64_VALUE[ch] as number) : -1;
      if (v < 0) throw new ModifiedUtf7Error('Invalid base64 in a modified UTF-7 name');
      bits = (bits << 6) | v;
      nbits += 6;
      if (nbits >= 16) {
        nbits -= 16;
        units += String.fromCharCode((bits >> nbits) & 0xffff);
        bits &= (1 << nbits) - 1;
      }
    }
    if (nbits >= 6 || bits !== 0) throw new ModifiedUtf7Error('Bad padding in a modified UTF-7 name');
    // Check the UTF-16 is well formed (no lone surrogates).
    for (let k = 0; k < units.length; k++) {
      const u = units.charCodeAt(k);
      if (u >= 0xd800 && u <= 0xdbff) {
        const next = units.charCodeAt(k + 1);
        if (!(next >= 0xdc00 && next <= 0xdfff)) throw new ModifiedUtf7Error('Lone surrogate in a modified UTF-7 name');
        k++;
      } else if (u >= 0xdc00 && u <= 0xdfff) {
        throw new ModifiedUtf7Error('Lone surrogate in a modified UTF-7 name');
      }
    }
    out += units;
    i = end + 1;
  }
  return out;
}
