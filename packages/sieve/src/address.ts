/**
 * Addresses for the `address` and `envelope` tests (RFC 5228 §2.7.4, §5.1, §5.4): the addr-specs
 * of an address-list header (display names, comments and group syntax dropped), and the address
 * parts, with the subaddress extension's user and detail (RFC 5233 §4, separator "+").
 */

/** The header fields `address` may test (RFC 5228 §5.1: only those that hold addresses). */
export const ADDRESS_HEADERS = new Set([
  'from',
  'sender',
  'reply-to',
  'to',
  'cc',
  'bcc',
  'resent-from',
  'resent-sender',
  'resent-to',
  'resent-cc',
  'resent-bcc',
  'return-path',
  'delivered-to',
  'disposition-notification-to',
  'envelope-to',
  'errors-to',
  'x-original-to',
]);

/** The addr-specs in an address-list value, in order; malformed pieces are kept as written. */
export function addressList(value: string): string[] {
  const out: string[] = [];
  let cur = '';
  let angle: string | null = null;
  let inAngle = false;
  let depth = 0;
  let quoted = false;
  const flush = (): void => {
    const a = (angle ?? cur).trim().replace(/\s+/g, '');
    if (a !== '') out.push(a);
    cur = '';
    angle = null;
  };
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
      if (inAngle) angle += c;
      continue;
    }
    if (depth > 0) {
      if (c === '\\') i++;
      else if (c === '(') depth++;
      else if (c === ')') depth--;
      continue;
    }
    if (c === '(') depth++;
    else if (c === '"') {
      quoted = true;
      if (inAngle) angle += c;
    } else if (c === '<') {
      inAngle = true;
      angle = '';
    } else if (c === '>') inAngle = false;
    else if (inAngle) angle += c;
    else if (c === ':')
      cur = ''; // group display name
    else if (c === ',' || c === ';') flush();
    else cur += c;
  }
  flush();
  // an address in angle brackets drops its source route (RFC 5322 §4.4 obs-route)
  return out.map((a) => a.replace(/^@[^:]*:/, ''));
}

export type AddressPart = 'all' | 'localpart' | 'domain' | 'user' | 'detail';

/** The part of an address to compare; null when it has none (no detail without a "+"). */
export function addressPart(address: string, part: AddressPart): string | null {
  if (part === 'all') return address;
  const at = address.lastIndexOf('@');
  const local = at < 0 ? address : address.slice(0, at);
  switch (part) {
    case 'localpart':
      return local;
    case 'domain':
      return at < 0 ? '' : address.slice(at + 1);
    case 'user': {
      const plus = local.indexOf('+');
      return plus < 0 ? local : local.slice(0, plus);
    }
    case 'detail': {
      const plus = local.indexOf('+');
      return plus < 0 ? null : local.slice(plus + 1);
    }
  }
}
