/**
 * The header section of a message as a list of fields, byte for byte (RFC 5322 §2.2): a field
 * starts on a line that does not begin with white space and goes on over folded lines. Used to
 * read and to drop fields without touching any other byte of the message.
 */
export interface HeaderField {
  /** Field name as written (no colon). '' for a malformed line without a colon. */
  name: string;
  /** The whole field, folded lines and final line break included. */
  raw: Buffer;
}

export interface HeaderSection {
  fields: HeaderField[];
  /** Offset just past the last field: where the empty line (or the end) starts. */
  fieldsEnd: number;
  /** Offset of the body: just past the empty line (or message length when there is none). */
  bodyStart: number;
}

/**
 * `headerSection(message).fieldsEnd` found with native searches only: where the empty line that
 * ends the header starts (RFC 5322 §2.1), or the length when there is none. For hostile input
 * (a header of millions of short lines), where splitting into fields would cost seconds.
 */
export function headerEnd(message: Buffer): number {
  if (message[0] === 0x0a || (message[0] === 0x0d && message[1] === 0x0a)) return 0;
  const lf = message.indexOf('\n\n');
  const crlf = message.indexOf('\n\r\n');
  const first = lf < 0 ? crlf : crlf < 0 ? lf : Math.min(lf, crlf);
  return first < 0 ? message.length : first + 1;
}

/** Splits the header section; accepts CRLF and bare LF line ends. */
export function headerSection(message: Buffer): HeaderSection {
  const fields: HeaderField[] = [];
  let pos = 0;
  let current: { start: number; name: string } | null = null;
  const close = (end: number): void => {
    if (current) fields.push({ name: current.name, raw: message.subarray(current.start, end) });
    current = null;
  };
  while (pos < message.length) {
    const nl = message.indexOf(0x0a, pos);
    const end = nl === -1 ? message.length : nl + 1;
    const first = message[pos];
    // An empty line ends the header section (RFC 5322 §2.1).
    if (first === 0x0a || (first === 0x0d && message[pos + 1] === 0x0a)) {
      close(pos);
      return { fields, fieldsEnd: pos, bodyStart: end };
    }
    if (first === 0x20 || first === 0x09) {
      // continuation of the current field; a leading fold with no field is kept as its own
      if (!current) current = { start: pos, name: '' };
    } else {
      close(pos);
      const line = message.subarray(pos, end).toString('latin1');
      const colon = line.indexOf(':');
      current = { start: pos, name: colon > 0 ? line.slice(0, colon).trim() : '' };
    }
    pos = end;
  }
  close(message.length);
  return { fields, fieldsEnd: message.length, bodyStart: message.length };
}

/** The unfolded value of a field (after the colon), trimmed. */
export function fieldValue(field: HeaderField): string {
  const text = field.raw.toString('utf8');
  const colon = text.indexOf(':');
  return text
    .slice(colon + 1)
    .replace(/\r?\n(?=[ \t])/g, '')
    .trim();
}

/** True when the header section has a field of that name (case-insensitive). */
export function hasField(section: HeaderSection, name: string): boolean {
  const lower = name.toLowerCase();
  return section.fields.some((f) => f.name.toLowerCase() === lower);
}
