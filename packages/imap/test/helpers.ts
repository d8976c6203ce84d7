/**
 * Test helpers: drive the framer the way a server does (accepting every synchronizing literal)
 * and collect what comes out.
 */
import { type FramingError, ImapFramer, ImapParseError, parseCommand, type Command, type FrameEvent, type FramerLimits } from '../src/index.js';

export interface Collected {
  events: FrameEvent[];
  commands: Command[];
  parseErrors: ImapParseError[];
  framingErrors: FramingError[];
  /** Tags that got a continuation request for a synchronizing literal. */
  continuations: number;
}

/** Upper bound of events per input, so a bug can never hang a test. */
const MAX_EVENTS = 100_000;

/**
 * Feeds `input` (in the given chunk sizes, or whole) through a framer and parses each unit.
 * Synchronizing literals are accepted unless `rejectLiterals` is set.
 */
export function run(
  input: Buffer | string,
  options: { limits?: Partial<FramerLimits>; chunkSizes?: number[]; rejectLiterals?: boolean; utf8Accept?: boolean } = {},
): Collected {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  const framer = new ImapFramer(options.limits);
  const out: Collected = { events: [], commands: [], parseErrors: [], framingErrors: [], continuations: 0 };
  const drain = (): void => {
    for (let guard = 0; guard < MAX_EVENTS; guard++) {
      const ev = framer.next();
      if (!ev) return;
      out.events.push(ev);
      if (ev.kind === 'literal') {
        out.continuations++;
        if (options.rejectLiterals) framer.rejectLiteral();
        else framer.acceptLiteral();
      } else if (ev.kind === 'error') {
        out.framingErrors.push(ev.error);
      } else if (ev.kind === 'command') {
        try {
          out.commands.push(parseCommand(ev.unit, { utf8Accept: options.utf8Accept === true }));
        } catch (err) {
          if (err instanceof ImapParseError) out.parseErrors.push(err);
          else throw err;
        }
      }
    }
    throw new Error('framer produced too many events');
  };
  const sizes = options.chunkSizes ?? [bytes.length];
  let pos = 0;
  let i = 0;
  while (pos < bytes.length) {
    const size = Math.max(1, sizes[i % sizes.length] ?? bytes.length);
    framer.push(bytes.subarray(pos, pos + size));
    pos += size;
    i++;
    drain();
  }
  drain();
  return out;
}

/** Parses exactly one command from wire text (literals accepted). */
export function parseOne(wire: string | Buffer, utf8Accept = false): Command {
  const r = run(wire, { utf8Accept });
  if (r.parseErrors.length > 0) throw r.parseErrors[0];
  if (r.framingErrors.length > 0) throw r.framingErrors[0];
  if (r.commands.length !== 1) throw new Error(`expected one command, got ${r.commands.length}`);
  return r.commands[0] as Command;
}

/** Parses one command and expects an ImapParseError. */
export function parseError(wire: string | Buffer): ImapParseError {
  const r = run(wire);
  if (r.commands.length > 0) throw new Error(`expected a parse error, parsed ${JSON.stringify(r.commands[0])}`);
  const e = r.parseErrors[0];
  if (!e) throw new Error('expected a parse error, got none');
  return e;
}
