/**
 * The Sieve grammar (RFC 5228 §8.2) as a recursive-descent parser over the lexer's tokens. It
 * knows no command names: it builds a generic tree of commands, arguments and tests, and the
 * validator (validate.ts) checks that tree against what each command accepts. Nesting of blocks
 * and tests is bounded (`maxNesting`) so a hostile script cannot exhaust the stack.
 */
import { SieveSyntaxError } from './errors.js';
import type { Token } from './lexer.js';

export interface Place {
  line: number;
  column: number;
}

export type Argument =
  | ({ kind: 'tag'; name: string } & Place)
  | ({ kind: 'number'; value: number } & Place)
  /** `list`: written in brackets (a string-list), else one string. */
  | ({ kind: 'strings'; values: string[]; list: boolean } & Place);

export interface TestNode extends Place {
  name: string;
  args: Argument[];
  tests: TestNode[];
}

export interface CommandNode extends Place {
  name: string;
  args: Argument[];
  tests: TestNode[];
  /** Commands in the block, or null when the command ended with ";". */
  block: CommandNode[] | null;
}

export function parse(tokens: readonly Token[], maxNesting: number): CommandNode[] {
  let pos = 0;
  const peek = (): Token => tokens[pos]!;
  const next = (): Token => tokens[pos++]!;
  const fail = (t: Token, msg: string): never => {
    throw new SieveSyntaxError(msg, t.line, t.column);
  };
  const isPunct = (t: Token, c: string): boolean => t.kind === 'punct' && t.text === c;
  const describe = (t: Token): string => (t.kind === 'eof' ? 'the end of the script' : t.kind === 'string' ? 'a string' : `"${t.text}"`);

  function commands(depth: number, inBlock: boolean): CommandNode[] {
    const out: CommandNode[] = [];
    for (;;) {
      const t = peek();
      if (t.kind === 'eof') {
        if (inBlock) fail(t, 'missing "}" at the end of a block');
        return out;
      }
      if (isPunct(t, '}')) {
        if (!inBlock) fail(t, 'unexpected "}"');
        return out;
      }
      out.push(command(depth));
    }
  }

  function command(depth: number): CommandNode {
    const t = next();
    if (t.kind !== 'identifier') fail(t, `expected a command name, found ${describe(t)}`);
    const { args, tests } = argumentsOf(depth);
    const end = next();
    if (isPunct(end, ';')) return { name: t.text, args, tests, block: null, line: t.line, column: t.column };
    if (isPunct(end, '{')) {
      if (depth + 1 > maxNesting) fail(end, `blocks nested deeper than ${maxNesting}`);
      const block = commands(depth + 1, true);
      next(); // "}"
      return { name: t.text, args, tests, block, line: t.line, column: t.column };
    }
    return fail(end, `expected ";" or "{" after the command "${t.text}", found ${describe(end)}`);
  }

  function argumentsOf(depth: number): { args: Argument[]; tests: TestNode[] } {
    const args: Argument[] = [];
    for (;;) {
      const t = peek();
      if (t.kind === 'tag') {
        next();
        args.push({ kind: 'tag', name: t.text, line: t.line, column: t.column });
      } else if (t.kind === 'number') {
        next();
        args.push({ kind: 'number', value: t.value, line: t.line, column: t.column });
      } else if (t.kind === 'string') {
        next();
        args.push({ kind: 'strings', values: [t.text], list: false, line: t.line, column: t.column });
      } else if (isPunct(t, '[')) {
        next();
        const values: string[] = [];
        for (;;) {
          const s = next();
          if (s.kind !== 'string') fail(s, `expected a string in the list, found ${describe(s)}`);
          values.push(s.text);
          const sep = next();
          if (isPunct(sep, ']')) break;
          if (!isPunct(sep, ',')) fail(sep, `expected "," or "]" in a string list, found ${describe(sep)}`);
        }
        args.push({ kind: 'strings', values, list: true, line: t.line, column: t.column });
      } else break;
    }
    const t = peek();
    if (t.kind === 'identifier') return { args, tests: [test(depth + 1)] };
    if (isPunct(t, '(')) return { args, tests: testList(depth + 1) };
    return { args, tests: [] };
  }

  function test(depth: number): TestNode {
    const t = next();
    if (t.kind !== 'identifier') fail(t, `expected a test, found ${describe(t)}`);
    if (depth > maxNesting) fail(t, `tests nested deeper than ${maxNesting}`);
    const { args, tests } = argumentsOf(depth);
    return { name: t.text, args, tests, line: t.line, column: t.column };
  }

  function testList(depth: number): TestNode[] {
    const open = next();
    if (depth > maxNesting) fail(open, `tests nested deeper than ${maxNesting}`);
    const out: TestNode[] = [];
    for (;;) {
      out.push(test(depth));
      const sep = next();
      if (isPunct(sep, ')')) return out;
      if (!isPunct(sep, ',')) fail(sep, `expected "," or ")" in a test list, found ${describe(sep)}`);
    }
  }

  return commands(0, false);
}
