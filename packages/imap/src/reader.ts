/**
 * A cursor over one framed command (its line segments and literals) with the lexical rules of
 * RFC 9051 §9: atoms, numbers, quoted strings, literals, astrings, flags. The parser is written
 * on top of it; every failure is an ImapParseError carrying the command's tag.
 */
import { ImapParseError } from './errors.js';
import type { CommandUnit, Literal } from './framing.js';
import { MAX_SEQ_NUMBER, parseSequenceSet, type SequenceSet } from './sequence.js';

const SP = 0x20;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Character classes, one bit each, indexed by octet. */
const ATOM = 1; // ATOM-CHAR
const ASTRING = 2; // ASTRING-CHAR = ATOM-CHAR / "]"
const LIST = 4; // list-char = ATOM-CHAR / "%" / "*" / "]"
const SEQ = 8; // digits, ":", ",", "*", "$"
const NAME = 16; // letters, digits, ".", "-": fetch attribute and section names

const CLASS = new Uint8Array(256);
for (let c = 0x21; c < 0x7f; c++) {
  const special = c === 0x28 || c === 0x29 || c === 0x7b || c === 0x25 || c === 0x2a || c === 0x22 || c === 0x5c || c === 0x5d;
  if (!special) CLASS[c] = (CLASS[c] as number) | ATOM | ASTRING | LIST;
}
CLASS[0x5d] = ASTRING | LIST; // ]
CLASS[0x25] = LIST; // %
CLASS[0x2a] = LIST | SEQ; // *
for (const ch of '0123456789:,$') CLASS[ch.charCodeAt(0)] = (CLASS[ch.charCodeAt(0)] as number) | SEQ;
for (let c = 0; c < 256; c++) {
  const s = String.fromCharCode(c);
  if (/[A-Za-z0-9.-]/.test(s)) CLASS[c] = (CLASS[c] as number) | NAME;
}

const SYSTEM_FLAGS = new Map(['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft', '\\Recent'].map((f) => [f.toUpperCase(), f]));

/** Largest number64 we accept: JS numbers are exact up to 2^53 - 1. */
const MAX_NUMBER64 = Number.MAX_SAFE_INTEGER;

export class Reader {
  private seg = 0;
  pos = 0;
  private line: Buffer;
  /** The command name once known, for error reports. */
  command: string | null = null;

  constructor(
    private readonly unit: CommandUnit,
    readonly tag: string | null,
  ) {
    this.line = unit.lines[0] ?? Buffer.alloc(0);
  }

  fail(message: string): never {
    throw new ImapParseError(message, this.tag, this.command);
  }

  /** The octet at the cursor, or -1 at the end of the current line segment. */
  peek(offset = 0): number {
    const i = this.pos + offset;
    return i < this.line.length ? (this.line[i] as number) : -1;
  }

  /** True at the end of the whole command. */
  atEnd(): boolean {
    return this.pos >= this.line.length && this.seg === this.unit.lines.length - 1;
  }

  /** Fails unless the whole command was consumed. */
  end(): void {
    if (!this.atEnd()) this.fail('Unexpected characters at the end of the command');
  }

  expect(octet: number, what: string): void {
    if (this.peek() !== octet) this.fail(`Expected ${what}`);
    this.pos++;
  }

  sp(): void {
    if (this.peek() !== SP) this.fail(this.pos >= this.line.length ? 'Missing arguments' : 'Expected a space');
    this.pos++;
  }

  /** Consumes `octet` when it is next. */
  accept(octet: number): boolean {
    if (this.peek() !== octet) return false;
    this.pos++;
    return true;
  }

  /** Consumes SP when it is followed by `octet`. */
  acceptSpThen(octet: number): boolean {
    if (this.peek() !== SP || this.peek(1) !== octet) return false;
    this.pos++;
    return true;
  }

  private run(mask: number): string {
    const start = this.pos;
    const line = this.line;
    while (this.pos < line.length && ((CLASS[line[this.pos] as number] as number) & mask) !== 0) this.pos++;
    return line.toString('latin1', start, this.pos);
  }

  /** `atom` (1*ATOM-CHAR). */
  atom(what = 'an atom'): string {
    const s = this.run(ATOM);
    if (s.length === 0) this.fail(`Expected ${what}`);
    return s;
  }

  /** An atom upper-cased, for keywords (command names, search keys, options). */
  keyword(what = 'a keyword'): string {
    return this.atom(what).toUpperCase();
  }

  /** Reads the keyword at the cursor if it equals `word` (case-insensitively), else leaves it. */
  acceptKeyword(word: string): boolean {
    const save = this.pos;
    const s = this.run(ATOM);
    if (s.toUpperCase() === word) return true;
    this.pos = save;
    return false;
  }

  /** A run of letters, digits, "." and "-" (fetch attribute and section names), upper-cased. */
  name(what: string): string {
    const s = this.run(NAME);
    if (s.length === 0) this.fail(`Expected ${what}`);
    return s.toUpperCase();
  }

  private digits(): string {
    const start = this.pos;
    const line = this.line;
    while (this.pos < line.length && (line[this.pos] as number) >= 0x30 && (line[this.pos] as number) <= 0x39) this.pos++;
    if (this.pos === start) this.fail('Expected a number');
    if (this.pos - start > 16) this.fail('Number out of range');
    return line.toString('latin1', start, this.pos);
  }

  /** `number`: unsigned 32-bit (RFC 9051 §9). */
  number(): number {
    const n = Number(this.digits());
    if (n > MAX_SEQ_NUMBER) this.fail('Number out of range');
    return n;
  }

  /** `nz-number`. */
  nzNumber(): number {
    const n = this.number();
    if (n === 0) this.fail('Expected a non-zero number');
    return n;
  }

  /** `number64` (sizes, offsets, mod-sequences), limited to exact JS integers. */
  number64(): number {
    const n = Number(this.digits());
    if (n > MAX_NUMBER64) this.fail('Number out of range');
    return n;
  }

  /** `sequence-set` (with `$`, RFC 5182). */
  sequenceSet(): SequenceSet {
    const text = this.run(SEQ);
    if (text.length === 0) this.fail('Expected a sequence set');
    try {
      return parseSequenceSet(text);
    } catch (err) {
      this.fail(err instanceof Error ? err.message : 'Invalid sequence set');
    }
  }

  /** True when a literal (`{`, `~{`) starts at the cursor. */
  atLiteral(): boolean {
    const c = this.peek();
    return c === 0x7b || (c === 0x7e && this.peek(1) === 0x7b);
  }

  /**
   * A literal: the marker must end the current line segment (the framer only splits there),
   * and the cursor moves to the start of the next segment.
   */
  literal(allowBinary: boolean): Literal {
    const binary = this.accept(0x7e);
    if (binary && !allowBinary) this.fail('literal8 is not allowed here');
    this.expect(0x7b, '"{"');
    const declared = Number(this.digits());
    this.accept(0x2b);
    this.expect(0x7d, '"}"');
    if (this.pos !== this.line.length) this.fail('A literal must end the line');
    const lit = this.unit.literals[this.seg];
    const nextLine = this.unit.lines[this.seg + 1];
    if (!lit || !nextLine || lit.data.length !== declared) this.fail('Literal data missing');
    this.seg++;
    this.line = nextLine;
    this.pos = 0;
    return lit;
  }

  /** `quoted`, returned as its octets. */
  quotedBytes(): Buffer {
    this.expect(DQUOTE, 'a quoted string');
    const line = this.line;
    const start = this.pos;
    // Fast path: no escapes.
    let i = start;
    while (i < line.length) {
      const c = line[i] as number;
      if (c === DQUOTE) {
        this.pos = i + 1;
        return line.subarray(start, i);
      }
      if (c === BACKSLASH) break;
      if (c === 0) this.fail('NUL in a quoted string');
      i++;
    }
    const out: number[] = [];
    for (let j = start; j < i; j++) out.push(line[j] as number);
    while (i < line.length) {
      const c = line[i] as number;
      if (c === DQUOTE) {
        this.pos = i + 1;
        return Buffer.from(out);
      }
      if (c === BACKSLASH) {
        const n = line[i + 1];
        // QUOTED-CHAR: "\" quoted-specials only
        if (n !== DQUOTE && n !== BACKSLASH) this.fail('Invalid escape in a quoted string');
        out.push(n);
        i += 2;
        continue;
      }
      if (c === 0) this.fail('NUL in a quoted string');
      out.push(c);
      i++;
    }
    this.fail('Unterminated quoted string');
  }

  /** `string` (quoted or literal) as octets. */
  stringBytes(): Buffer {
    if (this.peek() === DQUOTE) return this.quotedBytes();
    if (this.atLiteral()) return this.literal(false).data;
    this.fail('Expected a string');
  }

  /** `astring` as octets. */
  astringBytes(): Buffer {
    const c = this.peek();
    if (c === DQUOTE || c === 0x7b) return this.stringBytes();
    const start = this.pos;
    this.run(ASTRING);
    if (this.pos === start) this.fail('Expected a string');
    return this.line.subarray(start, this.pos);
  }

  /** `astring` decoded as UTF-8. */
  astring(): string {
    return this.astringBytes().toString('utf8');
  }

  /** `string` decoded as UTF-8. */
  string(): string {
    return this.stringBytes().toString('utf8');
  }

  /** `nstring`: NIL or a string. */
  nstring(): string | null {
    if (this.peek() !== DQUOTE && !this.atLiteral()) {
      if (this.acceptKeyword('NIL')) return null;
      this.fail('Expected a string or NIL');
    }
    return this.string();
  }

  /** `list-mailbox` (1*list-char / string) as octets. */
  listMailboxBytes(): Buffer {
    const c = this.peek();
    if (c === DQUOTE || c === 0x7b) return this.stringBytes();
    const start = this.pos;
    this.run(LIST);
    if (this.pos === start) this.fail('Expected a mailbox pattern');
    return this.line.subarray(start, this.pos);
  }

  /** `flag`: `\System` (canonical case for the system flags) or a keyword atom. */
  flag(): string {
    if (this.accept(BACKSLASH)) {
      const name = this.atom('a flag name');
      return SYSTEM_FLAGS.get(`\\${name}`.toUpperCase()) ?? `\\${name}`;
    }
    return this.atom('a flag');
  }

  /** `flag-list`: "(" [flag *(SP flag)] ")". */
  flagList(): string[] {
    this.expect(0x28, '"("');
    const flags: string[] = [];
    if (this.accept(0x29)) return flags;
    for (;;) {
      flags.push(this.flag());
      if (this.accept(0x29)) return flags;
      this.sp();
    }
  }

  /**
   * "(" item *(SP item) ")" with at least one item (or none when `allowEmpty`).
   * `item` reads one element at the cursor.
   */
  parenList<T>(item: () => T, allowEmpty: boolean): T[] {
    this.expect(0x28, '"("');
    const out: T[] = [];
    if (this.accept(0x29)) {
      if (!allowEmpty) this.fail('Empty list');
      return out;
    }
    for (;;) {
      out.push(item());
      if (this.accept(0x29)) return out;
      this.sp();
    }
  }

  /** The rest of the current segment up to the next space (for base64 and similar). */
  word(): string {
    const start = this.pos;
    const line = this.line;
    while (this.pos < line.length && line[this.pos] !== SP) this.pos++;
    return line.toString('latin1', start, this.pos);
  }
}
