/**
 * Fuzzing a protocol command loop through a real socket: fast-check generates what a client
 * sends (lines, garbage, mutations of good commands, in arbitrary TCP chunks); each run is one
 * connection. After every run the app must still be the same live process and answer a fresh
 * connection; protocols without a data-length construct (SMTP, LMTP, POP3) must also end the
 * session when a closing suffix (QUIT) follows the noise, within a bound (no hang).
 *
 * Budget: a fixed number of runs in CI; `POSTERN_FUZZ_SCALE=50` multiplies it for a campaign by
 * hand, `POSTERN_FUZZ_SEED` replays one. Every input that ever failed is written to
 * `test/fuzz/corpus/<name>/` (commit it) and replayed first on every later run.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import type { AppName } from '../../lib/instance.js';
import type { FullInstance } from '../../attacks/lib/full-instance.js';
import { Talk } from '@postern/testkit';

export const SCALE = Math.max(1, Number(process.env['POSTERN_FUZZ_SCALE'] ?? 1));
/** Fixed in CI so a run is repeatable; any number replays another campaign. */
export const SEED = process.env['POSTERN_FUZZ_SEED'] ? Number(process.env['POSTERN_FUZZ_SEED']) : 20240101;

const corpusRoot = fileURLToPath(new URL('../corpus/', import.meta.url));

/** One generated session: the bytes, and where TCP segments end. */
export interface SessionInput {
  bytes: Buffer;
  cuts: number[];
}

export function corpus(name: string): Buffer[] {
  const dir = join(corpusRoot, name);
  let files: string[];
  try {
    files = readdirSync(dir)
      .filter((f) => f.endsWith('.bin'))
      .sort();
  } catch {
    return [];
  }
  return files.map((f) => readFileSync(join(dir, f)));
}

export function saveToCorpus(name: string, bytes: Buffer): string {
  const dir = join(corpusRoot, name);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}.bin`);
  writeFileSync(file, bytes);
  return file;
}

/** Splits `bytes` at `cuts` (sorted, deduplicated, inside the buffer). */
function segments(input: SessionInput): Buffer[] {
  const cuts = [...new Set(input.cuts.map((c) => c % Math.max(1, input.bytes.length)))].filter((c) => c > 0).sort((x, y) => x - y);
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of cuts) {
    out.push(input.bytes.subarray(prev, c));
    prev = c;
  }
  out.push(input.bytes.subarray(prev));
  return out.filter((b) => b.length > 0);
}

export interface Target {
  /** Corpus directory name. */
  name: string;
  app: AppName;
  port: number;
  /** The greeting to wait for before sending (a client that talks first is refused). */
  greeting: RegExp;
  /** Sent after the noise: must make the server end the session (null: just hang up). */
  closingSuffix: string | null;
  /**
   * Output after which the suffix cannot be expected to end the session: the server agreed to
   * STARTTLS and now rightly waits for a TLS handshake (RFC 3207 §4.2: what was pipelined after
   * STARTTLS is discarded). Such a session is just hung up.
   */
  abandonIf?: RegExp;
  /** A fresh connection doing something real; throws when the server is not serving. */
  probe: () => Promise<void>;
}

export interface RunOutcome {
  ok: boolean;
  why?: string;
}

const CLOSE_WITHIN_MS = 5_000;
const PROBE_EVERY = 8;

/** One session of `input` against `target`, then the checks. */
export async function runSession(inst: FullInstance, target: Target, input: SessionInput, pidBefore: number, probe = true): Promise<RunOutcome> {
  const t = await Talk.open(target.port, { keep: 64 * 1024 });
  try {
    await t.until(target.greeting, 10_000);
    for (const seg of segments(input)) {
      await t.write(seg);
      // let some segments arrive alone
      if (seg.length % 3 === 0) await new Promise((r) => setImmediate(r));
    }
    if (target.closingSuffix !== null) {
      await t.write(target.closingSuffix);
      const ended = await t.settle(() => target.abandonIf?.test(t.all) ?? false, CLOSE_WITHIN_MS);
      if (!ended) {
        return {
          ok: false,
          why: `session not ended ${CLOSE_WITHIN_MS} ms after ${JSON.stringify(target.closingSuffix)}; last output ${JSON.stringify(t.all.slice(-300))}`,
        };
      }
    } else {
      // give the server a moment with the input, then hang up
      await new Promise((r) => setTimeout(r, 5));
    }
  } catch (err) {
    if (!t.closed) return { ok: false, why: `session failed: ${(err as Error).message}` };
  } finally {
    t.close();
  }
  return afterSession(inst, target, pidBefore, probe);
}

async function afterSession(inst: FullInstance, target: Target, pidBefore: number, probe: boolean): Promise<RunOutcome> {
  const pid = inst.pid(target.app);
  if (pid !== pidBefore) return { ok: false, why: `${target.app} died (pid ${pidBefore} -> ${pid}): ${inst.logs(target.app).slice(-3000)}` };
  if (!probe) return { ok: true };
  try {
    await target.probe();
  } catch (err) {
    return { ok: false, why: `probe after the session failed: ${(err as Error).message}` };
  }
  return { ok: true };
}

/**
 * Replays the corpus, then runs the property. On a failure the shrunk input goes to the corpus,
 * the app is restarted (so the next test still has a server) and the test fails with the reason.
 */
export async function fuzzTarget(inst: FullInstance, target: Target, arb: fc.Arbitrary<SessionInput>, numRuns: number): Promise<void> {
  let pid = inst.pid(target.app);
  if (pid === null) throw new Error(`${target.app} is not running`);
  const fail = async (bytes: Buffer, why: string): Promise<never> => {
    const file = saveToCorpus(target.name, bytes);
    if (inst.pid(target.app) === null) await inst.startApp(target.app);
    throw new Error(`${target.name}: ${why}\ninput saved to ${file}`);
  };
  for (const bytes of corpus(target.name)) {
    const r = await runSession(inst, target, { bytes, cuts: [] }, pid);
    if (!r.ok) await fail(bytes, r.why ?? '');
  }
  let lastWhy = '';
  let runs = 0;
  let failing = false;
  const result = await fc.check(
    fc.asyncProperty(arb, async (input) => {
      // A real transaction after every few sessions (each connection costs smtp-server's
      // greeting delay); after every one once something failed, so shrinking is exact.
      const r = await runSession(inst, target, input, pid!, failing || ++runs % PROBE_EVERY === 0);
      if (!r.ok) {
        failing = true;
        lastWhy = r.why ?? '';
        // keep shrinking against a live server
        if (inst.pid(target.app) === null) {
          await inst.startApp(target.app);
          pid = inst.pid(target.app);
        }
      }
      return r.ok;
    }),
    { numRuns: numRuns * SCALE, seed: SEED, endOnFailure: false, interruptAfterTimeLimit: 10 * 60_000 * SCALE },
  );
  if (!result.failed) {
    // the last sessions are checked too
    const r = await afterSession(inst, target, pid!, true);
    if (!r.ok) throw new Error(`${target.name}: ${r.why ?? ''}`);
  }
  if (result.failed) {
    const input = result.counterexample?.[0];
    await fail(input ? input.bytes : Buffer.alloc(0), `${lastWhy}\n${fc.defaultReportMessage(result) ?? ''}`.slice(0, 6000));
  }
}

// ---- generators shared by the line protocols ------------------------------------------------

export const lineEnd = fc.oneof({ weight: 12, arbitrary: fc.constant('\r\n') }, { weight: 1, arbitrary: fc.constantFrom('\n', '\r', '', '\r\r\n', '\n\r') });

/** Random text: printable, latin1 bytes, UTF-8, control characters. */
export const noise = fc.oneof(
  fc.string({ maxLength: 30 }),
  // any code point, sent as its UTF-8 bytes
  fc.string({ unit: 'binary', maxLength: 30 }).map((s) => Buffer.from(s, 'utf8').toString('latin1')),
  fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a).toString('latin1')),
  fc.constantFrom(
    '\0',
    '\x7f',
    '\xff',
    '\u00e9',
    '\u2028',
    '%s%n%x',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a log4j-style lookup string, sent as bytes on purpose
    '${jndi:ldap://x}',
    "' OR 1=1 --",
    '../../etc/passwd',
    '<script>',
  ),
);

/** A long run of one character (bounded: the point is the limits, not the bandwidth). */
export const longRun = fc
  .tuple(fc.constantFrom('a', ' ', '<', '"', '\\', '(', '{', '.', '=', '\0'), fc.integer({ min: 100, max: 20_000 }))
  .map(([c, n]) => c.repeat(n));

/** Mutates a good line: a byte inserted, removed, duplicated or flipped. */
export function mutated(line: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc
    .tuple(line, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('insert', 'delete', 'flip', 'dup', 'upper', 'lower'))
    .map(([s, at, byte, op]) => {
      const i = s.length === 0 ? 0 : at % s.length;
      const ch = String.fromCharCode(byte);
      switch (op) {
        case 'insert':
          return s.slice(0, i) + ch + s.slice(i);
        case 'delete':
          return s.slice(0, i) + s.slice(i + 1);
        case 'flip':
          return s.slice(0, i) + String.fromCharCode((s.charCodeAt(i) ^ (1 << (byte % 8))) & 0xff) + s.slice(i + 1);
        case 'dup':
          return s.slice(0, i) + s.slice(i) + s.slice(i);
        case 'upper':
          return s.toUpperCase();
        default:
          return s.toLowerCase();
      }
    });
}

/** A session from a line generator: the lines joined by (mostly) CRLF, cut into TCP segments. */
export function sessionOf(line: fc.Arbitrary<string>, maxLines = 25): fc.Arbitrary<SessionInput> {
  return fc
    .tuple(fc.array(fc.tuple(line, lineEnd), { maxLength: maxLines }), fc.array(fc.nat(), { maxLength: 6 }))
    .map(([lines, cuts]) => ({ bytes: Buffer.from(lines.map(([l, e]) => l + e).join(''), 'latin1'), cuts }));
}
