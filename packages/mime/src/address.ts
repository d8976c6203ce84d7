/**
 * RFC 5322 §3.4 address lists (with the obsolete forms of §4.4: routes, comments as names),
 * parsed into IMAP address structures (RFC 9051 §7.5.2): (name adl mailbox host), a group
 * opening as (NIL NIL "group" NIL) and closing as (NIL NIL NIL NIL).
 *
 * Broken addresses are repaired the way Dovecot repairs them, so ENVELOPE matches it: a
 * missing local part becomes "MISSING_MAILBOX", a missing domain "MISSING_DOMAIN", and an
 * unparsable angle address gets the host "SYNTAX_ERROR". Names stay raw (encoded-words are
 * not decoded) in ENVELOPE; `formatAddresses` gives the decoded display form.
 */
import { Rfc822Lexer } from './rfc822.js';
import { decodeEncodedWords } from './charset.js';

export interface Address {
  name: string | null;
  route: string | null;
  mailbox: string | null;
  host: string | null;
}

/** Upper bound on addresses taken from one field, so that a hostile header stays bounded. */
export const MAX_ADDRESSES = 10_000;

const AT = 0x40;

class AddressParser {
  readonly lx: Rfc822Lexer;
  readonly out: Address[] = [];
  private cur: Address = { name: null, route: null, mailbox: null, host: null };
  /** The address being parsed has a syntax error. */
  private invalid = false;

  constructor(value: string) {
    this.lx = new Rfc822Lexer(value);
  }

  private reset(): void {
    this.cur = { name: null, route: null, mailbox: null, host: null };
    this.invalid = false;
  }

  private push(a: Address): void {
    this.out.push(a);
    this.reset();
  }

  private parseLocalPart(): number {
    const buf: string[] = [];
    const r = this.lx.peek() === 0x22 ? this.lx.parseQuotedString(buf) : this.lx.parseDotAtom(buf);
    if (r < 0) return -1;
    this.cur.mailbox = buf.join('');
    return r;
  }

  private parseDomain(): number {
    const buf: string[] = [];
    const r = this.lx.parseDomain(buf);
    if (r < 0) return -1;
    this.cur.host = buf.join('');
    return r;
  }

  /** obs-domain-list (§4.4): "@a,@b" before the ":" of a route. */
  private parseDomainList(): number {
    let route = '';
    for (;;) {
      if (this.lx.atEnd) return 0;
      if (this.lx.peek() !== AT) break;
      if (route.length > 0) route += ',';
      route += '@';
      const buf: string[] = [];
      const r = this.lx.parseDomain(buf);
      route += buf.join('');
      if (r <= 0) return r;
      while (this.lx.skipCfws() > 0 && this.lx.peek() === 0x2c) this.lx.pos++;
    }
    this.cur.route = route;
    return 1;
  }

  /** "<" [route ":"] addr-spec ">": running out of input before the ">" is a syntax error. */
  private parseAngleAddr(): number {
    this.lx.pos++; // "<"
    if (this.lx.skipCfws() <= 0) return -1;
    if (this.lx.peek() === AT) {
      if (this.parseDomainList() > 0 && this.lx.peek() === 0x3a) {
        this.lx.pos++;
      } else {
        this.cur.route = 'INVALID_ROUTE';
        if (this.lx.atEnd) return -1;
        // try to continue anyway
      }
      if (this.lx.skipCfws() <= 0) return -1;
    }
    if (this.lx.peek() !== 0x3e) {
      // "<>" is no address, but not a syntax error either: MISSING_MAILBOX / MISSING_DOMAIN
      if (this.parseLocalPart() <= 0) return -1;
      if (this.lx.peek() === AT) {
        if (this.parseDomain() <= 0) return -1;
      }
    }
    if (this.lx.peek() !== 0x3e) return -1;
    this.lx.pos++;
    return this.lx.skipCfws();
  }

  private parseNameAddr(): number {
    const phrase: string[] = [];
    const r = this.lx.parsePhrase(phrase);
    if (r <= 0 || this.lx.peek() !== 0x3c) return -1;
    const name = phrase.join('');
    this.cur.name = name === '' ? null : name;
    if (this.parseAngleAddr() < 0) {
      this.cur.host = 'SYNTAX_ERROR';
      this.invalid = true;
    }
    return this.lx.atEnd ? 0 : 1;
  }

  private parseAddrSpec(): number {
    this.lx.lastComment = '';
    const quoted = this.lx.peek() === 0x22;
    let r = this.parseLocalPart();
    if (r <= 0) this.invalid = true;
    let sawAt = false;
    if (r !== 0 && !this.lx.atEnd && this.lx.peek() === AT) {
      sawAt = true;
      const r2 = this.parseDomain();
      if (r2 <= 0) r = r2;
    }
    if (this.lx.lastComment.length > 0) {
      // "user@host (Full Name)": the comment is the only name there is
      this.cur.name = this.lx.lastComment;
    } else if (!sawAt) {
      // "user" alone is a mailbox without domain, but "some words" is a display name without
      // an address (Dovecot 2.3 reads it so)
      const more: string[] = [];
      this.lx.parsePhrase(more);
      const extra = more.join('');
      if (extra.length > 0) {
        this.cur.name = `${this.cur.mailbox ?? ''} ${extra}`;
        this.cur.mailbox = null;
      } else if (!quoted) {
        this.cur.host = '';
      }
      this.invalid = true;
      r = -1;
    }
    return r;
  }

  private addFixed(): void {
    this.push({
      name: this.cur.name,
      route: this.cur.route,
      mailbox: this.cur.mailbox ?? 'MISSING_MAILBOX',
      host: this.cur.host === null || this.cur.host === '' ? 'MISSING_DOMAIN' : this.cur.host,
    });
  }

  private parseMailbox(): number {
    const start = this.lx.pos;
    let r = this.parseNameAddr();
    if (r < 0) {
      this.lx.pos = start;
      this.reset();
      r = this.parseAddrSpec();
      // a lone quoted word is a name, not a mailbox
      if (this.invalid && this.cur.name === null && this.cur.mailbox !== null && this.cur.host === null) {
        this.cur.name = this.cur.mailbox;
        this.cur.mailbox = null;
      }
    }
    this.addFixed();
    return r;
  }

  private parseGroup(): number {
    const phrase: string[] = [];
    let r = this.lx.parsePhrase(phrase);
    if (r <= 0 || this.lx.peek() !== 0x3a) return -1;
    this.lx.pos++;
    r = this.lx.skipCfws();
    this.push({ name: null, route: null, mailbox: phrase.join(''), host: null });
    if (r > 0 && this.lx.peek() !== 0x3b) {
      while (this.out.length < MAX_ADDRESSES) {
        this.parseMailbox(); // a broken member: carry on with the next one
        if (this.lx.atEnd || this.lx.peek() !== 0x2c) break;
        this.lx.pos++;
        if (this.lx.skipCfws() <= 0) {
          r = -1;
          break;
        }
      }
    }
    if (r >= 0) {
      if (this.lx.peek() !== 0x3b) r = -1;
      else {
        this.lx.pos++;
        r = this.lx.skipCfws();
      }
    }
    this.push({ name: null, route: null, mailbox: null, host: null });
    return r === 0 ? 0 : 1;
  }

  private parseAddress(): number {
    const start = this.lx.pos;
    const mark = this.out.length;
    let r = this.parseGroup();
    if (r < 0) {
      this.lx.pos = start;
      this.out.length = mark;
      this.reset();
      r = this.parseMailbox();
    }
    return r;
  }

  parseList(): Address[] {
    if (this.lx.skipCfws() <= 0) return this.out;
    while (this.out.length < MAX_ADDRESSES) {
      if (this.parseAddress() === 0) break;
      if (this.lx.peek() !== 0x2c) break;
      this.lx.pos++;
      const r = this.lx.skipCfws();
      if (r <= 0) {
        if (r < 0) this.addFixed(); // ends with garbage
        break;
      }
    }
    return this.out;
  }
}

/** Parses an address-list header value; an empty list means the field is NIL in ENVELOPE. */
export function parseAddressList(value: string): Address[] {
  return new AddressParser(value).parseList();
}

function isGroupStart(a: Address): boolean {
  return a.host === null && a.mailbox !== null;
}

function isGroupEnd(a: Address): boolean {
  return a.host === null && a.mailbox === null;
}

function humanize(s: string): string {
  return s.replace(/[\t\r\n ]+/g, ' ').trim();
}

/** Display text: `Name <box@host>, other@host, Group: a@b;` with names decoded (RFC 2047). */
export function formatAddresses(list: readonly Address[]): string {
  const items: string[] = [];
  let group: { name: string; members: string[] } | null = null;
  const closeGroup = (): void => {
    if (group !== null) items.push(`${group.name}: ${group.members.join(', ')};`);
    group = null;
  };
  for (const a of list) {
    if (isGroupEnd(a)) {
      closeGroup();
      continue;
    }
    if (isGroupStart(a)) {
      closeGroup();
      group = { name: humanize(decodeEncodedWords(a.mailbox ?? '')), members: [] };
      continue;
    }
    // the MISSING_* / SYNTAX_ERROR placeholders are for ENVELOPE only, not for people
    const box = a.mailbox === null || a.mailbox === 'MISSING_MAILBOX' ? '' : a.mailbox;
    const host = a.host === null || a.host === 'MISSING_DOMAIN' || a.host === 'SYNTAX_ERROR' ? '' : a.host;
    const spec = host === '' ? box : `${box}@${host}`;
    const name = a.name === null ? '' : humanize(decodeEncodedWords(a.name));
    const text = name === '' ? spec : spec === '' ? name : `${name} <${spec}>`;
    if (text === '') continue;
    if (group !== null) (group as { members: string[] }).members.push(text);
    else items.push(text);
  }
  closeGroup();
  return items.join(', ');
}

/** First real mailbox of a list as `local@domain` with the domain lowercased, or null. */
export function firstMailbox(list: readonly Address[]): string | null {
  for (const a of list) {
    if (a.host === null || a.mailbox === null) continue;
    if (a.mailbox === 'MISSING_MAILBOX' || a.host === 'MISSING_DOMAIN' || a.host === 'SYNTAX_ERROR') return null;
    return `${a.mailbox}@${a.host.toLowerCase()}`;
  }
  return null;
}
