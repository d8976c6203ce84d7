/**
 * IMAP string atoms as sent by a server (RFC 9051 §4.3, §9 formal syntax).
 *
 * A value goes out as a quoted string when it is short text without CR, LF or NUL, and as a
 * server literal `{n}\r\n<bytes>` otherwise (servers never wait for a continuation, RFC 9051
 * §4.3). Literal lengths are octet counts, so UTF-8 is measured in bytes. 8-bit text may be
 * quoted only once the client enabled UTF8=ACCEPT (RFC 6855 §3, pass `utf8 = true`).
 */

const QUOTABLE_MAX = 1024;

/** True when `value` can travel as an IMAP quoted string. */
function isQuotable(value: string, utf8: boolean): boolean {
  if (value.length > QUOTABLE_MAX) return false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    // quoted = DQUOTE *QUOTED-CHAR DQUOTE; QUOTED-CHAR excludes CR, LF, NUL and 8-bit (unless UTF8=ACCEPT)
    if (c === 0x0d || c === 0x0a || c === 0x00) return false;
    if (c > 0x7e && !(utf8 && c > 0x9f)) return false;
  }
  return true;
}

/** `string` in the formal syntax: a quoted string or a literal. */
export function imapString(value: string, utf8 = false): string {
  if (isQuotable(value, utf8)) return `"${value.replace(/[\\"]/g, (m) => `\\${m}`)}"`;
  return `{${Buffer.byteLength(value, 'utf8')}}\r\n${value}`;
}

/** `nstring`: NIL for null/undefined, else a string. */
export function imapNString(value: string | null | undefined, utf8 = false): string {
  return value === null || value === undefined ? 'NIL' : imapString(value, utf8);
}

/** `astring`: an atom when the value is a plain atom, else a string. Used for mailbox names. */
export function imapAString(value: string, utf8 = false): string {
  // ATOM-CHAR: any CHAR except atom-specials: ( ) { SP CTL % * " \ ]. NIL is quoted: many
  // client parsers read a bare NIL as null even where the grammar says astring.
  if (value.length > 0 && value.toUpperCase() !== 'NIL' && /^[\x21-\x7e]+$/.test(value) && !/[(){ %*"\\\]]/.test(value)) return value;
  return imapString(value, utf8);
}
