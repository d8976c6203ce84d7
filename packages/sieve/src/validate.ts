/**
 * The validator: checks the parsed tree against what each command and test accepts (its tags,
 * positional arguments, tests, block) and the capabilities `require`d (RFC 5228 §3.2: using an
 * extension not required is an error), and turns it into the compiled form the executor runs:
 * tags resolved to a map, positional arguments in order, comparators and match types checked,
 * regular expressions compiled, encoded characters (RFC 5228 §2.4.2.4) decoded.
 */
import { SieveSyntaxError } from './errors.js';
import type { Argument, CommandNode, TestNode } from './parser.js';
import { compileRegex } from './regex.js';

/** Every capability this interpreter implements (the ManageSieve SIEVE capability lists them). */
export const CAPABILITIES = [
  'fileinto',
  'reject',
  'ereject',
  'envelope',
  'encoded-character',
  'imap4flags',
  'variables',
  'vacation',
  'vacation-seconds',
  'copy',
  'body',
  'relational',
  'comparator-i;ascii-numeric',
  'subaddress',
  'date',
  'index',
  'mailbox',
  'include',
  'duplicate',
  'editheader',
  'regex',
  'spamtest',
] as const;

const KNOWN = new Set<string>(CAPABILITIES);

type ArgType = 'string' | 'strings' | 'number';
type Common = 'match' | 'comparator' | 'address-part' | 'index' | 'transform' | 'zone';

interface TagSpec {
  arg?: ArgType;
  ext?: string;
  /** Tags of one group exclude each other. */
  group?: string;
}

interface Spec {
  ext?: string;
  tags?: Record<string, TagSpec>;
  common?: Common[];
  pos: Array<{ type: ArgType; optional?: boolean }>;
  tests?: 'none' | 'one' | 'list';
}

const S = { type: 'string' } as const;
const L = { type: 'strings' } as const;
const N = { type: 'number' } as const;

const COMMON: Record<Common, Record<string, TagSpec>> = {
  match: {
    is: { group: 'match' },
    contains: { group: 'match' },
    matches: { group: 'match' },
    regex: { group: 'match', ext: 'regex' },
    value: { group: 'match', ext: 'relational', arg: 'string' },
    count: { group: 'match', ext: 'relational', arg: 'string' },
  },
  comparator: { comparator: { arg: 'string' } },
  'address-part': {
    all: { group: 'address-part' },
    localpart: { group: 'address-part' },
    domain: { group: 'address-part' },
    user: { group: 'address-part', ext: 'subaddress' },
    detail: { group: 'address-part', ext: 'subaddress' },
  },
  index: { index: { arg: 'number', ext: 'index' }, last: { ext: 'index' } },
  transform: { raw: { group: 'transform' }, content: { group: 'transform', arg: 'strings' }, text: { group: 'transform' } },
  zone: { zone: { group: 'zone', arg: 'string' }, originalzone: { group: 'zone' } },
};

const COMMANDS: Record<string, Spec> = {
  keep: { tags: { flags: { arg: 'strings', ext: 'imap4flags' } }, pos: [] },
  discard: { pos: [] },
  stop: { pos: [] },
  redirect: { tags: { copy: { ext: 'copy' } }, pos: [S] },
  fileinto: { ext: 'fileinto', tags: { copy: { ext: 'copy' }, flags: { arg: 'strings', ext: 'imap4flags' }, create: { ext: 'mailbox' } }, pos: [S] },
  reject: { ext: 'reject', pos: [S] },
  ereject: { ext: 'ereject', pos: [S] },
  vacation: {
    ext: 'vacation',
    tags: {
      days: { arg: 'number', group: 'period' },
      seconds: { arg: 'number', group: 'period', ext: 'vacation-seconds' },
      subject: { arg: 'string' },
      from: { arg: 'string' },
      addresses: { arg: 'strings' },
      mime: {},
      handle: { arg: 'string' },
    },
    pos: [S],
  },
  setflag: { ext: 'imap4flags', pos: [{ type: 'string', optional: true }, L] },
  addflag: { ext: 'imap4flags', pos: [{ type: 'string', optional: true }, L] },
  removeflag: { ext: 'imap4flags', pos: [{ type: 'string', optional: true }, L] },
  set: {
    ext: 'variables',
    tags: {
      lower: { group: 'case' },
      upper: { group: 'case' },
      lowerfirst: { group: 'first' },
      upperfirst: { group: 'first' },
      quotewildcard: { group: 'quote' },
      quoteregex: { group: 'quote', ext: 'regex' },
      length: {},
    },
    pos: [S, S],
  },
  include: {
    ext: 'include',
    tags: { personal: { group: 'location' }, global: { group: 'location' }, once: {}, optional: {} },
    pos: [S],
  },
  return: { ext: 'include', pos: [] },
  global: { ext: 'include', pos: [L] },
  addheader: { ext: 'editheader', tags: { last: {} }, pos: [S, S] },
  deleteheader: { ext: 'editheader', common: ['index', 'comparator', 'match'], pos: [S, { type: 'strings', optional: true }] },
};

const TESTS: Record<string, Spec> = {
  true: { pos: [] },
  false: { pos: [] },
  not: { pos: [], tests: 'one' },
  allof: { pos: [], tests: 'list' },
  anyof: { pos: [], tests: 'list' },
  exists: { pos: [L] },
  size: { tags: { over: { group: 'size' }, under: { group: 'size' } }, pos: [N] },
  header: { common: ['comparator', 'match', 'index'], pos: [L, L] },
  address: { common: ['comparator', 'match', 'address-part', 'index'], pos: [L, L] },
  envelope: { ext: 'envelope', common: ['comparator', 'match', 'address-part'], pos: [L, L] },
  body: { ext: 'body', common: ['comparator', 'match', 'transform'], pos: [L] },
  date: { ext: 'date', common: ['zone', 'comparator', 'match', 'index'], pos: [S, S, L] },
  currentdate: { ext: 'date', tags: { zone: { arg: 'string' } }, common: ['comparator', 'match'], pos: [S, L] },
  string: { ext: 'variables', common: ['comparator', 'match'], pos: [L, L] },
  hasflag: { ext: 'imap4flags', common: ['comparator', 'match'], pos: [{ type: 'strings', optional: true }, L] },
  mailboxexists: { ext: 'mailbox', pos: [L] },
  duplicate: {
    ext: 'duplicate',
    tags: {
      handle: { arg: 'string' },
      header: { arg: 'string', group: 'id' },
      uniqueid: { arg: 'string', group: 'id' },
      seconds: { arg: 'number' },
      last: {},
    },
    pos: [],
  },
  spamtest: { ext: 'spamtest', tags: { percent: {} }, common: ['comparator', 'match'], pos: [S] },
};

export type TagValue = true | number | string[];

/** A string as the executor uses it: `vars` when it names a variable to expand at run time. */
export interface CompiledCommand {
  name: string;
  line: number;
  tags: Map<string, TagValue>;
  /** Positional arguments in the spec's order; an optional one not given is null. */
  pos: Array<string[] | number | null>;
  tests: CompiledTest[];
  block: CompiledCommand[] | null;
  /** Match type, comparator, address part... already resolved (tests and deleteheader). */
  match?: MatchSpec;
  /** For `if`: the elsif/else commands that follow it. */
  orElse?: CompiledCommand[];
}

export type CompiledTest = Omit<CompiledCommand, 'block' | 'orElse'>;

export type MatchType = 'is' | 'contains' | 'matches' | 'regex' | 'value' | 'count';
export type RelOp = 'gt' | 'ge' | 'lt' | 'le' | 'eq' | 'ne';
export type ComparatorName = 'i;octet' | 'i;ascii-casemap' | 'i;ascii-numeric';

export interface MatchSpec {
  type: MatchType;
  rel: RelOp | null;
  comparator: ComparatorName;
  addressPart: 'all' | 'localpart' | 'domain' | 'user' | 'detail';
}

export interface CompiledScript {
  requires: ReadonlySet<string>;
  commands: CompiledCommand[];
}

export interface ValidateLimits {
  /** Bytes of one string after encoded characters are decoded (they can only shrink it). */
  maxStringLength: number;
}

const RELOPS = new Set(['gt', 'ge', 'lt', 'le', 'eq', 'ne']);
const COMPARATORS: Record<string, { ext?: string }> = {
  'i;octet': {},
  'i;ascii-casemap': {},
  'i;ascii-numeric': { ext: 'comparator-i;ascii-numeric' },
};

/** RFC 5228 §2.4.2.4: ${hex: 41 42} and ${unicode: 263A}; malformed ones stay as written. */
function decodeEncoded(s: string, line: number, column: number): string {
  if (!s.includes('${')) return s;
  return s.replace(/\$\{(hex|unicode):([\s0-9a-fA-F]*)\}/gi, (whole, kind: string, body: string) => {
    const items = body
      .trim()
      .split(/\s+/)
      .filter((x) => x !== '');
    if (items.length === 0) return whole;
    if (kind.toLowerCase() === 'hex') {
      if (items.some((x) => x.length > 2)) return whole;
      return Buffer.from(items.map((x) => Number.parseInt(x, 16))).toString('utf8');
    }
    let out = '';
    for (const x of items) {
      const cp = Number.parseInt(x, 16);
      if (x.length > 8 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        throw new SieveSyntaxError(`\${unicode:${x}} is not a Unicode scalar value`, line, column);
      }
      out += String.fromCodePoint(cp);
    }
    return out;
  });
}

export function validate(tree: CommandNode[], limits: ValidateLimits): CompiledScript {
  const requires = new Set<string>();
  const fail = (p: { line: number; column: number }, msg: string): never => {
    throw new SieveSyntaxError(msg, p.line, p.column);
  };
  const need = (ext: string | undefined, p: { line: number; column: number }, what: string): void => {
    if (ext !== undefined && !requires.has(ext)) fail(p, `${what} needs require "${ext}"`);
  };

  const strings = (a: Argument & { kind: 'strings' }): string[] => {
    const out = requires.has('encoded-character') ? a.values.map((v) => decodeEncoded(v, a.line, a.column)) : a.values;
    for (const v of out) if (v.length > limits.maxStringLength) fail(a, `a string longer than ${limits.maxStringLength} characters`);
    return out;
  };

  function argsOf(node: CommandNode | TestNode, spec: Spec, kind: string): CompiledTest {
    need(spec.ext, node, `the ${kind} "${node.name}"`);
    const tags = new Map<string, TagValue>();
    const groups = new Map<string, string>();
    const allTags: Record<string, TagSpec> = { ...(spec.tags ?? {}) };
    for (const c of spec.common ?? []) Object.assign(allTags, COMMON[c]);
    const positional: Argument[] = [];
    const args = node.args;
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!;
      if (a.kind !== 'tag') {
        positional.push(a);
        continue;
      }
      if (positional.length > 0) fail(a, `the tag ":${a.name}" must come before the positional arguments of "${node.name}"`);
      const t = allTags[a.name];
      if (t === undefined) fail(a, `"${node.name}" has no tag ":${a.name}"`);
      const ts = t!;
      need(ts.ext, a, `the tag ":${a.name}"`);
      if (tags.has(a.name)) fail(a, `the tag ":${a.name}" is given twice`);
      if (ts.group !== undefined) {
        const other = groups.get(ts.group);
        if (other !== undefined) fail(a, `":${a.name}" and ":${other}" exclude each other`);
        groups.set(ts.group, a.name);
      }
      if (ts.arg === undefined) {
        tags.set(a.name, true);
        continue;
      }
      const v = args[++i];
      if (v === undefined || v.kind === 'tag') fail(a, `the tag ":${a.name}" needs ${ts.arg === 'number' ? 'a number' : 'a string'} after it`);
      tags.set(a.name, typed(v!, ts.arg, `the tag ":${a.name}"`));
    }
    const required = spec.pos.filter((p) => !p.optional).length;
    if (positional.length < required || positional.length > spec.pos.length) {
      const want = required === spec.pos.length ? `${required}` : `${required} or ${spec.pos.length}`;
      fail(
        positional[spec.pos.length] ?? node,
        `"${node.name}" takes ${want} positional argument${spec.pos.length === 1 ? '' : 's'}, found ${positional.length}`,
      );
    }
    let extra = positional.length - required;
    const pos: Array<string[] | number | null> = [];
    let k = 0;
    for (const p of spec.pos) {
      if (p.optional) {
        if (extra > 0) {
          extra--;
          pos.push(typed(positional[k++]!, p.type, `an argument of "${node.name}"`));
        } else pos.push(null);
      } else pos.push(typed(positional[k++]!, p.type, `an argument of "${node.name}"`));
    }
    const wantTests = spec.tests ?? 'none';
    if (wantTests === 'none' && node.tests.length > 0) fail(node.tests[0]!, `"${node.name}" takes no test`);
    if (wantTests === 'one' && node.tests.length !== 1) fail(node, `"${node.name}" takes exactly one test`);
    if (wantTests === 'list' && node.tests.length === 0) fail(node, `"${node.name}" takes a list of tests`);
    const out: CompiledTest = { name: node.name, line: node.line, tags, pos, tests: node.tests.map(test) };
    if (spec.common?.includes('match')) out.match = matchSpec(node, tags);
    if (tags.has('last') && !tags.has('index') && node.name !== 'duplicate' && node.name !== 'addheader') fail(node, '":last" needs ":index"');
    return out;
  }

  function typed(a: Argument, type: ArgType, what: string): string[] | number {
    if (type === 'number') {
      if (a.kind !== 'number') fail(a, `${what} must be a number`);
      return (a as { value: number }).value;
    }
    if (a.kind !== 'strings') fail(a, `${what} must be ${type === 'string' ? 'a string' : 'a string list'}`);
    const s = a as Argument & { kind: 'strings' };
    if (type === 'string' && s.list) fail(a, `${what} must be one string, not a list`);
    return strings(s);
  }

  function matchSpec(node: CommandNode | TestNode, tags: Map<string, TagValue>): MatchSpec {
    let type: MatchType = 'is';
    for (const m of ['is', 'contains', 'matches', 'regex', 'value', 'count'] as const) if (tags.has(m)) type = m;
    let rel: RelOp | null = null;
    if (type === 'value' || type === 'count') {
      const r = (tags.get(type) as string[])[0]!.toLowerCase();
      if (!RELOPS.has(r)) fail(node, `":${type}" takes one of "gt", "ge", "lt", "le", "eq", "ne", not "${r}"`);
      rel = r as RelOp;
    }
    const cname = ((tags.get('comparator') as string[] | undefined)?.[0] ?? 'i;ascii-casemap').toLowerCase();
    const c = COMPARATORS[cname];
    if (c === undefined) fail(node, `unknown comparator "${cname}"`);
    need(c!.ext, node, `the comparator "${cname}"`);
    if (cname === 'i;ascii-numeric' && (type === 'contains' || type === 'matches' || type === 'regex')) {
      fail(node, `the comparator "i;ascii-numeric" cannot be used with ":${type}"`);
    }
    let addressPart: MatchSpec['addressPart'] = 'all';
    for (const p of ['localpart', 'domain', 'user', 'detail'] as const) if (tags.has(p)) addressPart = p;
    return { type, rel, comparator: cname as ComparatorName, addressPart };
  }

  function test(node: TestNode): CompiledTest {
    const spec = TESTS[node.name];
    if (spec === undefined) fail(node, `unknown test "${node.name}"`);
    const t = argsOf(node, spec!, 'test');
    checkKeys(node, t);
    if (node.name === 'envelope') {
      for (const part of t.pos[0] as string[]) {
        if (!['from', 'to', 'auth'].includes(part.toLowerCase())) fail(node, `envelope part "${part}" is not "from", "to" or "auth"`);
      }
    }
    if (node.name === 'size' && !t.tags.has('over') && !t.tags.has('under')) fail(node, '"size" takes :over or :under');
    if (node.name === 'duplicate' && typeof t.tags.get('seconds') === 'number' && (t.tags.get('seconds') as number) < 0) fail(node, 'negative :seconds');
    return t;
  }

  /** Regular expressions that contain no variable are compiled now so errors have a place. */
  function checkKeys(node: CommandNode | TestNode, t: CompiledTest): void {
    if (t.match?.type !== 'regex') return;
    const keys = t.pos[t.pos.length - 1];
    if (!Array.isArray(keys)) return;
    for (const k of keys) {
      if (requires.has('variables') && k.includes('${')) continue;
      try {
        compileRegex(k, t.match.comparator !== 'i;octet');
      } catch (err) {
        fail(node, `bad regular expression ${JSON.stringify(k)}: ${(err as Error).message}`);
      }
    }
  }

  function block(nodes: CommandNode[], top: boolean): CompiledCommand[] {
    const out: CompiledCommand[] = [];
    let seenOther = false;
    for (let i = 0; i < nodes.length; i++) {
      const n = nodes[i]!;
      if (n.name === 'require') {
        if (!top || seenOther) fail(n, '"require" must come before every other command');
        if (n.block !== null || n.tests.length > 0 || n.args.length !== 1 || n.args[0]!.kind !== 'strings') fail(n, '"require" takes one string list');
        for (const ext of (n.args[0] as { values: string[] }).values) {
          const e = ext.toLowerCase();
          if (!KNOWN.has(e)) fail(n.args[0]!, `unsupported extension "${ext}"`);
          requires.add(e);
          // RFC 5230 §4 / RFC 6131 §2: vacation-seconds implies vacation; editheader etc. stand alone
          if (e === 'vacation-seconds') requires.add('vacation');
        }
        continue;
      }
      seenOther = true;
      if (n.name === 'if') {
        const head = control(n, true);
        const orElse: CompiledCommand[] = [];
        while (nodes[i + 1]?.name === 'elsif' || nodes[i + 1]?.name === 'else') {
          const e = nodes[++i]!;
          orElse.push(control(e, e.name === 'elsif'));
          if (e.name === 'else') break;
        }
        head.orElse = orElse;
        out.push(head);
        continue;
      }
      if (n.name === 'elsif' || n.name === 'else') fail(n, `"${n.name}" must follow "if" or "elsif"`);
      const spec = COMMANDS[n.name];
      if (spec === undefined) fail(n, `unknown command "${n.name}"`);
      if (n.block !== null) fail(n, `"${n.name}" takes no block`);
      const c: CompiledCommand = { ...argsOf(n, spec!, 'command'), block: null };
      if (c.match) checkKeys(n, c);
      if (n.name === 'set' && !/^[A-Za-z_][A-Za-z0-9_]*$/.test((c.pos[0] as string[])[0]!)) {
        fail(n, `"${(c.pos[0] as string[])[0]}" is not a variable name`);
      }
      if (n.name === 'global') {
        for (const v of c.pos[0] as string[]) if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(v)) fail(n, `"${v}" is not a variable name`);
      }
      if (n.name === 'include') {
        const name = (c.pos[0] as string[])[0]!;
        if (name === '' || /[/\0]/.test(name)) fail(n, `"${name}" is not a script name`);
      }
      out.push(c);
    }
    return out;
  }

  function control(n: CommandNode, withTest: boolean): CompiledCommand {
    if (n.block === null) fail(n, `"${n.name}" needs a block`);
    if (n.args.length > 0) fail(n.args[0]!, `"${n.name}" takes no arguments`);
    if (withTest && n.tests.length !== 1) fail(n, `"${n.name}" takes exactly one test`);
    if (!withTest && n.tests.length > 0) fail(n, '"else" takes no test');
    return { name: n.name, line: n.line, tags: new Map(), pos: [], tests: n.tests.map(test), block: block(n.block!, false) };
  }

  const commands = block(tree, true);
  return { requires, commands };
}
