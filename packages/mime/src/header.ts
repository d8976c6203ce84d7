/**
 * RFC 5322 §2.2 header fields, located on the raw bytes. A field is its first line plus every
 * continuation line (one starting with SP or HTAB, §2.2.3); the header ends at the first empty
 * line. A line that has no colon is kept as a field with an empty name so that nothing in the
 * header is lost (HEADER.FIELDS.NOT still returns it, HEADER.FIELDS never matches it).
 */
import { CR, LF, SP, TAB, headerBytesToString } from './bytes.js';

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

const COLON = 0x3a;

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

/** Splits raw[start, end) into fields, stopping at the first empty line (or when `budget` is spent). */
export function splitFields(raw: Buffer, start: number, end: number, budget?: HeaderBudget): RawField[] {
  const fields: RawField[] = [];
  let current: RawField | null = null;
  let p = start;
  if (budget !== undefined) end = Math.min(end, start + budget.maxBytes);
  while (p < end) {
    const lf = raw.indexOf(LF, p);
    const next = lf === -1 || lf >= end ? end : lf + 1;
    let contentEnd = next;
    if (contentEnd > p && raw[contentEnd - 1] === LF) contentEnd--;
    if (contentEnd > p && raw[contentEnd - 1] === CR) contentEnd--;
    if (contentEnd === p) break; // the empty line that ends the header
    if (budget !== undefined) {
      if (budget.lines <= 0) break;
      budget.lines--;
    }
    const first = raw[p];
    if ((first === SP || first === TAB) && current !== null) {
      current.end = next;
      current.valueEnd = contentEnd;
    } else {
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
      if (colon !== -1) {
        let nameEnd = colon;
        while (nameEnd > p && (raw[nameEnd - 1] === SP || raw[nameEnd - 1] === TAB)) nameEnd--;
        const name = raw.toString('latin1', p, nameEnd);
        current = { name, key: name.toLowerCase(), start: p, end: next, valueStart: colon + 1, valueEnd: contentEnd };
      } else {
        current = { name: '', key: '', start: p, end: next, valueStart: p, valueEnd: contentEnd };
      }
      fields.push(current);
    }
    p = next;
  }
  return fields;
}

/**
 * The unfolded value of a field as a string: line terminators removed (RFC 5322 §2.2.3),
 * the white space after the colon dropped, everything else (including folding white space)
 * kept, which is the form Dovecot puts in ENVELOPE.
 */
export function fieldValue(raw: Buffer, f: RawField): string {
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

/** Header block parsed into its fields, each with its exact raw bytes: used for HEADER.FIELDS. */
export function headerFields(header: Buffer): Array<{ name: string; raw: Buffer }> {
  return splitFields(header, 0, header.length).map((f) => ({ name: f.name, raw: header.subarray(f.start, f.end) }));
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
