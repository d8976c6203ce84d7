/**
 * Names of fetch items as they appear on the wire, shared by the command writer and the
 * response serializer (RFC 9051 §7.5.2: a FETCH response names a body section the way it was
 * requested, without `.PEEK` and with only the origin of a partial).
 */
import type { BodySection, FetchAttribute } from './command.js';
import { imapAString } from './string.js';

/** The inside of `[...]`: `1.2.HEADER.FIELDS (From To)`, `TEXT`, `` (whole message). */
export function formatSection(section: BodySection): string {
  let s = section.part.join('.');
  if (section.text) {
    if (s.length > 0) s += '.';
    s += section.text;
    if (section.text === 'HEADER.FIELDS' || section.text === 'HEADER.FIELDS.NOT') {
      s += ` (${(section.fields ?? []).map((f) => imapAString(f)).join(' ')})`;
    }
  }
  return s;
}

/** A fetch attribute as a client writes it in a FETCH command. */
export function formatFetchAttribute(att: FetchAttribute): string {
  switch (att.kind) {
    case 'BODY[]': {
      const p = att.partial ? `<${att.partial.offset}.${att.partial.length}>` : '';
      return `${att.peek ? 'BODY.PEEK' : 'BODY'}[${formatSection(att.section)}]${p}`;
    }
    case 'BINARY[]': {
      const p = att.partial ? `<${att.partial.offset}.${att.partial.length}>` : '';
      return `${att.peek ? 'BINARY.PEEK' : 'BINARY'}[${att.part.join('.')}]${p}`;
    }
    case 'BINARY.SIZE':
      return `BINARY.SIZE[${att.part.join('.')}]`;
    default:
      return att.kind;
  }
}
