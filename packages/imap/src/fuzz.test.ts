/**
 * Property tests over the whole codec: generated commands survive write -> frame -> parse, and
 * arbitrary or mutated bytes never make the framer or the parser throw anything but their
 * typed errors, never loop, and never hold more than the limits allow.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatCommand } from './command-writer.js';
import { FramingError, ImapParseError } from './errors.js';
import { ImapFramer, type FramerLimits } from './framing.js';
import { parseCommand } from './parser.js';
import { command } from '../test/arbitraries.js';
import { run } from '../test/helpers.js';

/** `IMAP_FUZZ_SCALE=50 npx vitest run src/fuzz.test.ts` for a longer campaign. */
const SCALE = Math.max(1, Number(process.env.IMAP_FUZZ_SCALE ?? 1));
const runs = (n: number): number => n * SCALE;

describe('round trip: formatCommand -> ImapFramer -> parseCommand', () => {
  for (const literalPlus of [true, false]) {
    for (const utf8Accept of [false, true]) {
      it(`literalPlus=${literalPlus} utf8Accept=${utf8Accept}`, () => {
        fc.assert(
          fc.property(command, fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 4 }), (cmd, chunkSizes) => {
            const wire = formatCommand(cmd, { literalPlus, utf8Accept });
            const r = run(wire, { chunkSizes, utf8Accept });
            expect(r.framingErrors).toEqual([]);
            expect(r.parseErrors).toEqual([]);
            expect(r.commands).toEqual([cmd]);
            if (!literalPlus) expect(r.continuations).toBe(wire.toString('latin1').match(/\{\d+\}\r\n/g)?.length ?? 0);
          }),
          { numRuns: runs(400) },
        );
      });
    }
  }
});

const SMALL_LIMITS: Partial<FramerLimits> = { maxLineLength: 200, maxLiteralSize: 100, maxCommandSize: 400, highWaterMark: 256, maxBuffered: 4096 };

/** Token soup close enough to IMAP to reach deep into the parser. */
const token = fc.oneof(
  fc.constantFrom(
    'A1 ',
    'a.2 ',
    '* ',
    '+ ',
    ' ',
    '  ',
    '\r\n',
    '\n',
    '\r',
    '(',
    ')',
    '[',
    ']',
    '<',
    '>',
    '"',
    '\\',
    '{',
    '}',
    '~{',
    '{0}',
    '{3}',
    '{5+}',
    '{2}\r\n',
    '{4+}\r\n',
    '~{3+}\r\n',
    '{99999999999999999999+}\r\n',
    '{150+}\r\n',
    'NIL',
    '*',
    ':',
    ',',
    '$',
    '.',
    '%',
    '1',
    '0',
    '42',
    '4294967295',
    '4294967296',
  ),
  fc.constantFrom(
    'UID',
    'FETCH',
    'STORE',
    'SEARCH',
    'COPY',
    'MOVE',
    'EXPUNGE',
    'APPEND',
    'SELECT',
    'EXAMINE',
    'LIST',
    'LSUB',
    'STATUS',
    'CREATE',
    'RENAME',
    'LOGIN',
    'AUTHENTICATE',
    'ENABLE',
    'ID',
    'IDLE',
    'DONE',
    'BODY',
    'BODY.PEEK[',
    'BINARY[',
    'BINARY.SIZE[',
    'HEADER.FIELDS',
    'HEADER.FIELDS.NOT',
    'MIME',
    'TEXT',
    'HEADER',
    'RETURN',
    'CHARSET',
    'UTF-8',
    'KOI8-R',
    'OR',
    'NOT',
    'MODSEQ',
    'CHANGEDSINCE',
    'VANISHED',
    'UNCHANGEDSINCE',
    'QRESYNC',
    'CONDSTORE',
    '+FLAGS.SILENT',
    'FLAGS',
    '\\Seen',
    'SINCE',
    '1-Feb-2024',
    '"01-Jan-2024 00:00:00 +0000"',
    'UTF8',
    'INBOX',
    '&U,BTFw-',
    '&',
    'USE',
    'SUBSCRIBED',
  ),
  fc.string({ maxLength: 4 }),
  fc.uint8Array({ maxLength: 4 }).map((a) => Buffer.from(a).toString('latin1')),
);
const soup = fc.array(token, { maxLength: 60 }).map((t) => Buffer.from(t.join(''), 'latin1'));

interface Drive {
  bytes: Buffer;
  chunkSizes: number[];
  decisions: boolean[];
  rawAfter: boolean[];
}

/**
 * Drives a framer like a careful server would (accepting or refusing literals, switching to
 * raw-line mode after some commands) and checks the invariants on every step.
 */
function drive({ bytes, chunkSizes, decisions, rawAfter }: Drive): void {
  const limits = { ...SMALL_LIMITS } as FramerLimits;
  const framer = new ImapFramer(limits);
  let pos = 0;
  let step = 0;
  let events = 0;
  const pump = (): void => {
    for (;;) {
      expect(++events).toBeLessThan(100_000);
      const ev = framer.next();
      if (!ev) return;
      step++;
      switch (ev.kind) {
        case 'literal':
          expect(ev.size).toBeLessThanOrEqual(limits.maxLiteralSize);
          if (decisions[step % decisions.length]) framer.acceptLiteral();
          else framer.rejectLiteral();
          break;
        case 'command': {
          expect(ev.unit.size).toBeLessThanOrEqual(limits.maxCommandSize);
          expect(ev.unit.lines.length).toBe(ev.unit.literals.length + 1);
          for (const l of ev.unit.lines) expect(l.length).toBeLessThanOrEqual(limits.maxLineLength);
          try {
            parseCommand(ev.unit, { utf8Accept: step % 2 === 0 });
          } catch (err) {
            if (!(err instanceof ImapParseError)) throw err;
          }
          if (rawAfter[step % rawAfter.length]) framer.readRawLine();
          break;
        }
        case 'line':
          expect(ev.line.length).toBeLessThanOrEqual(limits.maxLineLength);
          break;
        case 'error':
          expect(ev.error).toBeInstanceOf(FramingError);
          break;
      }
    }
  };
  let i = 0;
  while (pos < bytes.length) {
    const size = chunkSizes[i++ % chunkSizes.length] as number;
    try {
      framer.push(bytes.subarray(pos, pos + size));
    } catch (err) {
      // Only the typed overflow may escape push(), and only when we did not drain.
      expect(err).toBeInstanceOf(FramingError);
      return;
    }
    pos += size;
    expect(framer.buffered).toBeLessThanOrEqual(limits.maxBuffered);
    pump();
  }
  pump();
}

const chunking = fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 5 });
const decisions = fc.array(fc.boolean(), { minLength: 1, maxLength: 5 });
const rawAfter = fc.array(fc.boolean(), { minLength: 1, maxLength: 5 }).map((a) => a.map((x, i) => x && i % 3 === 0));

describe('robustness on any input (property)', () => {
  it('arbitrary bytes', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 2000 }).map((a) => Buffer.from(a)),
        chunking,
        decisions,
        rawAfter,
        (bytes, chunkSizes, d, r) => drive({ bytes, chunkSizes, decisions: d, rawAfter: r }),
      ),
      { numRuns: runs(300) },
    );
  });

  it('IMAP-like token soup', () => {
    fc.assert(
      fc.property(soup, chunking, decisions, rawAfter, (bytes, chunkSizes, d, r) => drive({ bytes, chunkSizes, decisions: d, rawAfter: r })),
      { numRuns: runs(1500) },
    );
  });

  it('valid commands with bytes flipped, dropped or inserted', () => {
    const mutated = fc
      .tuple(
        fc.array(command, { minLength: 1, maxLength: 3 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('flip', 'drop', 'insert')), { maxLength: 4 }),
      )
      .map(([cmds, edits]) => {
        const bytes = [...Buffer.concat(cmds.map((c) => formatCommand(c, { literalPlus: false })))];
        for (const [at, value, op] of edits) {
          if (bytes.length === 0) break;
          const i = at % bytes.length;
          if (op === 'flip') bytes[i] = value;
          else if (op === 'drop') bytes.splice(i, 1);
          else bytes.splice(i, 0, value);
        }
        return Buffer.from(bytes);
      });
    fc.assert(
      fc.property(mutated, chunking, decisions, (bytes, chunkSizes, d) => drive({ bytes, chunkSizes, decisions: d, rawAfter: [false] })),
      { numRuns: runs(800) },
    );
  });
});
