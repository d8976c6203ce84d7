/**
 * Mail addresses (RFC 5321 §4.1.2 Mailbox, RFC 5322 §3.4.1 addr-spec, RFC 6531 UTF-8 local parts,
 * IDNA domains). Every app parses and normalises addresses here and nowhere else.
 *
 * Normal form: the domain in lowercase ASCII (A-labels, punycode), the local part as written
 * (quoted local parts unquoted when they need no quoting). Lookups compare `key()`: local part
 * lowercased too, as Postfix and Dovecot do by default.
 */
import { domainToASCII, domainToUnicode } from 'node:url';

export interface Address {
  /** Local part without quotes (may contain UTF-8). */
  local: string;
  /** Domain as lowercase ASCII (punycode for IDNs). */
  domain: string;
}

export class AddressError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AddressError';
  }
}

const MAX_LOCAL = 64; // RFC 5321 §4.5.3.1.1
const MAX_DOMAIN = 255; // RFC 5321 §4.5.3.1.2
// atext per RFC 5322 §3.2.3, plus any non-ASCII (RFC 6531 §3.3 UTF8-non-ascii)
const ATEXT = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u0080-\u{10FFFF}-]+$/u;

function isDotAtom(s: string): boolean {
  return s.length > 0 && s.split('.').every((atom) => ATEXT.test(atom));
}

/** Normalises a domain to lowercase ASCII; throws AddressError when it is not a valid host name
 * or address literal. */
export function normalizeDomain(input: string): string {
  let d = input.trim();
  if (d.endsWith('.')) d = d.slice(0, -1);
  if (d.startsWith('[') && d.endsWith(']')) {
    // Address literal (RFC 5321 §4.1.3): keep as is.
    if (!/^\[(?:\d{1,3}(?:\.\d{1,3}){3}|IPv6:[0-9A-Fa-f:.]+)\]$/.test(d)) throw new AddressError(`bad address literal ${d}`);
    return d;
  }
  const ascii = domainToASCII(d.toLowerCase());
  if (ascii === '' || ascii.length > MAX_DOMAIN) throw new AddressError(`bad domain "${input}"`);
  if (!/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/.test(ascii)) {
    throw new AddressError(`bad domain "${input}"`);
  }
  return ascii;
}

/** The domain for people: U-labels. */
export function domainForDisplay(domain: string): string {
  return domainToUnicode(domain) || domain;
}

/**
 * Parses an addr-spec `local@domain` (no angle brackets, no display name). Accepts dot-atom and
 * quoted-string local parts. Refuses source routes and anything without exactly one unquoted @.
 */
export function parseAddress(input: string): Address {
  const s = input.trim();
  if (s.length === 0) throw new AddressError('empty address');
  if (/[\r\n\0]/.test(s)) throw new AddressError('control characters in address');
  let local: string;
  let rest: string;
  if (s.startsWith('"')) {
    // quoted-string local part: "..."@domain, with \ escapes (RFC 5321 §4.1.2 Quoted-string)
    let i = 1;
    let out = '';
    for (; i < s.length; i++) {
      const c = s[i]!;
      if (c === '\\') {
        i++;
        if (i >= s.length) throw new AddressError('unterminated quoted local part');
        out += s[i];
      } else if (c === '"') break;
      else out += c;
    }
    if (s[i] !== '"' || s[i + 1] !== '@') throw new AddressError(`bad quoted local part in "${input}"`);
    local = out;
    rest = s.slice(i + 2);
  } else {
    const at = s.lastIndexOf('@');
    if (at <= 0) throw new AddressError(`"${input}" has no local part and domain`);
    local = s.slice(0, at);
    rest = s.slice(at + 1);
    if (!isDotAtom(local)) throw new AddressError(`bad local part "${local}"`);
  }
  if (Buffer.byteLength(local, 'utf8') > MAX_LOCAL) throw new AddressError(`local part longer than ${MAX_LOCAL} octets`);
  if (rest.includes('@')) throw new AddressError(`more than one @ in "${input}"`);
  return { local: local.normalize('NFC'), domain: normalizeDomain(rest) };
}

/** Like parseAddress but returns null instead of throwing. */
export function tryParseAddress(input: string): Address | null {
  try {
    return parseAddress(input);
  } catch {
    return null;
  }
}

/** The address as text, quoting the local part when it is not a dot-atom. */
export function formatAddress(a: Address): string {
  const local = isDotAtom(a.local) ? a.local : `"${a.local.replace(/(["\\])/g, '\\$1')}"`;
  return `${local}@${a.domain}`;
}

/** Lookup key: lowercased local part and domain. */
export function addressKey(a: Address): string {
  return `${a.local.toLowerCase()}@${a.domain}`;
}

/**
 * The account a login names: the address's lookup key (quotes, case, a trailing dot of the
 * domain, surrounding space and Unicode forms normalised away), or null when it is no address.
 * Authentication and the login throttle both key on it, so no spelling of a name is a fresh one.
 */
export function loginKey(login: string): string | null {
  try {
    return addressKey(parseAddress(login));
  } catch {
    return null;
  }
}

/** True when the address needs SMTPUTF8 (RFC 6531) to be transported. */
export function needsSmtpUtf8(a: Address): boolean {
  return /[^\x00-\x7f]/.test(a.local);
}

/** Splits `alice+news` into base `alice` and detail `news` (plus-addressing, RFC 5233 style). */
export function splitDetail(local: string, separator = '+'): { base: string; detail: string | null } {
  const i = local.indexOf(separator);
  if (i <= 0) return { base: local, detail: null };
  return { base: local.slice(0, i), detail: local.slice(i + 1) };
}
