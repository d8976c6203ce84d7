// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Sieve writes its variables as ${name}
import { describe, expect, it } from 'vitest';
import { compile, DEFAULT_LIMITS, SieveSyntaxError } from './index.js';

function error(script: string, limits = DEFAULT_LIMITS): SieveSyntaxError {
  try {
    compile(script, limits);
  } catch (err) {
    if (err instanceof SieveSyntaxError) return err;
    throw err;
  }
  throw new Error('compiled');
}

describe('lexer and parser (RFC 5228 §8)', () => {
  it('reads comments, numbers with quantifiers, multi-line strings with dot-stuffing', () => {
    const s = compile(`# a comment\r\nrequire ["fileinto"]; /* block\ncomment */\nif size :over 1K { fileinto text:\n..INBOX\n.\n; }\n`, DEFAULT_LIMITS);
    const cmd = s.commands[0]!;
    expect(cmd.tests[0]!.pos[0]).toBe(1024);
    expect(cmd.block![0]!.pos[0]).toEqual(['.INBOX\r\n']);
  });

  it('quoted strings keep only \\" and \\\\ as escapes', () => {
    const s = compile('keep; if header :is "subject" "a\\"b\\\\c\\d" { stop; }', DEFAULT_LIMITS);
    expect(s.commands[1]!.tests[0]!.pos[1]).toEqual(['a"b\\cd']);
  });

  it.each([
    ['keep', 1, 5, 'expected ";" or "{" after the command "keep"'],
    ['if true {\n  keep;\n', 3, 1, 'missing "}"'],
    ['keep;\n  frobnicate;', 2, 3, 'unknown command "frobnicate"'],
    ['require "fileinto";\nkeep;\nrequire "copy";', 3, 1, '"require" must come before'],
    ['fileinto "x";', 1, 1, 'needs require "fileinto"'],
    ['require "nonsense";', 1, 9, 'unsupported extension "nonsense"'],
    ['if header :is "a" { keep; }', 1, 4, 'takes 2 positional arguments'],
    ['if header :bogus "a" "b" { keep; }', 1, 11, 'has no tag ":bogus"'],
    ['if header :is :contains "a" "b" { keep; }', 1, 15, 'exclude each other'],
    ['redirect ["a@b", "c@d"];', 1, 10, 'one string, not a list'],
    ['if size 10 { keep; }', 1, 4, '"size" takes'],
    ['elsif true { keep; }', 1, 1, 'must follow "if"'],
    ['keep; "unterminated', 1, 7, 'unterminated quoted string'],
    ['if header :comparator "i;frob" "a" "b" { keep; }', 1, 4, 'unknown comparator'],
    ['require "regex";\nif header :regex "s" "(a" { keep; }', 2, 4, 'bad regular expression'],
    ['require "relational";\nif header :value "xx" "s" "a" { keep; }', 2, 4, 'takes one of "gt"'],
  ])('%j fails at %i:%i', (script, line, column, msg) => {
    const e = error(script);
    expect(e.reason).toContain(msg);
    expect([e.line, e.column]).toEqual([line, column]);
  });

  it('refuses a script over the size limit, and nesting past the limit', () => {
    expect(error('keep;'.repeat(20), { ...DEFAULT_LIMITS, maxScriptSize: 50 }).reason).toContain('more than the limit of 50');
    const deep = `${'if true {'.repeat(40)}keep;${'}'.repeat(40)}`;
    expect(error(deep).reason).toContain('nested deeper than 32');
    const tests = `if ${'not '.repeat(100)}true { keep; }`;
    expect(error(tests).reason).toContain('nested deeper');
    const lists = `if ${'allof('.repeat(100)}true${')'.repeat(100)} { keep; }`;
    expect(error(lists).reason).toContain('nested deeper');
  });

  it('a 1 MB string is refused by size before it is read', () => {
    expect(error(`keep; # ${'x'.repeat(1 << 20)}`).reason).toContain('more than the limit');
  });
});

describe('compile on any input', () => {
  it('either compiles or throws SieveSyntaxError with a place, never anything else', async () => {
    const fc = (await import('fast-check')).default;
    const pieces = [
      'require',
      '"fileinto"',
      'if',
      'header',
      ':is',
      ':matches',
      '"a*"',
      '[',
      ']',
      ',',
      '(',
      ')',
      '{',
      '}',
      ';',
      'text:\n',
      '\n.\n',
      '#',
      '/*',
      '*/',
      '1K',
      'not',
      'anyof',
      'keep',
      'fileinto',
      '${hex:41}',
      '"\\"',
      ' ',
      '\r\n',
    ];
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 200 }),
          fc.array(fc.constantFrom(...pieces), { maxLength: 60 }).map((a) => a.join(' ')),
        ),
        (src) => {
          try {
            compile(src, DEFAULT_LIMITS);
          } catch (err) {
            expect(err).toBeInstanceOf(SieveSyntaxError);
            expect((err as SieveSyntaxError).line).toBeGreaterThanOrEqual(1);
            expect((err as SieveSyntaxError).column).toBeGreaterThanOrEqual(1);
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});
