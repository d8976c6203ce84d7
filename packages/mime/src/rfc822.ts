/**
 * RFC 5322 §3.2 lexical tokens (CFWS, atom, dot-atom, quoted-string, domain-literal) and the
 * RFC 2045 §5.1 token, over an unfolded header value. The return convention is the one of
 * Dovecot's rfc822-parser, whose behaviour on broken input we reproduce so that ENVELOPE and
 * BODYSTRUCTURE come out the same: 1 = more input follows, 0 = input ended, -1 = syntax error.
 * Octets >= 0x80 (raw UTF-8, RFC 6532) count as atext.
 */

// atext (RFC 5322 §3.2.3): ALPHA / DIGIT / "!#$%&'*+-/=?^_`{|}~", plus 8-bit.
function isAtext(c: number): boolean {
  if (c >= 0x80) return true;
  if ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)) return true;
  return "!#$%&'*+-/=?^_`{|}~".includes(String.fromCharCode(c));
}

// RFC 2045 token: atext minus the tspecials "/", "?" and "=", plus ".".
function isMimeTokenChar(c: number): boolean {
  return (isAtext(c) && c !== 0x2f && c !== 0x3f && c !== 0x3d) || c === 0x2e;
}

export class Rfc822Lexer {
  pos = 0;
  /** The text of the last comment skipped, for `addr-spec (Name)` (RFC 5322 §3.4 obs usage). */
  lastComment = '';

  constructor(readonly s: string) {}

  get atEnd(): boolean {
    return this.pos >= this.s.length;
  }

  /** Current character code, or -1 at the end. */
  peek(): number {
    return this.pos < this.s.length ? this.s.charCodeAt(this.pos) : -1;
  }

  private skipComment(): number {
    // comment = "(" *([FWS] ccontent) [FWS] ")", nested, with quoted-pairs (§3.2.2)
    this.lastComment = '';
    let level = 1;
    let start = ++this.pos;
    for (; this.pos < this.s.length; this.pos++) {
      const c = this.s.charCodeAt(this.pos);
      if (c === 0x28) level++;
      else if (c === 0x29) {
        if (--level === 0) {
          this.lastComment += this.s.slice(start, this.pos);
          this.pos++;
          return this.atEnd ? 0 : 1;
        }
      } else if (c === 0x5c) {
        this.lastComment += this.s.slice(start, this.pos);
        start = this.pos + 1;
        this.pos++;
        if (this.atEnd) return -1;
      }
    }
    return -1;
  }

  /** Skips white space and comments (CFWS). */
  skipCfws(): number {
    while (this.pos < this.s.length) {
      const c = this.s.charCodeAt(this.pos);
      if (c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a) {
        this.pos++;
        continue;
      }
      if (c !== 0x28) break;
      if (this.skipComment() < 0) return -1;
    }
    return this.atEnd ? 0 : 1;
  }

  parseAtom(out: string[]): number {
    if (this.atEnd || !isAtext(this.peek())) return -1;
    const start = this.pos++;
    while (this.pos < this.s.length && isAtext(this.s.charCodeAt(this.pos))) this.pos++;
    out.push(this.s.slice(start, this.pos));
    return this.skipCfws();
  }

  /** dot-atom, allowing CFWS around the dots for RFC 822 compatibility. */
  parseDotAtom(out: string[]): number {
    if (this.atEnd || !isAtext(this.peek())) return -1;
    let start = this.pos++;
    for (;;) {
      while (this.pos < this.s.length && isAtext(this.s.charCodeAt(this.pos))) this.pos++;
      out.push(this.s.slice(start, this.pos));
      if (this.atEnd) return 0;
      const r = this.skipCfws();
      if (r <= 0) return r;
      if (this.peek() !== 0x2e) return 1;
      this.pos++;
      out.push('.');
      const r2 = this.skipCfws();
      if (r2 <= 0) return r2;
      start = this.pos;
    }
  }

  parseMimeToken(out: string[]): number {
    const start = this.pos;
    while (this.pos < this.s.length && isMimeTokenChar(this.s.charCodeAt(this.pos))) this.pos++;
    out.push(this.s.slice(start, this.pos));
    return this.atEnd ? 0 : this.skipCfws();
  }

  /** quoted-string (§3.2.4): the content without quotes and with quoted-pairs undone. */
  parseQuotedString(out: string[]): number {
    this.pos++; // opening DQUOTE
    let start = this.pos;
    for (; this.pos < this.s.length; this.pos++) {
      const c = this.s.charCodeAt(this.pos);
      if (c === 0x22) {
        out.push(this.s.slice(start, this.pos));
        this.pos++;
        return this.skipCfws();
      }
      if (c === 0x0a || c === 0x0d) {
        out.push(this.s.slice(start, this.pos));
        start = this.pos + 1;
      } else if (c === 0x5c) {
        this.pos++;
        if (this.atEnd) return -1;
        out.push(this.s.slice(start, this.pos - 1));
        start = this.pos;
      }
    }
    return -1; // missing closing DQUOTE
  }

  private parseAtomOrDot(out: string[]): number {
    const start = this.pos;
    while (this.pos < this.s.length) {
      const c = this.s.charCodeAt(this.pos);
      if (!isAtext(c) && c !== 0x2e) break;
      this.pos++;
    }
    out.push(this.s.slice(start, this.pos));
    return this.atEnd ? 0 : this.skipCfws();
  }

  /** phrase / obs-phrase (§3.2.5, §4.1): words joined by one space. */
  parsePhrase(out: string[]): number {
    if (this.atEnd) return 0;
    if (this.peek() === 0x2e) return -1;
    for (;;) {
      const r = this.peek() === 0x22 ? this.parseQuotedString(out) : this.parseAtomOrDot(out);
      if (r <= 0) return r;
      const c = this.peek();
      if (!isAtext(c) && c !== 0x22 && c !== 0x2e) break;
      out.push(' ');
    }
    return this.skipCfws();
  }

  private parseDomainLiteral(out: string[]): number {
    const start = this.pos;
    for (; this.pos < this.s.length; this.pos++) {
      const c = this.s.charCodeAt(this.pos);
      if (c === 0x5c) {
        this.pos++;
        if (this.atEnd) break;
      } else if (c === 0x5d) {
        this.pos++;
        out.push(this.s.slice(start, this.pos));
        return this.skipCfws();
      }
    }
    return -1;
  }

  /** "@" domain, the "@" being the current character. */
  parseDomain(out: string[]): number {
    this.pos++;
    if (this.skipCfws() <= 0) return -1;
    return this.peek() === 0x5b ? this.parseDomainLiteral(out) : this.parseDotAtom(out);
  }
}
