/**
 * Sieve lexical analysis (RFC 5228 §8.1): identifiers, tags, numbers with K/M/G quantifiers,
 * quoted strings, multi-line `text:` strings, the punctuation of the grammar, and both comment
 * forms. Every token carries the line and column (1-based) where it starts, so every error the
 * parser or validator reports names a place in the script.
 */
import { SieveSyntaxError } from './errors.js';

export type TokenKind = 'identifier' | 'tag' | 'number' | 'string' | 'punct' | 'eof';

export interface Token {
  kind: TokenKind;
  /** identifier/tag: lowercased name (tags without ':'); string: its value; punct: the character. */
  text: string;
  /** number: its value with the quantifier applied. */
  value: number;
  line: number;
  column: number;
}

/** RFC 5228 §2.4.1: numbers are unsigned 32-bit at least; we cap at 2^53 so they stay exact. */
const QUANTIFIER: Record<string, number> = { k: 1024, m: 1024 * 1024, g: 1024 * 1024 * 1024 };

export function tokenize(src: string, maxTokens: number): Token[] {
  const out: Token[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const col = (at: number): number => at - lineStart + 1;
  const fail = (at: number, msg: string): never => {
    throw new SieveSyntaxError(msg, line, col(at));
  };
  const push = (kind: TokenKind, text: string, at: number, atLine: number, atCol: number, value = 0): void => {
    if (out.length >= maxTokens) throw new SieveSyntaxError(`script has more than ${maxTokens} tokens`, atLine, atCol);
    out.push({ kind, text, value, line: atLine, column: atCol });
    void at;
  };
  while (i < src.length) {
    const c = src[i]!;
    if (c === '\n') {
      i++;
      line++;
      lineStart = i;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r') {
      i++;
      continue;
    }
    if (c === '#') {
      while (i < src.length && src[i] !== '\n') i++;
      continue;
    }
    if (c === '/' && src[i + 1] === '*') {
      const startLine = line;
      const startCol = col(i);
      i += 2;
      for (;;) {
        if (i >= src.length) throw new SieveSyntaxError('unterminated /* comment', startLine, startCol);
        if (src[i] === '*' && src[i + 1] === '/') {
          i += 2;
          break;
        }
        if (src[i] === '\n') {
          line++;
          lineStart = i + 1;
        }
        i++;
      }
      continue;
    }
    const startLine = line;
    const startCol = col(i);
    if (c === '"') {
      // §2.4.2: only \" and \\ are escapes; any other backslash is dropped (the character kept)
      let value = '';
      i++;
      for (;;) {
        if (i >= src.length) throw new SieveSyntaxError('unterminated quoted string', startLine, startCol);
        const ch = src[i]!;
        if (ch === '"') {
          i++;
          break;
        }
        if (ch === '\\') {
          const next = src[i + 1];
          if (next === undefined) throw new SieveSyntaxError('unterminated quoted string', startLine, startCol);
          if (next === '\n') {
            line++;
            lineStart = i + 2;
          }
          value += next;
          i += 2;
          continue;
        }
        if (ch === '\n') {
          line++;
          lineStart = i + 1;
        }
        value += ch;
        i++;
      }
      // §2.4.2: a bare CR or LF inside a quoted string is read as CRLF
      push('string', value.replace(/\r?\n/g, '\r\n'), i, startLine, startCol);
      continue;
    }
    if (c === ':') {
      let j = i + 1;
      while (j < src.length && /[A-Za-z0-9_]/.test(src[j]!)) j++;
      if (j === i + 1 || !/[A-Za-z_]/.test(src[i + 1]!)) fail(i, 'a tag is ":" followed by a name');
      push('tag', src.slice(i + 1, j).toLowerCase(), i, startLine, startCol);
      i = j;
      continue;
    }
    if (c >= '0' && c <= '9') {
      let j = i;
      while (j < src.length && src[j]! >= '0' && src[j]! <= '9') j++;
      let value = Number(src.slice(i, j));
      const q = src[j]?.toLowerCase();
      if (q !== undefined && q in QUANTIFIER) {
        value *= QUANTIFIER[q]!;
        j++;
      }
      if (!Number.isSafeInteger(value)) fail(i, 'number too large');
      if (j < src.length && /[A-Za-z_]/.test(src[j]!)) fail(j, 'a number is followed by K, M, G or a separator');
      push('number', src.slice(i, j), i, startLine, startCol, value);
      i = j;
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      let j = i;
      while (j < src.length && /[A-Za-z0-9_]/.test(src[j]!)) j++;
      const word = src.slice(i, j);
      if (word.toLowerCase() === 'text' && src[j] === ':') {
        // §2.4.2 multi-line: "text:" then spaces/tabs and an optional comment up to CRLF, then
        // lines up to one consisting of "." alone; a leading ".." loses one dot (dot-stuffing).
        j++;
        while (src[j] === ' ' || src[j] === '\t') j++;
        if (src[j] === '#') while (j < src.length && src[j] !== '\n') j++;
        if (src[j] === '\r') j++;
        if (src[j] !== '\n') throw new SieveSyntaxError('"text:" must be followed by the end of the line', line, col(j));
        j++;
        line++;
        lineStart = j;
        const lines: string[] = [];
        for (;;) {
          if (j >= src.length) throw new SieveSyntaxError('multi-line string not ended by a line with a single "."', startLine, startCol);
          let end = src.indexOf('\n', j);
          if (end < 0) end = src.length;
          let text = src.slice(j, end);
          if (text.endsWith('\r')) text = text.slice(0, -1);
          j = end + 1;
          line++;
          lineStart = j;
          if (text === '.') break;
          lines.push(text.startsWith('..') ? text.slice(1) : text);
        }
        i = Math.min(j, src.length);
        if (j > src.length) {
          // the closing "." was the last line without a newline
          line--;
        }
        push('string', lines.map((l) => `${l}\r\n`).join(''), i, startLine, startCol);
        continue;
      }
      push('identifier', word.toLowerCase(), i, startLine, startCol);
      i = j;
      continue;
    }
    if ('[](),;{}'.includes(c)) {
      push('punct', c, i, startLine, startCol);
      i++;
      continue;
    }
    fail(i, `unexpected character ${JSON.stringify(c)}`);
  }
  out.push({ kind: 'eof', text: '', value: 0, line, column: col(i) });
  return out;
}
