/**
 * MIME header values with parameters: Content-Type (RFC 2045 §5.1) and Content-Disposition
 * (RFC 2183), with RFC 2231 continuations and charsets.
 *
 * Two views are kept. `raw` is what BODYSTRUCTURE sends: parameter names as written, values
 * unquoted, RFC 2231 continuations merged into one `name*` parameter still percent-encoded
 * (as Dovecot does, leaving the decoding to the client, RFC 9051 §7.5.2). `decoded` is for us:
 * lowercased names, continuations joined, charsets and RFC 2047 words decoded.
 */
import { Rfc822Lexer } from './rfc822.js';
import { bytesToText, decodeEncodedWords } from './charset.js';

export interface Param {
  name: string;
  value: string;
}

export interface ParsedContentType {
  type: string;
  subtype: string;
  /** False when the value is not `type/subtype` (RFC 2045 §5.2 then says: assume text/plain). */
  valid: boolean;
  params: Param[];
}

/** Collects `;` key `=` value pairs the way Dovecot's rfc822_parse_content_param does. */
function parseParamList(lx: Rfc822Lexer, maxParams: number): Param[] {
  const out: Param[] = [];
  while (!lx.atEnd && out.length < maxParams) {
    const start = lx.pos;
    const p = parseOneParam(lx);
    if (p === null) {
      // broken parameter: skip one character and try again from there
      if (lx.pos <= start) lx.pos = start + 1;
      else lx.pos++;
      continue;
    }
    out.push(p);
  }
  return out;
}

function parseOneParam(lx: Rfc822Lexer): Param | null {
  if (lx.peek() !== 0x3b) return null; // ";"
  lx.pos++;
  if (lx.skipCfws() <= 0) return null;
  const key: string[] = [];
  if (lx.parseMimeToken(key) <= 0) return null;
  const name = key.join('');
  if (name === '' || lx.peek() !== 0x3d) return null; // "="
  lx.pos++;
  const val: string[] = [];
  const r = lx.skipCfws();
  if (r <= 0) {
    // no value: keep the parameter with an empty value
  } else if (lx.peek() === 0x22) {
    if (lx.parseQuotedString(val) < 0) return null; // unterminated quote: dropped, as Dovecot does
  } else if (lx.peek() === 0x3d) {
    // broken but common: name==?utf-8?b?...?= (an unquoted encoded-word)
    const start = lx.pos;
    while (!lx.atEnd && !';\t\r\n '.includes(lx.s[lx.pos]!)) lx.pos++;
    val.push(lx.s.slice(start, lx.pos));
  } else {
    lx.parseMimeToken(val);
  }
  return { name, value: val.join('') };
}

interface Rfc2231Segment {
  key: string;
  index: number;
  extended: boolean;
  value: string;
}

/** Splits `name*3*` into its parts; null when the name is not an RFC 2231 one. */
function rfc2231Segment(p: Param): Rfc2231Segment | null {
  const star = p.name.indexOf('*');
  if (star === -1) return null;
  const key = p.name.slice(0, star);
  const suffix = p.name.slice(star);
  // "name*" (extended, index 0) or "name*N" / "name*N*"
  if (suffix === '*') return { key, index: 0, extended: true, value: p.value };
  const m = /^\*(\d{1,6})(\*?)$/.exec(suffix);
  if (m === null) return null;
  return { key, index: Number(m[1]), extended: m[2] === '*', value: p.value };
}

/** Dovecot-compatible merge of RFC 2231 parameters: the BODYSTRUCTURE view. */
export function mergeRfc2231(params: Param[]): Param[] {
  const plain: Param[] = [];
  const segs: Rfc2231Segment[] = [];
  for (const p of params) {
    const s = rfc2231Segment(p);
    if (s === null) plain.push(p);
    else segs.push(s);
  }
  if (segs.length === 0) return plain;
  segs.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.index - b.index));
  for (let i = 0; i < segs.length; ) {
    let j = i;
    let ok = true;
    let extended = false;
    for (; j < segs.length && segs[j]!.key.toLowerCase() === segs[i]!.key.toLowerCase(); j++) {
      if (segs[j]!.index !== j - i) ok = false;
      if (segs[j]!.extended) extended = true;
    }
    if (!ok) {
      for (let k = i; k < j; k++) {
        const s = segs[k]!;
        plain.push({ name: `${s.key}*${s.index}${s.extended ? '*' : ''}`, value: s.value });
      }
    } else {
      let v = !segs[i]!.extended && extended ? "''" : '';
      for (let k = i; k < j; k++) {
        const s = segs[k]!;
        // a plain segment inside an extended value must not be read as %XX (RFC 2231 §4.1)
        v += !s.extended && extended ? s.value.replace(/%/g, '%25') : s.value;
      }
      plain.push({ name: extended ? `${segs[i]!.key}*` : segs[i]!.key, value: v });
    }
    i = j;
  }
  return plain;
}

/** `charset'lang'%XX..` (RFC 2231 §4) to text. */
function decodeExtValue(value: string): string {
  const q1 = value.indexOf("'");
  const q2 = q1 === -1 ? -1 : value.indexOf("'", q1 + 1);
  const charset = q2 === -1 ? '' : value.slice(0, q1);
  const data = q2 === -1 ? value : value.slice(q2 + 1);
  const bytes: number[] = [];
  for (let i = 0; i < data.length; i++) {
    const c = data.charCodeAt(i);
    if (c === 0x25 && i + 2 < data.length && /^[0-9a-fA-F]{2}$/.test(data.slice(i + 1, i + 3))) {
      bytes.push(parseInt(data.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (c < 0x80) {
      bytes.push(c);
    } else {
      for (const b of Buffer.from(data[i]!, 'utf8')) bytes.push(b);
    }
  }
  return bytesToText(Buffer.from(bytes), charset || null);
}

/** The decoded view: lowercased names, RFC 2231 values decoded and preferred over plain ones. */
export function decodeParams(merged: Param[]): Record<string, string> {
  // a Map, then Object.fromEntries: a parameter called "__proto__" stays a plain own property
  const out = new Map<string, string>();
  const fromExt = new Set<string>();
  for (const p of merged) {
    const lname = p.name.toLowerCase();
    if (lname.endsWith('*') && !/\*\d+\*?$/.test(lname)) {
      const base = lname.slice(0, -1);
      out.set(base, decodeExtValue(p.value));
      fromExt.add(base);
    } else if (!fromExt.has(lname) && !out.has(lname)) {
      out.set(lname, decodeEncodedWords(p.value));
    }
  }
  return Object.fromEntries(out);
}

const MAX_PARAMS = 100;

/** Parses a Content-Type value. */
export function parseContentType(value: string): ParsedContentType {
  const lx = new Rfc822Lexer(value);
  if (lx.skipCfws() <= 0) return { type: '', subtype: '', valid: false, params: [] };
  const type: string[] = [];
  if (lx.parseMimeToken(type) <= 0 || lx.peek() !== 0x2f) {
    return { type: type.join(''), subtype: '', valid: false, params: [] };
  }
  lx.pos++;
  if (lx.skipCfws() <= 0) return { type: type.join(''), subtype: '', valid: false, params: [] };
  const sub: string[] = [];
  lx.parseMimeToken(sub);
  const t = type.join('');
  const st = sub.join('');
  // only parameters may follow the subtype: "message/rfc822 Date: ..." is not a media type
  const valid = t !== '' && st !== '' && (lx.atEnd || lx.peek() === 0x3b);
  return { type: t, subtype: st, valid, params: valid ? mergeRfc2231(parseParamList(lx, MAX_PARAMS)) : [] };
}

/** Parses a Content-Disposition value: null when there is no disposition token. */
export function parseDisposition(value: string): { type: string; params: Param[] } | null {
  const lx = new Rfc822Lexer(value);
  lx.skipCfws();
  const tok: string[] = [];
  if (lx.parseMimeToken(tok) < 0) return null;
  return { type: tok.join(''), params: mergeRfc2231(parseParamList(lx, MAX_PARAMS)) };
}

/** Content-Language (RFC 3282): the list of language tags, or null. */
export function parseLanguage(value: string): string[] | null {
  const lx = new Rfc822Lexer(value);
  lx.skipCfws();
  const langs: string[] = [];
  while (langs.length < MAX_PARAMS) {
    const out: string[] = [];
    if (lx.parseAtom(out) < 0) break;
    langs.push(out.join(''));
    if (lx.atEnd || lx.peek() !== 0x2c) break;
    lx.pos++;
    lx.skipCfws();
  }
  return langs.length > 0 ? langs : null;
}

/** Content-Transfer-Encoding (RFC 2045 §6.1): the token, or null when absent or broken. */
export function parseTransferEncoding(value: string): string | null {
  const lx = new Rfc822Lexer(value);
  lx.skipCfws();
  const out: string[] = [];
  if (lx.parseMimeToken(out) < 0) return null;
  if (lx.skipCfws() !== 0) return null;
  const v = out.join('');
  return v === '' ? null : v;
}
