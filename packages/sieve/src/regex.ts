/**
 * POSIX extended regular expressions for the `:regex` match type (draft-ietf-sieve-regex, as
 * Pigeonhole implements it), run by a Pike virtual machine: time linear in the subject times the
 * program size, never the exponential backtracking of JavaScript's RegExp, so a hostile pattern
 * cannot stall delivery. Every step is charged to the caller's budget.
 *
 * Supported: literals, ".", bracket expressions with ranges and [:class:], "^", "$", groups,
 * "|", and the quantifiers "*", "+", "?", "{m}", "{m,}", "{m,n}" (m, n <= 255). Captures are
 * leftmost-first (what the match variables ${1}..${9} get); whether a subject matches is exact.
 */

type Inst =
  | { op: 'char'; test: (c: number) => boolean }
  | { op: 'split'; x: number; y: number }
  | { op: 'jmp'; x: number }
  | { op: 'save'; n: number }
  | { op: 'bol' }
  | { op: 'eol' }
  | { op: 'match' };

export interface Regex {
  prog: Inst[];
  groups: number;
}

/** Instructions one pattern may compile to (counted repetitions multiply). */
const MAX_PROGRAM = 20_000;

type Node =
  | { t: 'char'; test: (c: number) => boolean }
  | { t: 'bol' }
  | { t: 'eol' }
  | { t: 'cat'; items: Node[] }
  | { t: 'alt'; items: Node[] }
  | { t: 'group'; n: number; body: Node }
  | { t: 'rep'; body: Node; min: number; max: number };

const CLASSES: Record<string, (c: number) => boolean> = {
  alpha: (c) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122),
  digit: (c) => c >= 48 && c <= 57,
  alnum: (c) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57),
  upper: (c) => c >= 65 && c <= 90,
  lower: (c) => c >= 97 && c <= 122,
  space: (c) => c === 32 || (c >= 9 && c <= 13),
  blank: (c) => c === 32 || c === 9,
  punct: (c) => (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126),
  xdigit: (c) => (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102),
  cntrl: (c) => c < 32 || c === 127,
  print: (c) => c >= 32 && c !== 127,
  graph: (c) => c > 32 && c !== 127,
};

const fold = (c: number): number => (c >= 65 && c <= 90 ? c + 32 : c);

export function compileRegex(pattern: string, caseInsensitive: boolean): Regex {
  const cps = [...pattern].map((ch) => ch.codePointAt(0)!);
  let i = 0;
  let groups = 0;
  const err = (msg: string): never => {
    throw new Error(`${msg} at offset ${i}`);
  };
  const lit = (c: number): ((x: number) => boolean) => {
    if (caseInsensitive) {
      const f = fold(c);
      return (x) => fold(x) === f;
    }
    return (x) => x === c;
  };

  function alt(depth: number): Node {
    if (depth > 64) err('groups nested too deep');
    const items = [cat(depth)];
    while (cps[i] === 0x7c) {
      i++;
      items.push(cat(depth));
    }
    return items.length === 1 ? items[0]! : { t: 'alt', items };
  }

  function cat(depth: number): Node {
    const items: Node[] = [];
    while (i < cps.length && cps[i] !== 0x7c && cps[i] !== 0x29) {
      let atom = atomOf(depth);
      for (;;) {
        const q = cps[i];
        if (q === 0x2a) atom = { t: 'rep', body: atom, min: 0, max: -1 };
        else if (q === 0x2b) atom = { t: 'rep', body: atom, min: 1, max: -1 };
        else if (q === 0x3f) atom = { t: 'rep', body: atom, min: 0, max: 1 };
        else if (q === 0x7b) {
          const m = /^\{(\d{1,3})(,(\d{0,3}))?\}/.exec(String.fromCodePoint(...cps.slice(i, i + 10)));
          if (m === null) err('bad interval');
          const min = Number(m![1]);
          const max = m![2] === undefined ? min : m![3] === '' ? -1 : Number(m![3]);
          if (min > 255 || max > 255 || (max >= 0 && max < min)) err('bad interval');
          atom = { t: 'rep', body: atom, min, max };
          i += m![0].length - 1;
        } else break;
        i++;
      }
      items.push(atom);
    }
    return { t: 'cat', items };
  }

  function atomOf(depth: number): Node {
    const c = cps[i++]!;
    switch (c) {
      case 0x28: {
        const n = ++groups;
        const body = alt(depth + 1);
        if (cps[i] !== 0x29) err('missing ")"');
        i++;
        return { t: 'group', n, body };
      }
      case 0x2e:
        return { t: 'char', test: () => true };
      case 0x5e:
        return { t: 'bol' };
      case 0x24:
        return { t: 'eol' };
      case 0x5b:
        return bracket();
      case 0x5c: {
        if (i >= cps.length) err('trailing backslash');
        return { t: 'char', test: lit(cps[i++]!) };
      }
      case 0x2a:
      case 0x2b:
      case 0x3f:
        return err('a quantifier with nothing before it');
      default:
        return { t: 'char', test: lit(c) };
    }
  }

  function bracket(): Node {
    let negate = false;
    if (cps[i] === 0x5e) {
      negate = true;
      i++;
    }
    const tests: Array<(c: number) => boolean> = [];
    let first = true;
    for (;;) {
      if (i >= cps.length) err('missing "]"');
      const c = cps[i]!;
      if (c === 0x5d && !first) {
        i++;
        break;
      }
      first = false;
      if (c === 0x5b && cps[i + 1] === 0x3a) {
        const rest = String.fromCodePoint(...cps.slice(i, i + 12));
        const m = /^\[:([a-z]+):\]/.exec(rest);
        const cls = m ? CLASSES[m[1]!] : undefined;
        if (!m || !cls) err('unknown character class');
        tests.push(caseInsensitive && (m![1] === 'upper' || m![1] === 'lower') ? CLASSES['alpha']! : cls!);
        i += m![0].length;
        continue;
      }
      i++;
      if (cps[i] === 0x2d && cps[i + 1] !== undefined && cps[i + 1] !== 0x5d) {
        const hi = cps[i + 1]!;
        if (hi < c) err('range out of order');
        i += 2;
        tests.push(caseInsensitive ? (x) => (x >= c && x <= hi) || (fold(x) >= fold(c) && fold(x) <= fold(hi)) : (x) => x >= c && x <= hi);
        continue;
      }
      tests.push(lit(c));
    }
    const any = (x: number): boolean => tests.some((t) => t(x));
    return { t: 'char', test: negate ? (x) => !any(x) : any };
  }

  const tree = alt(0);
  if (i < cps.length) err('unmatched ")"');

  const prog: Inst[] = [];
  const emit = (inst: Inst): number => {
    if (prog.length >= MAX_PROGRAM) throw new Error(`pattern compiles to more than ${MAX_PROGRAM} instructions`);
    prog.push(inst);
    return prog.length - 1;
  };
  function gen(n: Node): void {
    switch (n.t) {
      case 'char':
        emit({ op: 'char', test: n.test });
        return;
      case 'bol':
        emit({ op: 'bol' });
        return;
      case 'eol':
        emit({ op: 'eol' });
        return;
      case 'cat':
        for (const x of n.items) gen(x);
        return;
      case 'group':
        emit({ op: 'save', n: n.n * 2 });
        gen(n.body);
        emit({ op: 'save', n: n.n * 2 + 1 });
        return;
      case 'alt': {
        const jumps: number[] = [];
        n.items.forEach((x, k) => {
          if (k < n.items.length - 1) {
            const s = emit({ op: 'split', x: prog.length + 1, y: 0 });
            gen(x);
            jumps.push(emit({ op: 'jmp', x: 0 }));
            (prog[s] as { y: number }).y = prog.length;
          } else gen(x);
        });
        for (const j of jumps) (prog[j] as { x: number }).x = prog.length;
        return;
      }
      case 'rep': {
        for (let k = 0; k < n.min; k++) gen(n.body);
        if (n.max < 0) {
          const s = emit({ op: 'split', x: prog.length + 1, y: 0 });
          gen(n.body);
          emit({ op: 'jmp', x: s });
          (prog[s] as { y: number }).y = prog.length;
        } else {
          const ends: number[] = [];
          for (let k = n.min; k < n.max; k++) {
            ends.push(emit({ op: 'split', x: prog.length + 1, y: 0 }));
            gen(n.body);
          }
          for (const s of ends) (prog[s] as { y: number }).y = prog.length;
        }
        return;
      }
    }
  }
  emit({ op: 'save', n: 0 });
  gen(tree);
  emit({ op: 'save', n: 1 });
  emit({ op: 'match' });
  return { prog, groups };
}

export interface StepBudget {
  /** Called with the steps spent; throws when the budget is gone. */
  spend(n: number): void;
}

/**
 * The first (leftmost) match of `re` in `subject`: the captured substrings, [0] being the whole
 * match; null when there is none.
 */
export function execRegex(re: Regex, subject: string, budget: StepBudget): string[] | null {
  const chars = [...subject];
  const s = chars.map((ch) => ch.codePointAt(0)!);
  const { prog } = re;
  const nsave = (re.groups + 1) * 2;
  type Thread = { pc: number; caps: number[] };
  let clist: Thread[] = [];
  let matched: number[] | null = null;
  const seen = new Int32Array(prog.length).fill(-1);

  const add = (list: Thread[], pc: number, caps: number[], at: number, gen: number): void => {
    // iterative epsilon closure in priority order
    const stack: Array<{ pc: number; caps: number[] }> = [{ pc, caps }];
    while (stack.length > 0) {
      const t = stack.pop()!;
      if (seen[t.pc] === gen) continue;
      seen[t.pc] = gen;
      const inst = prog[t.pc]!;
      switch (inst.op) {
        case 'jmp':
          stack.push({ pc: inst.x, caps: t.caps });
          break;
        case 'split':
          stack.push({ pc: inst.y, caps: t.caps }, { pc: inst.x, caps: t.caps });
          break;
        case 'save': {
          const c = t.caps.slice();
          c[inst.n] = at;
          stack.push({ pc: t.pc + 1, caps: c });
          break;
        }
        case 'bol':
          if (at === 0) stack.push({ pc: t.pc + 1, caps: t.caps });
          break;
        case 'eol':
          if (at === s.length) stack.push({ pc: t.pc + 1, caps: t.caps });
          break;
        default:
          list.push(t);
      }
    }
  };

  let gen = 0;
  for (let at = 0; at <= s.length; at++) {
    if (matched === null) add(clist, 0, new Array<number>(nsave).fill(-1), at, gen);
    budget.spend(1 + clist.length);
    gen++;
    const nlist: Thread[] = [];
    for (const t of clist) {
      const inst = prog[t.pc]!;
      if (inst.op === 'match') {
        matched = t.caps;
        break; // lower-priority threads are cut
      }
      if (inst.op === 'char' && at < s.length && inst.test(s[at]!)) add(nlist, t.pc + 1, t.caps, at + 1, gen);
    }
    clist = nlist;
    if (clist.length === 0 && matched !== null) break;
  }
  for (const t of clist) {
    if (prog[t.pc]!.op === 'match') {
      matched = t.caps;
      break;
    }
  }
  if (matched === null) return null;
  const out: string[] = [];
  for (let g = 0; g <= re.groups; g++) {
    const a = matched[g * 2]!;
    const b = matched[g * 2 + 1]!;
    out.push(a >= 0 && b >= 0 ? chars.slice(a, b).join('') : '');
  }
  return out;
}
