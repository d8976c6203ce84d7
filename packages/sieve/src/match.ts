/**
 * Comparators (RFC 4790 §9: i;octet, i;ascii-casemap, i;ascii-numeric) and match types
 * (RFC 5228 §2.7.1 :is :contains :matches, RFC 5231 :value :count, the regex draft's :regex).
 * A test matches when any value matches any key (§2.7.1); a successful :matches or :regex
 * gives the match variables (RFC 5229 §3.2).
 */
import { SieveRuntimeError } from './errors.js';
import { compileRegex, execRegex, type Regex, type StepBudget } from './regex.js';
import type { ComparatorName, MatchSpec, RelOp } from './validate.js';

const asciiLower = (s: string): string => s.replace(/[A-Z]+/g, (m) => m.toLowerCase());

/** RFC 4790 §9.1.1: the number a string starts with; a string not starting with a digit is +infinity. */
function numeric(s: string): number {
  const m = /^[0-9]+/.exec(s);
  if (m === null) return Number.POSITIVE_INFINITY;
  return Number(m[0].replace(/^0+(?=.)/, '').slice(0, 20));
}

function order(cmp: ComparatorName, a: string, b: string): number {
  if (cmp === 'i;ascii-numeric') {
    const x = numeric(a);
    const y = numeric(b);
    return x === y ? 0 : x < y ? -1 : 1;
  }
  const x = cmp === 'i;ascii-casemap' ? asciiLower(a) : a;
  const y = cmp === 'i;ascii-casemap' ? asciiLower(b) : b;
  // octet order of the UTF-8 encodings equals code point order
  return x === y ? 0 : Buffer.compare(Buffer.from(x), Buffer.from(y));
}

function relational(rel: RelOp, o: number): boolean {
  switch (rel) {
    case 'gt':
      return o > 0;
    case 'ge':
      return o >= 0;
    case 'lt':
      return o < 0;
    case 'le':
      return o <= 0;
    case 'eq':
      return o === 0;
    case 'ne':
      return o !== 0;
  }
}

/**
 * RFC 5228 §2.7.1 wildcards: "*" any sequence, "?" one character, "\" quotes the next one.
 * Linear-time matching that only ever backtracks to the latest "*" (each "*" takes the fewest
 * characters it can, the last one extends); returns the wildcards' captures or null.
 */
export function globMatch(value: string, pattern: string, fold: boolean, budget: StepBudget): string[] | null {
  const v = [...(fold ? asciiLower(value) : value)];
  const orig = [...value];
  type P = { kind: 'lit'; ch: string } | { kind: 'one' } | { kind: 'any' };
  const p: P[] = [];
  const pc = [...(fold ? asciiLower(pattern) : pattern)];
  for (let i = 0; i < pc.length; i++) {
    const c = pc[i]!;
    if (c === '\\' && i + 1 < pc.length) p.push({ kind: 'lit', ch: pc[++i]! });
    else if (c === '*') p.push({ kind: 'any' });
    else if (c === '?') p.push({ kind: 'one' });
    else p.push({ kind: 'lit', ch: c });
  }
  const wildIndex: number[] = [];
  let w = 0;
  for (const x of p) wildIndex.push(x.kind === 'lit' ? -1 : w++);
  const caps: Array<[number, number]> = Array.from({ length: w }, () => [0, 0]);
  let i = 0;
  let j = 0;
  let starP = -1;
  let starV = 0;
  let steps = 0;
  while (i < v.length) {
    if (++steps >= 1024) {
      budget.spend(steps);
      steps = 0;
    }
    const x = p[j];
    if (x !== undefined && x.kind === 'any') {
      starP = j;
      starV = i;
      caps[wildIndex[j]!] = [i, i];
      j++;
    } else if (x !== undefined && (x.kind === 'one' || x.ch === v[i])) {
      if (x.kind === 'one') caps[wildIndex[j]!] = [i, i + 1];
      i++;
      j++;
    } else if (starP >= 0) {
      starV++;
      caps[wildIndex[starP]!] = [caps[wildIndex[starP]!]![0], starV];
      i = starV;
      j = starP + 1;
    } else return null;
  }
  while (j < p.length && p[j]!.kind === 'any') {
    caps[wildIndex[j]!] = [i, i];
    j++;
  }
  budget.spend(steps);
  if (j !== p.length) return null;
  return [value, ...caps.map(([a, b]) => orig.slice(a, b).join(''))];
}

export interface MatchResult {
  ok: boolean;
  /** Match variables ${0}..${n}, when the match type sets them. */
  captures: string[] | null;
}

const NO: MatchResult = { ok: false, captures: null };

export class Matcher {
  private readonly regexes = new Map<string, Regex>();

  constructor(
    private readonly budget: StepBudget,
    /** Distinct compiled regular expressions kept per run. */
    private readonly maxRegexes = 64,
  ) {}

  private regex(key: string, fold: boolean): Regex {
    const id = `${fold ? 'i' : 'o'}${key}`;
    let re = this.regexes.get(id);
    if (re === undefined) {
      if (this.regexes.size >= this.maxRegexes) this.regexes.clear();
      try {
        re = compileRegex(key, fold);
      } catch (err) {
        throw new SieveRuntimeError(`bad regular expression ${JSON.stringify(key)}: ${(err as Error).message}`);
      }
      this.regexes.set(id, re);
    }
    return re;
  }

  /** Any value against any key. */
  match(spec: MatchSpec, values: readonly string[], keys: readonly string[]): MatchResult {
    const cmp = spec.comparator;
    if (spec.type === 'count') {
      const count = String(values.length);
      for (const k of keys) if (relational(spec.rel!, order(cmp, count, k))) return { ok: true, captures: null };
      return NO;
    }
    const fold = cmp === 'i;ascii-casemap';
    for (const v of values) {
      for (const k of keys) {
        this.budget.spend(1 + (v.length >> 10));
        switch (spec.type) {
          case 'is':
            if (order(cmp, v, k) === 0) return { ok: true, captures: null };
            break;
          case 'contains':
            if ((fold ? asciiLower(v) : v).includes(fold ? asciiLower(k) : k)) return { ok: true, captures: null };
            break;
          case 'value':
            if (relational(spec.rel!, order(cmp, v, k))) return { ok: true, captures: null };
            break;
          case 'matches': {
            const caps = globMatch(v, k, fold, this.budget);
            if (caps !== null) return { ok: true, captures: caps };
            break;
          }
          case 'regex': {
            const caps = execRegex(this.regex(k, fold), v, this.budget);
            if (caps !== null) return { ok: true, captures: caps };
            break;
          }
        }
      }
    }
    return NO;
  }
}
