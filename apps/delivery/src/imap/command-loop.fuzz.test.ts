/**
 * The whole IMAP command loop under generated input (fast-check), against a real server on
 * 127.0.0.1 through raw sockets: sequences of valid-ish commands in every state (not
 * authenticated, authenticated, selected, IDLE, AUTHENTICATE continuation, waiting for a
 * synchronizing literal), mutated commands and random bytes, on two connections at once while
 * mail is delivered. After every step a sync NOOP must be answered (or the server must say BYE
 * or close) within a bound. Properties:
 * - no hang: every valid command and every sync gets its tagged reply (or BYE/close) in time;
 * - no desync: every tag the server answers is one the client sent;
 * - no crash: no internal error (nothing logged at error level, no [SERVERBUG]), and a fresh
 *   connection still gets an answer to NOOP after each scenario;
 * - bounded memory: after the campaign and a GC, the process heap has not grown beyond a bound.
 *
 * Budget: POSTERN_FUZZ_RUNS scenarios (a few seconds' worth by default). Every scenario that
 * ever failed is kept in __tests__/corpus/ (a failing run writes its shrunk counterexample there:
 * commit it with the fix) and replayed first, on every run.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import pino from 'pino';
import { LoginThrottle } from '@postern/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFixture, message, PASSWORD, type Fixture } from './__tests__/fixture.js';
import type { ImapServer } from './index.js';

const RUNS = Number(process.env['POSTERN_FUZZ_RUNS'] ?? 30);
const CORPUS = fileURLToPath(new URL('./__tests__/corpus/', import.meta.url));
/** How long any reply may take (a loaded CI machine included). */
const BOUND_MS = 5000;
/** Literals the server may wait for are at most this big (PREAUTH_LITERAL_MAX, APPENDLIMIT below). */
const FILLER = ' '.repeat(8 * 1024 + 16);
const ALICE = 'alice@example.test';
const BOB = 'bob@example.test';

// --- scenarios ---------------------------------------------------------------------------------

type Step =
  /** A well-formed command (the tag is added when sent). */
  | { kind: 'cmd'; conn: number; body: string }
  /** `IDLE`, optionally a delivery meanwhile, then `DONE`. */
  | { kind: 'idle'; conn: number; deliver: boolean }
  /** `AUTHENTICATE PLAIN`, then the given line at the continuation. */
  | { kind: 'auth'; conn: number; response: string }
  /** A command with a synchronizing literal: `head {n}`, wait for `+`, then the data and the tail. */
  | { kind: 'literal'; conn: number; head: string; data: string; tail: string }
  /** Bytes as they are (latin1): mutated commands, random bytes. */
  | { kind: 'raw'; conn: number; bytes: string }
  /** A message delivered to alice's INBOX (another process's or the LMTP server's doing). */
  | { kind: 'deliver' };

interface Scenario {
  steps: Step[];
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');
const set = fc.constantFrom('1', '1:*', '*', '2:3', '1,3,5:*', '$', '0', '4294967295', '1:4294967296', '3:1', '9999', '1:2,2:1');
const mailbox = fc.constantFrom('INBOX', 'inbox', 'Trash', 'Sent', 'new', 'new/child', '"a b"', '&Jjo-', '"&"', 'nope', '""', '"Дом"', 'INBOX/sub');
const user = fc.constantFrom(ALICE, `"${ALICE}"`, BOB, 'nobody@example.test', '""');
const pass = fc.constantFrom(`"${PASSWORD}"`, `"${PASSWORD}"`, 'wrong', '""');
const uidPrefix = fc.constantFrom('', 'UID ');
const fetchItems = fc.constantFrom(
  'ALL',
  'FAST',
  'FULL',
  '(FLAGS UID)',
  'BODY[]',
  'BODY.PEEK[HEADER.FIELDS (Subject From)]',
  'BODY.PEEK[HEADER.FIELDS.NOT (Subject)]',
  'BODY[1.MIME]',
  'BODY[TEXT]<0.10>',
  'BINARY[1]',
  'BINARY.PEEK[1]<2.3>',
  'BINARY.SIZE[1]',
  '(ENVELOPE BODYSTRUCTURE MODSEQ)',
  'RFC822',
  'RFC822.HEADER',
  '(FLAGS) (CHANGEDSINCE 1)',
  '(FLAGS) (CHANGEDSINCE 1 VANISHED)',
  'BODY[9.9.9]',
);
const searchKey = fc.constantFrom(
  'ALL',
  'UNSEEN',
  'TEXT "body"',
  'BODY message',
  'SUBJECT x',
  'HEADER Message-ID m1',
  'OR SEEN FLAGGED',
  'NOT DELETED',
  'UID 1:*',
  '1:3',
  'MODSEQ 1',
  'LARGER 10',
  'SINCE 1-Jan-2020',
  'CHARSET UTF-8 TEXT "é"',
  'RETURN (MIN MAX COUNT ALL SAVE) ALL',
  'RETURN (SAVE) UNSEEN',
  '$',
  'OLDER 10',
  'KEYWORD $Junk',
);
const storeOp = fc.constantFrom('FLAGS', '+FLAGS', '-FLAGS.SILENT', '(UNCHANGEDSINCE 3) +FLAGS', '+FLAGS.SILENT');
const flags = fc.constantFrom('(\\Seen)', '(\\Deleted)', '($Junk foo)', '()', '(\\Recent)', '\\Flagged');
const appendMessage = fc.integer({ min: 1, max: 50 }).map((n) => message(n));

/** Command bodies, tagless, that the parser accepts (most of them) in some state. */
const body: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(user, pass).map(([u, p]) => `LOGIN ${u} ${p}`) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(`\0${ALICE}\0${PASSWORD}`, `\0${BOB}\0nope`, 'garbage', '').map((s) => `AUTHENTICATE PLAIN ${s === '' ? '=' : b64(s)}`),
  },
  { weight: 3, arbitrary: fc.constantFrom('CAPABILITY', 'NOOP', 'CHECK', 'NAMESPACE', 'ID NIL', 'ID ("name" "fuzz")', 'EXPUNGE') },
  { weight: 1, arbitrary: fc.constantFrom('CLOSE', 'UNSELECT') },
  { weight: 2, arbitrary: fc.constantFrom('ENABLE CONDSTORE', 'ENABLE QRESYNC', 'ENABLE UTF8=ACCEPT', 'ENABLE IMAP4rev2 FOO') },
  {
    weight: 6,
    arbitrary: fc
      .tuple(fc.constantFrom('SELECT', 'SELECT', 'EXAMINE'), fc.oneof({ weight: 4, arbitrary: fc.constant('INBOX') }, { weight: 1, arbitrary: mailbox }))
      .map(([v, m]) => `${v} ${m}`),
  },
  { weight: 1, arbitrary: fc.constantFrom('SELECT INBOX (CONDSTORE)', 'SELECT INBOX (QRESYNC (1 1))', 'SELECT INBOX (QRESYNC (1 1 1:5))') },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom('CREATE', 'DELETE', 'SUBSCRIBE', 'UNSUBSCRIBE'), mailbox).map(([v, m]) => `${v} ${m}`) },
  { weight: 1, arbitrary: fc.tuple(mailbox, mailbox).map(([a, b]) => `RENAME ${a} ${b}`) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'LIST "" *',
      'LIST "" %',
      'LIST "" ""',
      'LIST (SUBSCRIBED) "" "*" RETURN (CHILDREN STATUS (MESSAGES UNSEEN SIZE))',
      'LIST "" * RETURN (SPECIAL-USE)',
      'LSUB "" *',
    ),
  },
  { weight: 2, arbitrary: mailbox.map((m) => `STATUS ${m} (MESSAGES UIDNEXT UIDVALIDITY UNSEEN SIZE HIGHESTMODSEQ)`) },
  { weight: 2, arbitrary: fc.tuple(mailbox, appendMessage).map(([m, msg]) => `APPEND ${m} (\\Seen) {${Buffer.byteLength(msg)}+}\r\n${msg}`) },
  { weight: 1, arbitrary: set.map((s) => `UID EXPUNGE ${s}`) },
  { weight: 4, arbitrary: fc.tuple(uidPrefix, searchKey).map(([u, k]) => `${u}SEARCH ${k}`) },
  { weight: 6, arbitrary: fc.tuple(uidPrefix, set, fetchItems).map(([u, s, i]) => `${u}FETCH ${s} ${i}`) },
  { weight: 4, arbitrary: fc.tuple(uidPrefix, set, storeOp, flags).map(([u, s, o, f]) => `${u}STORE ${s} ${o} ${f}`) },
  { weight: 2, arbitrary: fc.tuple(uidPrefix, fc.constantFrom('COPY', 'MOVE'), set, mailbox).map(([u, v, s, m]) => `${u}${v} ${s} ${m}`) },
  { weight: 1, arbitrary: fc.constantFrom('LOGOUT', 'STARTTLS', 'IDLE') },
);

/** Tokens that move the framer and the parser into their corners. */
const insertion = fc.constantFrom(
  '{5}\r\n',
  '{0}\r\n',
  '{3+}\r\n',
  '{4294967296}\r\n',
  '{99999999999999999999}\r\n',
  '~{2}\r\n',
  '{1}',
  '"',
  '(',
  ')',
  '\r\n',
  '\n',
  '\r',
  '\0',
  '\xff',
  ' ',
  '*',
  '\\',
  '[',
  'IDLE\r\n',
  'DONE\r\n',
  'x AUTHENTICATE PLAIN\r\n',
  '$',
);

type Mutation =
  | { at: number; op: 'cut' }
  | { at: number; op: 'insert'; text: string }
  | { at: number; op: 'byte'; byte: number }
  | { at: number; op: 'repeat'; len: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ at: fc.nat(400), op: fc.constant('cut' as const) }),
  fc.record({ at: fc.nat(400), op: fc.constant('insert' as const), text: insertion }),
  fc.record({ at: fc.nat(400), op: fc.constant('byte' as const), byte: fc.nat(255) }),
  fc.record({ at: fc.nat(400), op: fc.constant('repeat' as const), len: fc.integer({ min: 1, max: 40 }) }),
);

function mutate(line: string, ms: readonly Mutation[]): string {
  let s = line;
  for (const m of ms) {
    const at = s.length === 0 ? 0 : m.at % (s.length + 1);
    switch (m.op) {
      case 'cut':
        s = s.slice(0, at);
        break;
      case 'insert':
        s = s.slice(0, at) + m.text + s.slice(at);
        break;
      case 'byte':
        s = s.slice(0, at) + String.fromCharCode(m.byte) + s.slice(at + 1);
        break;
      case 'repeat':
        s = s.slice(0, at) + s.slice(at, at + m.len).repeat(3) + s.slice(at);
        break;
    }
  }
  return s;
}

/**
 * The server reads (or skips, past its limits) every octet a non-synchronizing literal announces
 * (RFC 7888 §4), so a mutation that turns `{18+}` into `{180000+}` leaves it reading 180,000
 * octets that this harness never sends, and the sync NOOP goes unanswered. Announced sizes are
 * kept within what the sync's filler supplies; sizes beyond a safe integer stay (the server
 * closes the connection on those).
 */
function boundNonSyncLiterals(line: string): string {
  return line.replace(/\{(\d+)\+\}/g, (marker, digits: string) => {
    const n = Number(digits);
    if (!Number.isSafeInteger(n) || n <= FILLER.length - 16) return marker;
    return `{${n % (FILLER.length - 16)}+}`;
  });
}

const conn = fc.integer({ min: 0, max: 1 });
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 10, arbitrary: fc.record({ kind: fc.constant('cmd' as const), conn, body }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('idle' as const), conn, deliver: fc.boolean() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('auth' as const),
      conn,
      response: fc.constantFrom(b64(`\0${ALICE}\0${PASSWORD}`), b64(`\0${ALICE}\0bad`), '*', '', '====', b64('\0\0'), 'x'.repeat(3000)),
    }),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(conn, mailbox, appendMessage)
      .map(([c, m, msg]) => ({ kind: 'literal' as const, conn: c, head: `APPEND ${m} {${Buffer.byteLength(msg)}}`, data: msg, tail: '' })),
  },
  {
    weight: 5,
    arbitrary: fc
      .tuple(conn, body, fc.array(mutation, { minLength: 1, maxLength: 3 }))
      .map(([c, b, ms]) => ({ kind: 'raw' as const, conn: c, bytes: mutate(`r ${b}\r\n`, ms) })),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(conn, fc.uint8Array({ maxLength: 120 })).map(([c, a]) => ({ kind: 'raw' as const, conn: c, bytes: Buffer.from(a).toString('latin1') })),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'deliver' as const }) },
);

/** Most scenarios start logged in and with a mailbox selected, so the deep states get the steps. */
const prologue = fc.constantFrom<Step[]>(
  [],
  [{ kind: 'cmd', conn: 0, body: `LOGIN ${ALICE} "${PASSWORD}"` }],
  [
    { kind: 'cmd', conn: 0, body: `LOGIN ${ALICE} "${PASSWORD}"` },
    { kind: 'cmd', conn: 0, body: 'SELECT INBOX' },
    { kind: 'cmd', conn: 1, body: `LOGIN ${ALICE} "${PASSWORD}"` },
    { kind: 'cmd', conn: 1, body: 'SELECT INBOX' },
  ],
  [
    { kind: 'cmd', conn: 0, body: `LOGIN ${ALICE} "${PASSWORD}"` },
    { kind: 'cmd', conn: 0, body: 'SELECT INBOX' },
    { kind: 'cmd', conn: 1, body: `LOGIN ${ALICE} "${PASSWORD}"` },
    { kind: 'cmd', conn: 1, body: 'SELECT INBOX' },
  ],
);
const scenario: fc.Arbitrary<Scenario> = fc.tuple(prologue, fc.array(step, { minLength: 1, maxLength: 14 })).map(([p, s]) => ({ steps: [...p, ...s] }));

// --- the driver --------------------------------------------------------------------------------

class HangError extends Error {}

/** What the server answered over the campaign, printed so a reader sees which paths ran. */
const stats = { OK: 0, NO: 0, BAD: 0, continuations: 0, bye: 0, fetchLiterals: 0, selected: 0 };

/** One raw connection: everything the server says, split into lines (literals skipped). */
class Wire {
  private buf: Buffer = Buffer.alloc(0);
  private wakers: Array<() => void> = [];
  readonly tagged = new Map<string, string>();
  continuations = 0;
  bye = false;
  closed = false;
  readonly transcript: string[] = [];
  /** Everything sent, to check that each tag the server answers came from the client. */
  private sent = '';
  readonly strays: string[] = [];

  private constructor(private readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
      this.parse();
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  static open(port: number): Promise<Wire> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port }, () => resolve(new Wire(s)));
      s.once('error', reject);
    });
  }

  private wake(): void {
    for (const w of this.wakers.splice(0)) w();
  }

  private parse(): void {
    for (;;) {
      let pos = 0;
      let end = -1;
      for (;;) {
        const i = this.buf.indexOf('\r\n', pos);
        if (i < 0) return;
        const m = /\{(\d+)\}$/.exec(this.buf.toString('latin1', Math.max(pos, i - 24), i));
        if (m) {
          stats.fetchLiterals++;
          const after = i + 2 + Number(m[1]);
          if (this.buf.length < after) return;
          pos = after;
          continue;
        }
        end = i;
        break;
      }
      const line = this.buf.toString('latin1', 0, end);
      this.buf = this.buf.subarray(end + 2);
      if (this.transcript.length < 400) this.transcript.push(`S: ${line.slice(0, 200)}`);
      if (line.startsWith('+')) {
        this.continuations++;
        stats.continuations++;
      } else if (line.startsWith('* BYE')) {
        this.bye = true;
        stats.bye++;
      } else if (!line.startsWith('*')) {
        const tag = line.slice(0, line.indexOf(' '));
        // A tag the client never sent means the server lost the command framing.
        if (!this.sent.includes(tag)) this.strays.push(line);
        this.tagged.set(tag, line);
        const status = /^\S+ (OK|NO|BAD)\b/.exec(line)?.[1] as 'OK' | 'NO' | 'BAD' | undefined;
        if (status) stats[status]++;
        if (/^\S+ OK \[READ-(WRITE|ONLY)\]/.test(line)) stats.selected++;
        // The server now waits for a TLS handshake, which this plaintext driver won't make:
        // the conversation is over, as after BYE (the server's handshake timer ends it).
        if (/^\S+ OK Begin TLS/.test(line)) this.bye = true;
      }
    }
  }

  send(data: string): void {
    if (this.transcript.length < 400) this.transcript.push(`C: ${JSON.stringify(data.slice(0, 200))}`);
    if (!this.closed) this.socket.write(Buffer.from(data, 'latin1'));
    this.sent += data.replaceAll(FILLER, '');
  }

  /** Waits until `done()` holds or the connection is closed; HangError after BOUND_MS. */
  async until(done: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + BOUND_MS;
    while (!done() && !this.closed) {
      const left = deadline - Date.now();
      if (left <= 0) throw new HangError(`no ${what} within ${BOUND_MS} ms\n${this.transcript.slice(-30).join('\n')}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.wakers.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** The tagged reply of `tag` (or BYE/close). */
  reply(tag: string): Promise<void> {
    return this.until(() => this.tagged.has(tag) || this.bye, `reply to ${tag}`);
  }

  /** A continuation request or the tagged reply of `tag`. */
  async continuation(tag: string): Promise<boolean> {
    const before = this.continuations;
    await this.until(() => this.continuations > before || this.tagged.has(tag) || this.bye, `continuation for ${tag}`);
    return this.continuations > before;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

interface Run {
  fx: Fixture;
  port: number;
}

async function greeted(port: number): Promise<Wire> {
  const w = await Wire.open(port);
  await w.until(() => w.transcript.length > 0, 'greeting');
  return w;
}

/** Runs one scenario; throws HangError or an assertion error on a broken property. */
async function play(run: Run, sc: Scenario): Promise<void> {
  const wires: Array<Wire | null> = [null, null];
  let n = 0;
  const wire = async (i: number): Promise<Wire> => {
    let w = wires[i];
    if (!w || w.closed || w.bye) {
      w?.destroy();
      w = await greeted(run.port);
      wires[i] = w;
    }
    return w;
  };
  try {
    for (const st of sc.steps) {
      if (st.kind === 'deliver') {
        await run.fx.deliver(ALICE, message(++n));
        continue;
      }
      const w = await wire(st.conn);
      const tag = `t${++n}`;
      switch (st.kind) {
        case 'cmd':
          w.send(`${tag} ${st.body}\r\n`);
          if (st.body === 'IDLE' || st.body === 'STARTTLS') break; // left to the sync
          await w.reply(tag);
          break;
        case 'idle':
          w.send(`${tag} IDLE\r\n`);
          if (await w.continuation(tag)) {
            if (st.deliver) await run.fx.deliver(ALICE, message(++n));
            w.send('DONE\r\n');
            await w.reply(tag);
          }
          break;
        case 'auth':
          w.send(`${tag} AUTHENTICATE PLAIN\r\n`);
          if (await w.continuation(tag)) {
            w.send(`${st.response}\r\n`);
            await w.reply(tag);
          }
          break;
        case 'literal':
          w.send(`${tag} ${st.head}\r\n`);
          if (await w.continuation(tag)) {
            w.send(`${st.data}${st.tail}\r\n`);
            await w.reply(tag);
          }
          break;
        case 'raw':
          w.send(boundNonSyncLiterals(st.bytes));
          break;
      }
      // Sync: whatever state the bytes left the session in (IDLE, a SASL exchange, a literal of
      // at most FILLER bytes being read), DONE and a line of spaces end it; then NOOP answers.
      if (w.closed || w.bye) continue;
      const sync = `z${++n}`;
      w.send(`DONE\r\n${FILLER}\r\n${sync} NOOP\r\n`);
      await w.reply(sync);
    }
    for (const w of wires) expect(w?.strays ?? [], 'tagged replies with tags never sent').toEqual([]);
  } finally {
    for (const w of wires) w?.destroy();
  }
  // The server still answers.
  const probe = await greeted(run.port);
  probe.send('p NOOP\r\n');
  await probe.reply('p');
  expect(probe.tagged.get('p')).toBe('p OK completed');
  probe.destroy();
}

// --- the campaign ------------------------------------------------------------------------------

const errors: string[] = [];
const logSink = new Writable({
  write(chunk: Buffer, _enc, cb): void {
    for (const line of chunk.toString().split('\n')) {
      if (!line) continue;
      const entry = JSON.parse(line) as { level: number; msg?: string };
      if (entry.level >= 50) errors.push(line);
    }
    cb();
  },
});

let fx: Fixture;
let server: ImapServer;

beforeAll(async () => {
  fx = await createFixture([ALICE, BOB], {
    profile: 'development', // plaintext LOGIN on loopback: the fuzz drives the command loop, not TLS
    auth: { failure_delay: '1ms', max_failures_per_account: 1_000_000, max_failures_per_ip: 1_000_000 },
    limits: { message_size: 4096, imap_line_length: 2048, connections_per_ip: 1000, imap_connections_per_user: 1000 },
  });
  for (let i = 1; i <= 5; i++) await fx.deliver(ALICE, message(i));
  // No growing delay after failed logins (by design up to 8 s): the fuzz fails many on purpose.
  const throttle = new LoginThrottle({ maxFailuresPerIp: 1e9, maxFailuresPerAccount: 1e9, lockoutMs: 1000, failureDelayMs: 0 });
  server = await fx.start({ logger: pino({ level: 'warn' }, logSink), throttle });
});

afterAll(async () => {
  await fx.cleanup();
});

function corpusFiles(): string[] {
  try {
    return readdirSync(CORPUS)
      .filter((f) => f.endsWith('.json'))
      .sort();
  } catch {
    return [];
  }
}

function heapAfterGc(): number {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
  return process.memoryUsage().heapUsed;
}

describe('IMAP command loop (fuzz)', () => {
  it('replays the corpus of scenarios that once failed', async () => {
    for (const f of corpusFiles()) {
      const sc = JSON.parse(readFileSync(`${CORPUS}${f}`, 'utf8')) as Scenario;
      await play({ fx, port: server.port }, sc).catch((e: unknown) => {
        throw new Error(`corpus ${f}: ${String(e)}`);
      });
    }
    expect(errors).toEqual([]);
  });

  it(
    `survives generated command sequences (${RUNS} scenarios)`,
    async () => {
      const heapBefore = heapAfterGc();
      const started = Date.now();
      const result = await fc.check(
        fc.asyncProperty(scenario, async (sc) => {
          const before = errors.length;
          await play({ fx, port: server.port }, sc);
          if (errors.length > before) throw new Error(`server logged errors:\n${errors.slice(before).join('\n')}`);
        }),
        // Shrinking retries a hang many times over BOUND_MS each: only on request.
        {
          numRuns: RUNS,
          endOnFailure: process.env['POSTERN_FUZZ_SHRINK'] !== '1',
          ...(process.env['POSTERN_FUZZ_SEED'] ? { seed: Number(process.env['POSTERN_FUZZ_SEED']) } : {}),
        },
      );
      if (result.failed && result.counterexample) {
        const [sc] = result.counterexample;
        const text = JSON.stringify(sc, null, 1);
        mkdirSync(CORPUS, { recursive: true });
        const name = `${createHash('sha256').update(text).digest('hex').slice(0, 16)}.json`;
        writeFileSync(`${CORPUS}${name}`, `${text}\n`);
        throw new Error(`${String(result.errorInstance)}\nseed ${result.seed}; kept as __tests__/corpus/${name}`);
      }
      const growth = heapAfterGc() - heapBefore;
      console.log(
        `[imap fuzz] ${RUNS} scenarios in ${Date.now() - started} ms; heap growth after GC ${(growth / 1024 / 1024).toFixed(1)} MB; ` +
          `replies ${JSON.stringify(stats)}`,
      );
      // Sessions, framers and sockets are released when connections end.
      expect(growth).toBeLessThan(64 * 1024 * 1024);
    },
    30_000 + RUNS * 500,
  );
});
