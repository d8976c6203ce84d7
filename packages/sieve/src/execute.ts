/**
 * The executor: runs a compiled script against one message for one recipient and returns the
 * actions to take (RFC 5228 §2.10: implicit keep unless cancelled). It performs no I/O: what it
 * needs from outside (mailboxes, duplicate ids, included scripts, the junk score) comes through
 * SieveEnvironment, and the caller commits the actions. Every run is bounded by SieveLimits:
 * a step budget over commands, tests and comparisons, actions, redirects, includes, variables.
 */
import { addressList, addressPart, ADDRESS_HEADERS } from './address.js';
import { datePart, DATE_PARTS, headerDate, zoneMinutes } from './date.js';
import { decodeHeader } from './header.js';
import { SieveRuntimeError } from './errors.js';
import type { SieveLimits } from './limits.js';
import { Matcher } from './match.js';
import type { StepBudget } from './regex.js';
import type { CompiledCommand, CompiledScript, CompiledTest, MatchSpec } from './validate.js';

export interface SieveHeaderField {
  /** As written (case kept). */
  name: string;
  /** Unfolded, not decoded (RFC 2047 words are decoded for tests). */
  value: string;
}

export type BodyTransform = { kind: 'raw' } | { kind: 'text' } | { kind: 'content'; types: string[] };

export interface SieveMessage {
  headers: readonly SieveHeaderField[];
  /** RFC822 size in octets. */
  size: number;
  /** RFC 5173 §5: the body as the transform sees it, one string per part. */
  body(transform: BodyTransform): string[];
}

export interface SieveEnvironment {
  envelope: { from: string; to: string; auth?: string | null };
  now?: Date;
  /** Minutes east of UTC the date tests convert to without :zone (RFC 5260 §4.1). */
  localZone?: number;
  /** RFC 5235: the junk filter's verdict; absent = not tested. value 1..10, percent 0..100. */
  spam?: { value: number; percent: number };
  mailboxExists?(name: string): boolean;
  /** RFC 7352: whether this id was recorded before (and has not expired). */
  duplicateSeen?(id: string): boolean;
  /** RFC 6609: a stored script by name; null when there is none. Throws a SieveSyntaxError when broken. */
  include?(name: string, location: 'personal' | 'global'): CompiledScript | null;
}

export type SieveAction =
  | { type: 'keep'; flags: string[]; implicit: boolean; headers: SieveHeaderField[] | null }
  | { type: 'fileinto'; mailbox: string; flags: string[]; create: boolean; copy: boolean; headers: SieveHeaderField[] | null }
  | { type: 'redirect'; address: string; copy: boolean; headers: SieveHeaderField[] | null }
  | { type: 'discard' }
  | { type: 'reject'; reason: string; ereject: boolean }
  | {
      type: 'vacation';
      reason: string;
      subject: string | null;
      from: string | null;
      addresses: string[];
      mime: boolean;
      handle: string;
      seconds: number;
    };

export interface SieveResult {
  actions: SieveAction[];
  /** RFC 7352: ids to remember once the actions are done, with how long. */
  duplicates: Array<{ id: string; seconds: number }>;
  steps: number;
}

type Flow = 'next' | 'stop' | 'return';

interface Frame {
  script: CompiledScript;
  vars: Map<string, string>;
  globalNames: Set<string>;
  captures: string[];
}

const SYSTEM_FLAGS = new Map(['\\seen', '\\answered', '\\flagged', '\\deleted', '\\draft'].map((f) => [f, `\\${f[1]!.toUpperCase()}${f.slice(2)}`]));
/** RFC 5293 §6 / §7: fields a script may not add or delete. */
const PROTECTED_FIELDS = new Set(['received', 'auto-submitted']);

/** RFC 5232 §3: a flag list is space-separated flags; duplicates drop, system flags in canonical case. */
function flagList(values: readonly string[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const v of values) {
    for (const f of v.split(/\s+/)) {
      if (f === '') continue;
      const canon = SYSTEM_FLAGS.get(f.toLowerCase()) ?? f;
      const key = canon.toLowerCase();
      if (!seen.has(key)) {
        seen.add(key);
        out.push(canon);
      }
    }
  }
  return out;
}

export function execute(script: CompiledScript, message: SieveMessage, env: SieveEnvironment, limits: SieveLimits): SieveResult {
  let steps = 0;
  const budget: StepBudget = {
    spend(n: number) {
      steps += n;
      if (steps > limits.maxSteps) throw new SieveRuntimeError(`the script ran more than ${limits.maxSteps} steps`);
    },
  };
  const matcher = new Matcher(budget);
  const actions: SieveAction[] = [];
  const duplicates: Array<{ id: string; seconds: number }> = [];
  let implicitKeep = true;
  let explicitActions = 0;
  let redirects = 0;
  let headerEdits = 0;
  let headers: SieveHeaderField[] = [...message.headers];
  let edited = false;
  const globals = new Map<string, string>();
  /** RFC 5232 §3: the internal variable keep and fileinto use without :flags. */
  let internalFlags: string[] = [];
  const included = new Set<CompiledScript>();
  const includedNames = new Set<string>();
  const includeStack: CompiledScript[] = [];
  let line = 0;

  const fail = (msg: string): never => {
    throw new SieveRuntimeError(msg, line);
  };

  function lookup(f: Frame, name: string): string {
    const n = name.toLowerCase();
    if (/^\d+$/.test(n)) return f.captures[Number(n)] ?? '';
    if (n.startsWith('global.')) return globals.get(n.slice(7)) ?? '';
    if (f.globalNames.has(n)) return globals.get(n) ?? '';
    return f.vars.get(n) ?? '';
  }

  /** RFC 5229 §3: ${name} and ${N} in strings; unknown namespaces stay as written. */
  function expand(f: Frame, s: string): string {
    if (!f.script.requires.has('variables') || !s.includes('${')) return s;
    const out = s.replace(/\$\{([A-Za-z0-9_.]+)\}/g, (whole, name: string) => {
      if (/^\d+$/.test(name) || /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) || /^global\.[A-Za-z_][A-Za-z0-9_]*$/i.test(name)) return lookup(f, name);
      return whole;
    });
    budget.spend(1 + (out.length >> 10));
    return out;
  }

  function setVar(f: Frame, name: string, value: string): void {
    const n = name.toLowerCase();
    const v = value.length > limits.maxVariableSize ? value.slice(0, limits.maxVariableSize) : value;
    if (f.globalNames.has(n)) {
      if (!globals.has(n) && globals.size >= limits.maxVariables) fail(`more than ${limits.maxVariables} variables`);
      globals.set(n, v);
      return;
    }
    if (!f.vars.has(n) && f.vars.size >= limits.maxVariables) fail(`more than ${limits.maxVariables} variables`);
    f.vars.set(n, v);
  }

  const strs = (f: Frame, v: string[] | number | null | undefined): string[] => (Array.isArray(v) ? v.map((s) => expand(f, s)) : []);
  const str = (f: Frame, v: string[] | number | null | undefined): string => strs(f, v)[0] ?? '';
  const tagStrs = (f: Frame, c: CompiledTest, name: string): string[] | null => {
    const v = c.tags.get(name);
    return Array.isArray(v) ? v.map((s) => expand(f, s)) : null;
  };

  function doMatch(f: Frame, spec: MatchSpec, values: readonly string[], keys: readonly string[]): boolean {
    const r = matcher.match(spec, values, keys);
    if (r.ok && r.captures !== null && f.script.requires.has('variables')) f.captures = r.captures;
    return r.ok;
  }

  /** RFC 5260 §6: :index N (:last counts from the end) picks one occurrence of a field. */
  function fieldValues(t: CompiledTest, names: readonly string[], decode: boolean): string[] {
    const wanted = new Set(names.map((n) => n.toLowerCase()));
    let vals = headers.filter((h) => wanted.has(h.name.toLowerCase())).map((h) => (decode ? decodeHeader(h.value) : h.value));
    const idx = t.tags.get('index');
    if (typeof idx === 'number') {
      const pick = t.tags.has('last') ? vals[vals.length - idx] : vals[idx - 1];
      vals = idx >= 1 && pick !== undefined ? [pick] : [];
    }
    return vals;
  }

  function envelopeAddresses(part: string): string[] {
    const p = part.toLowerCase();
    if (p === 'from') return [env.envelope.from];
    if (p === 'to') return [env.envelope.to];
    if (p === 'auth') return env.envelope.auth ? [env.envelope.auth] : [];
    return [];
  }

  function parts(spec: MatchSpec, addrs: readonly string[]): string[] {
    const out: string[] = [];
    for (const a of addrs) {
      // RFC 5228 §5.4: the null reverse-path "<>" compares as "" for every part
      const v = a === '' ? '' : addressPart(a, spec.addressPart);
      if (v !== null) out.push(v);
    }
    return out;
  }

  function dateValue(f: Frame, t: CompiledTest, time: number, zone: number, part: string): string | null {
    void f;
    void t;
    return datePart(time, zone, part);
  }

  function test(f: Frame, t: CompiledTest): boolean {
    budget.spend(1);
    const spec = t.match;
    switch (t.name) {
      case 'true':
        return true;
      case 'false':
        return false;
      case 'not':
        return !test(f, t.tests[0]!);
      case 'allof':
        return t.tests.every((x) => test(f, x));
      case 'anyof':
        return t.tests.some((x) => test(f, x));
      case 'exists': {
        const have = new Set(headers.map((h) => h.name.toLowerCase()));
        return strs(f, t.pos[0]).every((n) => have.has(n.toLowerCase()));
      }
      case 'size': {
        const limit = t.pos[0] as number;
        if (t.tags.has('over')) return message.size > limit;
        if (t.tags.has('under')) return message.size < limit;
        return fail('"size" needs :over or :under');
      }
      case 'header':
        return doMatch(f, spec!, fieldValues(t, strs(f, t.pos[0]), true), strs(f, t.pos[1]));
      case 'address': {
        const names = strs(f, t.pos[0]);
        for (const n of names) if (!ADDRESS_HEADERS.has(n.toLowerCase())) fail(`"address" cannot test "${n}", which holds no addresses`);
        const addrs = fieldValues(t, names, true).flatMap(addressList);
        return doMatch(f, spec!, parts(spec!, addrs), strs(f, t.pos[1]));
      }
      case 'envelope': {
        const addrs = strs(f, t.pos[0]).flatMap(envelopeAddresses);
        return doMatch(f, spec!, parts(spec!, addrs), strs(f, t.pos[1]));
      }
      case 'body': {
        let transform: BodyTransform = { kind: 'text' };
        if (t.tags.has('raw')) transform = { kind: 'raw' };
        const content = tagStrs(f, t, 'content');
        if (content !== null) transform = { kind: 'content', types: content };
        const texts = message.body(transform);
        budget.spend(texts.reduce((n, s) => n + (s.length >> 10), 0));
        return doMatch(f, spec!, texts, strs(f, t.pos[0]));
      }
      case 'date':
      case 'currentdate': {
        const isCurrent = t.name === 'currentdate';
        const part = str(f, t.pos[isCurrent ? 0 : 1]);
        if (!DATE_PARTS.has(part.toLowerCase())) fail(`unknown date part "${part}"`);
        const keys = strs(f, t.pos[isCurrent ? 1 : 2]);
        const zoneTag = tagStrs(f, t, 'zone');
        let zone = env.localZone ?? 0;
        if (zoneTag !== null) {
          const z = zoneMinutes(zoneTag[0] ?? '');
          if (z === null) return false; // §4.1: an invalid zone makes the test fail
          zone = z;
        }
        const values: string[] = [];
        if (isCurrent) {
          const v = dateValue(f, t, (env.now ?? new Date()).getTime(), zone, part);
          if (v !== null) values.push(v);
        } else {
          const raw = fieldValues(t, [str(f, t.pos[0])], false);
          for (const r of raw) {
            const d = headerDate(r);
            if (d === null) continue;
            const v = dateValue(f, t, d.time, t.tags.has('originalzone') ? d.zone : zone, part);
            if (v !== null) values.push(v);
          }
        }
        return doMatch(f, spec!, values, keys);
      }
      case 'string': {
        const src = strs(f, t.pos[0]);
        // RFC 5229 §5: for :count, empty strings are not counted
        return doMatch(f, spec!, spec!.type === 'count' ? src.filter((s) => s !== '') : src, strs(f, t.pos[1]));
      }
      case 'hasflag': {
        const names = t.pos[0] === null ? null : strs(f, t.pos[0]);
        const have = names === null ? internalFlags : flagList(names.map((n) => lookup(f, n)));
        return doMatch(f, spec!, have, flagList(strs(f, t.pos[1])));
      }
      case 'mailboxexists':
        return strs(f, t.pos[0]).every((m) => env.mailboxExists?.(m) ?? false);
      case 'duplicate': {
        let id: string | null;
        const header = tagStrs(f, t, 'header');
        const unique = tagStrs(f, t, 'uniqueid');
        if (unique !== null) id = unique[0] ?? '';
        else {
          const name = header?.[0] ?? 'message-id';
          id = headers.find((h) => h.name.toLowerCase() === name.toLowerCase())?.value.trim() ?? null;
        }
        if (id === null) return false;
        const handle = tagStrs(f, t, 'handle')?.[0] ?? '';
        const key = `${handle.length}:${handle}${header ? `h:${header[0]!.toLowerCase()}` : ''}:${id}`;
        const secs = t.tags.get('seconds');
        const seconds = Math.min(typeof secs === 'number' ? secs : limits.duplicateDefaultSeconds, limits.duplicateMaxSeconds);
        duplicates.push({ id: key, seconds });
        return env.duplicateSeen?.(key) ?? false;
      }
      case 'spamtest': {
        const percent = t.tags.has('percent');
        const v = env.spam === undefined ? '0' : String(percent ? env.spam.percent : env.spam.value);
        return doMatch(f, spec!, [v], strs(f, t.pos[0]));
      }
      default:
        return fail(`unknown test "${t.name}"`);
    }
  }

  function action(a: SieveAction): void {
    if (a.type !== 'discard') {
      if (++explicitActions > limits.maxActions) fail(`more than ${limits.maxActions} actions`);
    }
    actions.push(a);
  }

  function snapshot(): SieveHeaderField[] | null {
    return edited ? [...headers] : null;
  }

  function command(f: Frame, c: CompiledCommand): Flow {
    line = c.line;
    budget.spend(1);
    switch (c.name) {
      case 'if': {
        if (test(f, c.tests[0]!)) return run(f, c.block!);
        for (const e of c.orElse ?? []) {
          line = e.line;
          if (e.name === 'else' || test(f, e.tests[0]!)) return run(f, e.block!);
        }
        return 'next';
      }
      case 'stop':
        return 'stop';
      case 'keep': {
        const flags = tagStrs(f, c, 'flags');
        implicitKeep = false;
        action({ type: 'keep', flags: flags === null ? [...internalFlags] : flagList(flags), implicit: false, headers: snapshot() });
        return 'next';
      }
      case 'discard':
        implicitKeep = false;
        action({ type: 'discard' });
        return 'next';
      case 'fileinto': {
        const copy = c.tags.has('copy');
        if (!copy) implicitKeep = false;
        const flags = tagStrs(f, c, 'flags');
        action({
          type: 'fileinto',
          mailbox: str(f, c.pos[0]),
          flags: flags === null ? [...internalFlags] : flagList(flags),
          create: c.tags.has('create'),
          copy,
          headers: snapshot(),
        });
        return 'next';
      }
      case 'redirect': {
        const address = str(f, c.pos[0]).trim();
        // RFC 5228 §4.2: an invalid address is a run-time error
        if (!/^[^\s@<>()",;]+@[^\s@<>()",;]+$/.test(address) && !/^"[^"]*"@[^\s@<>]+$/.test(address)) fail(`"${address}" is not an address to redirect to`);
        if (++redirects > limits.maxRedirects) fail(`more than ${limits.maxRedirects} redirects`);
        const copy = c.tags.has('copy');
        if (!copy) implicitKeep = false;
        action({ type: 'redirect', address, copy, headers: snapshot() });
        return 'next';
      }
      case 'reject':
      case 'ereject':
        implicitKeep = false;
        action({ type: 'reject', reason: str(f, c.pos[0]), ereject: c.name === 'ereject' });
        return 'next';
      case 'vacation': {
        if (actions.some((a) => a.type === 'vacation')) fail('more than one vacation action (RFC 5230 §4.7)');
        const days = c.tags.get('days');
        const secs = c.tags.get('seconds');
        const wanted = typeof secs === 'number' ? secs : typeof days === 'number' ? days * 86_400 : 7 * 86_400;
        const seconds = Math.max(limits.vacationMinSeconds, Math.min(limits.vacationMaxSeconds, wanted));
        const reason = str(f, c.pos[0]);
        const subject = tagStrs(f, c, 'subject')?.[0] ?? null;
        const from = tagStrs(f, c, 'from')?.[0] ?? null;
        const mime = c.tags.has('mime');
        // RFC 5230 §4.2: without :handle, the reply's own text identifies it
        const handle = tagStrs(f, c, 'handle')?.[0] ?? `auto:${subject ?? ''}\0${from ?? ''}\0${mime ? 1 : 0}\0${reason}`;
        action({ type: 'vacation', reason, subject, from, addresses: tagStrs(f, c, 'addresses') ?? [], mime, handle, seconds });
        return 'next';
      }
      case 'setflag':
      case 'addflag':
      case 'removeflag': {
        const list = flagList(strs(f, c.pos[1]));
        const varName = c.pos[0] === null ? null : str(f, c.pos[0]);
        const current = varName === null ? internalFlags : flagList([lookup(f, varName)]);
        let next: string[];
        if (c.name === 'setflag') next = list;
        else if (c.name === 'addflag') next = flagList([...current, ...list]);
        else {
          const drop = new Set(list.map((x) => x.toLowerCase()));
          next = current.filter((x) => !drop.has(x.toLowerCase()));
        }
        if (varName === null) internalFlags = next;
        else setVar(f, varName, next.join(' '));
        return 'next';
      }
      case 'set': {
        let v = str(f, c.pos[1]);
        // RFC 5229 §4.1: modifiers apply from the highest precedence down
        if (c.tags.has('lower')) v = v.toLowerCase();
        if (c.tags.has('upper')) v = v.toUpperCase();
        if (c.tags.has('lowerfirst')) v = v.slice(0, 1).toLowerCase() + v.slice(1);
        if (c.tags.has('upperfirst')) v = v.slice(0, 1).toUpperCase() + v.slice(1);
        if (c.tags.has('quotewildcard')) v = v.replace(/[*?\\]/g, '\\$&');
        if (c.tags.has('quoteregex')) v = v.replace(/[\\^$.[\]|()*+?{}]/g, '\\$&');
        if (c.tags.has('length')) v = String([...v].length);
        setVar(f, (c.pos[0] as string[])[0]!, v);
        return 'next';
      }
      case 'global':
        for (const n of strs(f, c.pos[0])) f.globalNames.add(n.toLowerCase());
        return 'next';
      case 'return':
        return 'return';
      case 'include':
        return include(f, c);
      case 'addheader': {
        if (++headerEdits > limits.maxHeaderEdits) fail(`more than ${limits.maxHeaderEdits} header edits`);
        const name = str(f, c.pos[0]);
        if (!/^[!-9;-~]+$/.test(name)) fail(`"${name}" is not a header field name`);
        if (PROTECTED_FIELDS.has(name.toLowerCase())) fail(`"${name}" may not be added (RFC 5293 §7)`);
        const value = encodeFieldValue(str(f, c.pos[1]));
        if (c.tags.has('last')) headers.push({ name, value });
        else headers.unshift({ name, value });
        edited = true;
        return 'next';
      }
      case 'deleteheader': {
        if (++headerEdits > limits.maxHeaderEdits) fail(`more than ${limits.maxHeaderEdits} header edits`);
        const name = str(f, c.pos[0]).toLowerCase();
        if (PROTECTED_FIELDS.has(name)) return 'next'; // §6: silently not deleted
        const patterns = c.pos[1] === null ? null : strs(f, c.pos[1]);
        const idx = c.tags.get('index');
        const positions = headers.flatMap((h, i) => (h.name.toLowerCase() === name ? [i] : []));
        let chosen = positions;
        if (typeof idx === 'number') {
          const pick = c.tags.has('last') ? positions[positions.length - idx] : positions[idx - 1];
          chosen = pick === undefined ? [] : [pick];
        }
        const drop = new Set(chosen.filter((i) => patterns === null || matcher.match(c.match!, [decodeHeader(headers[i]!.value)], patterns).ok));
        if (drop.size > 0) {
          headers = headers.filter((_, i) => !drop.has(i));
          edited = true;
        }
        return 'next';
      }
      default:
        return fail(`unknown command "${c.name}"`);
    }
  }

  function include(f: Frame, c: CompiledCommand): Flow {
    const name = str(f, c.pos[0]);
    const location = c.tags.has('global') ? 'global' : 'personal';
    const key = `${location}:${name}`;
    if (c.tags.has('once') && includedNames.has(key)) return 'next';
    const target = env.include?.(name, location) ?? null;
    if (target === null) {
      if (c.tags.has('optional')) return 'next';
      return fail(`the included script "${name}" does not exist`);
    }
    if (includeStack.includes(target)) fail(`"${name}" includes itself (RFC 6609 §3.2)`);
    if (includeStack.length >= limits.maxIncludeDepth) fail(`includes nested deeper than ${limits.maxIncludeDepth}`);
    if (!included.has(target) && included.size >= limits.maxIncludes) fail(`more than ${limits.maxIncludes} included scripts`);
    included.add(target);
    includedNames.add(key);
    const flow = runScript(target);
    line = c.line;
    return flow === 'stop' ? 'stop' : 'next';
  }

  function run(f: Frame, cmds: readonly CompiledCommand[]): Flow {
    for (const c of cmds) {
      const flow = command(f, c);
      if (flow !== 'next') return flow;
    }
    return 'next';
  }

  function runScript(s: CompiledScript): Flow {
    includeStack.push(s);
    try {
      return run({ script: s, vars: new Map(), globalNames: new Set(), captures: [] }, s.commands);
    } finally {
      includeStack.pop();
    }
  }

  runScript(script);

  // RFC 5429 §2.1 / §2.2: reject excludes keeping, filing, redirecting and vacation
  const reject = actions.find((a) => a.type === 'reject');
  if (reject !== undefined) {
    const other = actions.find((a) => a.type === 'keep' || a.type === 'fileinto' || a.type === 'vacation' || (a.type === 'redirect' && !a.copy));
    if (other !== undefined) throw new SieveRuntimeError(`"reject" cannot be combined with "${other.type}"`);
  }
  if (implicitKeep) actions.push({ type: 'keep', flags: [...internalFlags], implicit: true, headers: snapshot() });
  return { actions: dedupe(actions), duplicates, steps };
}

/** RFC 5228 §2.10.3: keeping or filing into one mailbox twice files one copy; one redirect per address. */
function dedupe(actions: SieveAction[]): SieveAction[] {
  const seen = new Set<string>();
  const out: SieveAction[] = [];
  for (const a of actions) {
    let key: string | null = null;
    if (a.type === 'keep') key = 'mbox:INBOX';
    else if (a.type === 'fileinto') key = `mbox:${a.mailbox.toLowerCase() === 'inbox' ? 'INBOX' : a.mailbox}`;
    else if (a.type === 'redirect') key = `to:${a.address.toLowerCase()}`;
    if (key !== null) {
      if (seen.has(key)) continue;
      seen.add(key);
    }
    out.push(a);
  }
  return out;
}

/** A field value as editheader writes it: one line, non-ASCII as RFC 2047 encoded words. */
function encodeFieldValue(v: string): string {
  const oneLine = v.replace(/\r?\n[ \t]*/g, ' ');
  if (/^[\x20-\x7e\t]*$/.test(oneLine)) return oneLine;
  return `=?UTF-8?B?${Buffer.from(oneLine).toString('base64')}?=`;
}
