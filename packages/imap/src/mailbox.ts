/**
 * Mailbox names on the wire (RFC 9051 §5.1, RFC 3501 §5.1.3, RFC 6855 §3).
 *
 * Without UTF8=ACCEPT a name travels in modified UTF-7; with it, as UTF-8. `INBOX` is
 * case-insensitive and is always reported as `INBOX`; other names are case-sensitive.
 */
import { decodeModifiedUtf7, encodeModifiedUtf7, ModifiedUtf7Error } from './utf7.js';

export { ModifiedUtf7Error };

const utf8Fatal = new TextDecoder('utf-8', { fatal: true });

export class MailboxNameError extends Error {
  override readonly name = 'MailboxNameError';
}

function has8bit(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if ((bytes[i] as number) >= 0x80) return true;
  return false;
}

/**
 * Decodes the octets of a mailbox name or LIST pattern as a client sent them.
 * 8-bit octets are taken as UTF-8 (RFC 6855, and what IMAP4rev1 clients that ignore modified
 * UTF-7 send); 7-bit names are modified UTF-7 unless `utf8Accept` is on, in which case `&` is
 * an ordinary character. Throws MailboxNameError on invalid UTF-8 or modified UTF-7.
 */
export function decodeMailboxBytes(bytes: Uint8Array, utf8Accept: boolean): string {
  if (has8bit(bytes)) {
    try {
      return utf8Fatal.decode(bytes);
    } catch {
      throw new MailboxNameError('Mailbox name is not valid UTF-8');
    }
  }
  const ascii = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  if (utf8Accept) return ascii;
  try {
    return decodeModifiedUtf7(ascii);
  } catch (err) {
    throw new MailboxNameError(err instanceof Error ? err.message : 'Mailbox name is not valid modified UTF-7');
  }
}

/** `INBOX` in any case becomes `INBOX` (RFC 9051 §5.1); other names are returned unchanged. */
export function normalizeMailboxName(name: string): string {
  return name.length === 5 && name.toUpperCase() === 'INBOX' ? 'INBOX' : name;
}

/** The wire form of a Unicode mailbox name: UTF-8 text when `utf8Accept`, else modified UTF-7. */
export function encodeMailboxName(name: string, utf8Accept: boolean): string {
  return utf8Accept ? name : encodeModifiedUtf7(name);
}
