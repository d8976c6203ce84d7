/**
 * FETCH arguments (RFC 9051 §6.4.5, RFC 3516 BINARY, RFC 7162 §3.1.4 / §3.2.6 modifiers).
 */
import type { BodySection, FetchAttribute, FetchMacro, FetchPartial } from './command.js';
import type { Reader } from './reader.js';

const SIMPLE_ATTRIBUTES = new Map<string, FetchAttribute>(
  (['ENVELOPE', 'FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'UID', 'MODSEQ', 'BODYSTRUCTURE', 'BODY', 'RFC822', 'RFC822.HEADER', 'RFC822.TEXT'] as const).map(
    (kind) => [kind, Object.freeze({ kind })],
  ),
);

function simple(kind: string): FetchAttribute {
  return SIMPLE_ATTRIBUTES.get(kind) as FetchAttribute;
}

/** RFC 9051 §6.4.5: the macros and what they stand for. */
export const FETCH_MACROS: Readonly<Record<FetchMacro, readonly FetchAttribute[]>> = Object.freeze({
  ALL: Object.freeze([simple('FLAGS'), simple('INTERNALDATE'), simple('RFC822.SIZE'), simple('ENVELOPE')]),
  FAST: Object.freeze([simple('FLAGS'), simple('INTERNALDATE'), simple('RFC822.SIZE')]),
  FULL: Object.freeze([simple('FLAGS'), simple('INTERNALDATE'), simple('RFC822.SIZE'), simple('ENVELOPE'), simple('BODY')]),
});

const SECTION_TEXTS = new Set(['HEADER', 'HEADER.FIELDS', 'HEADER.FIELDS.NOT', 'TEXT', 'MIME']);

/** `section-part`: nz-number *("." nz-number), then what follows the last number. */
function splitSectionSpec(r: Reader, spec: string): { part: number[]; text: string } {
  const pieces = spec.split('.');
  const part: number[] = [];
  let i = 0;
  for (; i < pieces.length; i++) {
    const p = pieces[i] as string;
    if (!/^[0-9]+$/.test(p)) break;
    const n = Number(p);
    if (n === 0 || p.length > 10 || n > 0xffffffff) r.fail('Invalid section part number');
    part.push(n);
  }
  return { part, text: pieces.slice(i).join('.') };
}

/** `section` = "[" [section-spec] "]", the "[" already consumed. */
function section(r: Reader): BodySection {
  if (r.accept(0x5d)) return { part: [] };
  const { part, text } = splitSectionSpec(r, r.name('a section'));
  if (text === '') {
    if (part.length === 0) r.fail('Invalid section');
    r.expect(0x5d, '"]"');
    return { part };
  }
  if (!SECTION_TEXTS.has(text)) r.fail(`Unknown section "${text}"`);
  // section-msgtext has no MIME; MIME needs a part number (RFC 9051 §6.4.5).
  if (text === 'MIME' && part.length === 0) r.fail('MIME needs a part number');
  const t = text as NonNullable<BodySection['text']>;
  if (t === 'HEADER.FIELDS' || t === 'HEADER.FIELDS.NOT') {
    r.sp();
    // header-list = "(" header-fld-name *(SP header-fld-name) ")"; header-fld-name = astring
    const fields = r.parenList(() => r.astring(), false);
    r.expect(0x5d, '"]"');
    return { part, text: t, fields };
  }
  r.expect(0x5d, '"]"');
  return { part, text: t };
}

/** `section-binary` = "[" [section-part] "]", the "[" already consumed. */
function sectionBinary(r: Reader): number[] {
  if (r.accept(0x5d)) return [];
  const { part, text } = splitSectionSpec(r, r.name('a section part'));
  if (text !== '' || part.length === 0) r.fail('BINARY takes only part numbers');
  r.expect(0x5d, '"]"');
  return part;
}

/** `partial` = "<" number64 "." nz-number64 ">" */
function partial(r: Reader): FetchPartial | null {
  if (!r.accept(0x3c)) return null;
  const offset = r.number64();
  r.expect(0x2e, '"."');
  const length = r.number64();
  if (length === 0) r.fail('Partial length must not be zero');
  r.expect(0x3e, '">"');
  return { offset, length };
}

/** One `fetch-att`. */
export function fetchAttribute(r: Reader): FetchAttribute {
  const name = r.name('a fetch attribute');
  if (r.peek() === 0x5b) {
    r.pos++;
    switch (name) {
      case 'BODY':
      case 'BODY.PEEK': {
        const s = section(r);
        return { kind: 'BODY[]', peek: name === 'BODY.PEEK', section: s, partial: partial(r) };
      }
      case 'BINARY':
      case 'BINARY.PEEK': {
        const part = sectionBinary(r);
        return { kind: 'BINARY[]', peek: name === 'BINARY.PEEK', part, partial: partial(r) };
      }
      case 'BINARY.SIZE':
        return { kind: 'BINARY.SIZE', part: sectionBinary(r) };
      default:
        r.fail(`Unknown fetch attribute "${name}["`);
    }
  }
  const att = SIMPLE_ATTRIBUTES.get(name);
  if (!att) r.fail(`Unknown fetch attribute "${name}"`);
  return att;
}

/** The fetch items: a macro, one attribute, or a parenthesised list. */
export function fetchItems(r: Reader): { attributes: readonly FetchAttribute[]; macro: FetchMacro | null } {
  if (r.peek() === 0x28) return { attributes: r.parenList(() => fetchAttribute(r), false), macro: null };
  const save = r.pos;
  const word = r.name('fetch items');
  if (word === 'ALL' || word === 'FAST' || word === 'FULL') return { attributes: FETCH_MACROS[word], macro: word };
  r.pos = save;
  return { attributes: [fetchAttribute(r)], macro: null };
}

/** `fetch-modifiers` = SP "(" fetch-modifier *(SP fetch-modifier) ")" (RFC 7162). */
export function fetchModifiers(r: Reader): { changedSince: number | null; vanished: boolean } {
  let changedSince: number | null = null;
  let vanished = false;
  r.parenList(() => {
    const m = r.keyword('a fetch modifier');
    if (m === 'CHANGEDSINCE') {
      r.sp();
      changedSince = r.number64();
    } else if (m === 'VANISHED') {
      vanished = true;
    } else {
      r.fail(`Unknown fetch modifier "${m}"`);
    }
  }, false);
  return { changedSince, vanished };
}
