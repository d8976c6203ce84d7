/**
 * RFC 5322 §2.2 header fields, located on the raw bytes. A field is its first line plus every
 * continuation line (one starting with SP or HTAB, §2.2.3); the header ends at the first empty
 * line (§2.1), CRLF or bare LF. A line that has no colon is kept as a field with an empty name so
 * that nothing in the header is lost (HEADER.FIELDS.NOT still returns it, HEADER.FIELDS never
 * matches it, and dropping other fields keeps it).
 */
import { COLON, CR, LF, SP, TAB, headerBytesToString } from './bytes.js';

export interface RawField {
  /** Field name as written, without trailing white space; "" for a line without a colon. */
  name: string;
  /** Lowercased name, for look-ups. */
  key: string;
  /** Offsets of the whole field in the raw message, line terminator(s) included. */
  start: number;
  end: number;
  /** Offsets of the value: just after the colon, and before the final line terminator. */
  valueStart: number;
  valueEnd: number;
}

/**
 * How much of a header splitFields may read: a header past it keeps its bytes (its extent is
 * still the empty line) but its later fields are not split out, so a hostile header costs a
 * bounded number of field objects. `lines` is shared by every header of one message.
 */
export interface HeaderBudget {
  /** Bytes of one header read into fields; a field cut by it ends there. */
  maxBytes: number;
  /** Header lines (fields and continuation lines) left for the whole message; decremented. */
  lines: number;
}

/** Just past the LF of the line at `p` (or `end`): a short line is read here, a long one by indexOf. */
function lineEnd(raw: Buffer, p: number, end: number): number {
  const near = Math.min(end, p + 80);
  for (let i = p; i < near; i++) if (raw[i] === LF) return i + 1;
  if (near === end) return end;
  const lf = raw.indexOf(LF, near);
  return lf === -1 || lf >= end ? end : lf + 1;
}

/** Where one field lies, as scanFields reports it (a line without a colon: `named` false). */
export interface FieldSpan {
  start: number;
  end: number;
  /** End of the name (white space before the colon trimmed); `start` when not named. */
  nameEnd: number;
  valueStart: number;
  valueEnd: number;
  named: boolean;
}

/**
 * Reports each field of raw[start, end) to `visit` once its last line is known, stopping at the
 * first empty line (or when `budget` is spent). Allocates nothing per line: the span passed is
 * reused, so a visitor copies what it keeps. Returns where it stopped: the start of the empty
 * line, or `end` (or the budget's end).
 */
export function scanFields(raw: Buffer, start: number, end: number, budget: HeaderBudget | undefined, visit: (f: Readonly<FieldSpan>) => void): number {
  const cur: FieldSpan = { start: 0, end: 0, nameEnd: 0, valueStart: 0, valueEnd: 0, named: false };
  let open = false;
  let p = start;
  if (budget !== undefined) end = Math.min(end, start + budget.maxBytes);
  while (p < end) {
    const next = lineEnd(raw, p, end);
    let contentEnd = next;
    if (contentEnd > p && raw[contentEnd - 1] === LF) contentEnd--;
    if (contentEnd > p && raw[contentEnd - 1] === CR) contentEnd--;
    if (contentEnd === p) break; // the empty line that ends the header
    if (budget !== undefined) {
      if (budget.lines <= 0) break;
      budget.lines--;
    }
    const first = raw[p];
    if ((first === SP || first === TAB) && open) {
      cur.end = next;
      cur.valueEnd = contentEnd;
    } else {
      if (open) visit(cur);
      open = true;
      // the colon is looked for in this line only: searching the rest of the message made a
      // header of colon-less lines quadratic (issue 14)
      let colon = -1;
      if (first !== SP && first !== TAB) {
        for (let i = p; i < contentEnd; i++) {
          if (raw[i] === COLON) {
            colon = i;
            break;
          }
        }
      }
      cur.start = p;
      cur.end = next;
      cur.valueEnd = contentEnd;
      cur.named = colon !== -1;
      if (colon !== -1) {
        let nameEnd = colon;
        while (nameEnd > p && (raw[nameEnd - 1] === SP || raw[nameEnd - 1] === TAB)) nameEnd--;
        cur.nameEnd = nameEnd;
        cur.valueStart = colon + 1;
      } else {
        cur.nameEnd = p;
        cur.valueStart = p;
      }
    }
    p = next;
  }
  if (open) visit(cur);
  return p;
}

/** Splits raw[start, end) into fields, stopping at the first empty line (or when `budget` is spent). */
export function splitFields(raw: Buffer, start: number, end: number, budget?: HeaderBudget): RawField[] {
  const fields: RawField[] = [];
  scanFields(raw, start, end, budget, (f) => {
    const name = f.named ? raw.toString('latin1', f.start, f.nameEnd) : '';
    fields.push({ name, key: name.toLowerCase(), start: f.start, end: f.end, valueStart: f.valueStart, valueEnd: f.valueEnd });
  });
  return fields;
}

/**
 * The unfolded value of a field as a string: line terminators removed (RFC 5322 §2.2.3),
 * the white space after the colon dropped, everything else (including folding white space)
 * kept, which is the form Dovecot puts in ENVELOPE.
 */
export function fieldValue(raw: Buffer, f: Pick<RawField, 'valueStart' | 'valueEnd'>): string {
  let s = f.valueStart;
  while (s < f.valueEnd && (raw[s] === SP || raw[s] === TAB || raw[s] === CR || raw[s] === LF)) s++;
  let bytes = raw.subarray(s, f.valueEnd);
  if (bytes.includes(LF) || bytes.includes(CR)) {
    const out = Buffer.allocUnsafe(bytes.length);
    let n = 0;
    for (let i = 0; i < bytes.length; i++) {
      const c = bytes[i]!;
      if (c !== CR && c !== LF) out[n++] = c;
    }
    bytes = out.subarray(0, n);
  }
  return headerBytesToString(bytes);
}

/** A field as its name and its exact bytes, folded lines and final line break included. */
export interface HeaderField {
  /** Field name as written (no colon); '' for a line without a colon. */
  name: string;
  raw: Buffer;
}

/**
 * Header block parsed into its fields, each with its exact raw bytes: used for HEADER.FIELDS.
 * With `only` (lowercase names), just those fields, and nothing is built for the others: a
 * SEARCH HEADER over a 256 KB header of one-character lines costs a scan, not 87,000 objects.
 */
export function headerFields(header: Buffer, only?: ReadonlySet<string>): HeaderField[] {
  const out: HeaderField[] = [];
  let longest = 0;
  if (only !== undefined) for (const n of only) longest = Math.max(longest, n.length);
  scanFields(header, 0, header.length, undefined, (f) => {
    if (only !== undefined && (!f.named || f.nameEnd - f.start > longest)) return;
    const name = f.named ? header.toString('latin1', f.start, f.nameEnd) : '';
    if (only !== undefined && !only.has(name.toLowerCase())) return;
    out.push({ name, raw: header.subarray(f.start, f.end) });
  });
  return out;
}

/** Last field named `key` (lowercase), as Dovecot's envelope takes the last occurrence. */
export function lastField(fields: readonly RawField[], key: string): RawField | undefined {
  for (let i = fields.length - 1; i >= 0; i--) if (fields[i]!.key === key) return fields[i];
  return undefined;
}

/** First field named `key` (lowercase), as MIME Content-* fields are read (RFC 2045 allows one). */
export function firstField(fields: readonly RawField[], key: string): RawField | undefined {
  for (const f of fields) if (f.key === key) return f;
  return undefined;
}

/** The unfolded value of a field given as its bytes (as headerFields returns it), trimmed. */
export function unfoldedValue(field: HeaderField): string {
  // the colon of the first line: a line without one is a field without a name, and no value
  const lf = field.raw.indexOf(LF);
  const colon = field.raw.subarray(0, lf === -1 ? field.raw.length : lf).indexOf(COLON);
  if (colon === -1) return '';
  let end = field.raw.length;
  while (end > colon + 1 && (field.raw[end - 1] === LF || field.raw[end - 1] === CR)) end--;
  return fieldValue(field.raw, { valueStart: colon + 1, valueEnd: end }).trim();
}

/**
 * The message without the header fields named in `names` (lowercase): every other byte as it
 * was, the folded lines of a dropped field dropped with it. The message itself when none is there.
 */
export function withoutFields(message: Buffer, names: ReadonlySet<string>): Buffer {
  const kept: Buffer[] = [];
  let at = 0;
  for (const f of splitFields(message, 0, message.length)) {
    if (!names.has(f.key)) continue;
    kept.push(message.subarray(at, f.start));
    at = f.end;
  }
  if (kept.length === 0) return message;
  kept.push(message.subarray(at));
  return Buffer.concat(kept);
}

/** The header section split into its fields, and where it ends. */
export interface HeaderSection {
  fields: HeaderField[];
  /** Offset just past the last field: where the empty line (or the end) starts. */
  fieldsEnd: number;
  /** Offset of the body: just past the empty line (or message length when there is none). */
  bodyStart: number;
}

/** Splits the header section of a whole message; accepts CRLF and bare LF line ends. */
export function headerSection(message: Buffer): HeaderSection {
  const fields = headerFields(message);
  const fieldsEnd = headerEnd(message);
  return { fields, fieldsEnd, bodyStart: bodyStart(message, fieldsEnd) };
}

/**
 * Where the empty line that ends a header at raw[start, limit) starts (RFC 5322 §2.1), or -1
 * when there is none; CRLF or bare LF. Native searches only, for hostile input (a header of
 * millions of short lines, where splitting into fields would cost seconds); the bare-LF empty
 * line is looked for only before the CRLF one, so a large body is not scanned twice.
 */
export function emptyLineIn(raw: Buffer, start: number, limit: number): number {
  if (start >= limit) return -1;
  if (raw[start] === LF || (raw[start] === CR && raw[start + 1] === LF && start + 1 < limit)) return start;
  const region = limit === raw.length ? raw : raw.subarray(0, limit);
  const crlf = region.indexOf('\n\r\n', start, 'latin1');
  const lf = (crlf === -1 ? region : raw.subarray(0, crlf + 2)).indexOf('\n\n', start, 'latin1');
  if (crlf === -1 && lf === -1) return -1;
  return lf === -1 || (crlf !== -1 && crlf < lf) ? crlf + 1 : lf + 1;
}

/**
 * `headerSection(message).fieldsEnd` found with native searches only (emptyLineIn): where the
 * empty line that ends the header starts, or the length when there is none.
 */
export function headerEnd(message: Buffer): number {
  const e = emptyLineIn(message, 0, message.length);
  return e === -1 ? message.length : e;
}

/** Where the body of a message starts: past the empty line at `fieldsEnd` (headerEnd), or the length. */
export function bodyStart(message: Buffer, fieldsEnd: number = headerEnd(message)): number {
  if (fieldsEnd >= message.length) return message.length;
  return fieldsEnd + (message[fieldsEnd] === CR ? 2 : 1);
}

/**
 * The header section as text (UTF-8), without the line break that ends its last field: what a
 * person reads, and what a DSN's text/rfc822-headers part carries (RFC 6522 §4).
 */
export function headerText(message: Buffer): string {
  let end = headerEnd(message);
  if (end > 0 && message[end - 1] === LF) end--;
  if (end > 0 && message[end - 1] === CR) end--;
  return message.toString('utf8', 0, end);
}

/** True when the header section has a field of that name (case-insensitive). */
export function hasField(section: HeaderSection, name: string): boolean {
  const lower = name.toLowerCase();
  return section.fields.some((f) => f.name.toLowerCase() === lower);
}
