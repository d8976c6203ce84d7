/**
 * IMAP's modified UTF-7 (RFC 3501 §5.1.3): how Dovecot and Courier name Maildir++ folders on disk
 * ("&AMQ-rger" is "Ärger"). Printable ASCII stands for itself, "&" is "&-", anything else is
 * UTF-16BE in base64 with "," for "/", between "&" and "-".
 */
export function decodeMutf7(name: string): string {
  return name.replace(/&([^-]*)-/g, (_all, b64: string) => {
    if (b64 === '') return '&';
    const bytes = Buffer.from(b64.replace(/,/g, '/'), 'base64');
    let out = '';
    for (let i = 0; i + 1 < bytes.length; i += 2) out += String.fromCharCode((bytes[i]! << 8) | bytes[i + 1]!);
    return out;
  });
}

/** Encodes `name`; characters in `alsoEncode` (e.g. the Maildir++ separator ".") are encoded too. */
export function encodeMutf7(name: string, alsoEncode = ''): string {
  let out = '';
  let pending: number[] = [];
  const flush = (): void => {
    if (pending.length === 0) return;
    const bytes = Buffer.alloc(pending.length * 2);
    for (const [i, c] of pending.entries()) bytes.writeUInt16BE(c, i * 2);
    out += `&${bytes.toString('base64').replace(/=+$/, '').replace(/\//g, ',')}-`;
    pending = [];
  };
  for (let i = 0; i < name.length; i++) {
    const ch = name[i]!;
    const code = name.charCodeAt(i);
    if (code >= 0x20 && code <= 0x7e && !alsoEncode.includes(ch)) {
      flush();
      out += ch === '&' ? '&-' : ch;
    } else pending.push(code);
  }
  flush();
  return out;
}
