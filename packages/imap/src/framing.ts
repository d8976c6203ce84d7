/**
 * Command framing (RFC 9051 §2.2, §4.3, §7.5; RFC 7888 LITERAL+/LITERAL-; RFC 3516 literal8).
 *
 * The framer turns the socket's byte stream into command units: one command line, or several
 * line segments joined by literals (`A1 APPEND INBOX (\Seen) {310}\r\n<310 bytes>\r\n` is one
 * unit). It knows nothing of the grammar beyond the literal marker at the end of a line.
 *
 * It is pull-based: `push()` stores bytes, `next()` returns one event at a time and consumes
 * only the bytes that event needs. So a server handles one command, may switch the framer to
 * raw-line mode (AUTHENTICATE responses, IDLE's `DONE`), then asks for the next event; bytes a
 * client pipelined meanwhile are interpreted under the right mode.
 *
 * Synchronizing literals `{n}`: the framer stops and returns a `literal` event; the server
 * either calls `acceptLiteral()` and sends `+ Ready`, or `rejectLiteral()` and sends a tagged
 * NO/BAD (e.g. `[TOOBIG]`), after which the client does not send the literal (§7.5).
 * Non-synchronizing literals `{n+}` are read without a continuation.
 *
 * A literal gate (`setLiteralGate`), when set, is asked about every literal that passed the
 * limits before any of its octets is kept: a server counts the bytes it holds in flight across
 * connections and refuses a literal for now (`LITERAL_REFUSED_FOR_NOW`, skipped like a literal
 * over the limit).
 *
 * A literal spool (`setLiteralSpool`), when set, receives the octets of every literal larger than
 * its threshold as they arrive, so a client holding a large APPEND open holds the server's disk,
 * not its memory; the literal is read back whole when its last octet is in. A spool that fails
 * (disk full) refuses the command (`LITERAL_SPOOL_FAILED`) and the rest of the literal is skipped.
 *
 * Memory is bounded by the limits: a line is never buffered past `maxLineLength` (the rest is
 * skipped), literal octets over a limit are skipped without being stored, and `push()` refuses
 * input beyond `maxBuffered` when the server does not apply back-pressure.
 */
import { FramingError } from './errors.js';

export interface FramerLimits {
  /** Longest command line or raw line, in octets without CRLF. */
  maxLineLength: number;
  /** Largest single literal (APPENDLIMIT, RFC 7889). */
  maxLiteralSize: number;
  /** Largest command: every line segment and literal together (MULTIAPPEND included). */
  maxCommandSize: number;
  /**
   * True when the server advertises LITERAL- but not LITERAL+: non-synchronizing literals over
   * 4096 octets are then refused with `NON_SYNC_LITERAL_TOO_BIG` (RFC 7888 §4).
   */
  literalMinus: boolean;
  /** `push()` returns false (pause the socket) once this many octets wait unprocessed. */
  highWaterMark: number;
  /** `push()` throws a fatal BUFFER_OVERFLOW once this many octets wait unprocessed. */
  maxBuffered: number;
}

export const DEFAULT_FRAMER_LIMITS: Readonly<FramerLimits> = Object.freeze({
  maxLineLength: 64 * 1024,
  maxLiteralSize: 50 * 1024 * 1024,
  maxCommandSize: 100 * 1024 * 1024,
  literalMinus: false,
  highWaterMark: 256 * 1024,
  maxBuffered: 100 * 1024 * 1024 + 128 * 1024,
});

/** Where the octets of a large literal go while they arrive. */
export interface LiteralSpool {
  /** Literals larger than this many octets are spooled; smaller ones stay in memory. */
  readonly threshold: number;
  /** A place for one literal of `size` octets. May throw (the command is then refused). */
  open(size: number): SpooledLiteral;
}

export interface SpooledLiteral {
  /** Appends octets (synchronously: the framer is synchronous). May throw. */
  write(piece: Buffer): void;
  /** Every octet written, read back; the spooled copy is removed. May throw. */
  finish(): Buffer;
  /** The command was dropped or the connection closed: removes the spooled copy. Never throws. */
  discard(): void;
}

/** RFC 7888 §4: the largest non-synchronizing literal LITERAL- allows. */
export const LITERAL_MINUS_MAX = 4096;

export interface Literal {
  readonly data: Buffer;
  /** Sent as `~{n}` (literal8, RFC 3516): may hold NUL octets. */
  readonly binary: boolean;
  /** Sent as `{n+}` (RFC 7888). */
  readonly nonSync: boolean;
}

/**
 * One complete command. `lines[i]` is followed by `literals[i]`, so there is always one more
 * line than literals. CRLF is removed; the literal marker (`{310}`) stays at the end of its line.
 */
export interface CommandUnit {
  readonly lines: readonly Buffer[];
  readonly literals: readonly Literal[];
  /** Octets of lines and literals together, without line ends. */
  readonly size: number;
  /** The tag when the first line started with a valid one (for error replies), else null. */
  readonly tag: string | null;
}

export type FrameEvent =
  | { readonly kind: 'command'; readonly unit: CommandUnit }
  /**
   * A synchronizing literal was announced. Call `acceptLiteral()` and send `+ Ready`, or
   * `rejectLiteral()` and send a tagged NO/BAD. `next()` returns null until one is called.
   */
  | { readonly kind: 'literal'; readonly tag: string | null; readonly size: number; readonly binary: boolean }
  /** A line read in raw mode (`readRawLine()`), CRLF removed. */
  | { readonly kind: 'line'; readonly line: Buffer }
  /** A limit was broken; the offending command is skipped unless `error.fatal`. */
  | { readonly kind: 'error'; readonly error: FramingError };

interface LiteralMarker {
  /** Octet count; Infinity when the digits do not fit a safe integer. */
  readonly size: number;
  readonly nonSync: boolean;
  readonly binary: boolean;
}

const MAX_TAG_SCAN = 256;

/** Stands in for a spool that did not open: every write fails, so the command is refused. */
const FAILED_SPOOL: SpooledLiteral = {
  write() {
    throw new Error('spool not open');
  },
  finish() {
    throw new Error('spool not open');
  },
  discard() {},
};
const EMPTY = Buffer.alloc(0);

/** The last `n` octets of the concatenation of `pieces`. */
function lastOctets(pieces: readonly Buffer[], n: number): Buffer {
  const picked: Buffer[] = [];
  let total = 0;
  for (let i = pieces.length - 1; i >= 0 && total < n; i--) {
    const p = pieces[i] as Buffer;
    const want = Math.min(p.length, n - total);
    picked.unshift(p.subarray(p.length - want));
    total += want;
  }
  return Buffer.concat(picked, total);
}
const TAIL_KEEP = 32;

/** ASTRING-CHAR except "+" (RFC 9051 §9 `tag`). */
function isTagChar(c: number): boolean {
  if (c <= 0x20 || c >= 0x7f) return false;
  // atom-specials minus "]" (resp-specials are allowed in ASTRING-CHAR), and "+"
  return c !== 0x28 && c !== 0x29 && c !== 0x7b && c !== 0x25 && c !== 0x2a && c !== 0x22 && c !== 0x5c && c !== 0x2b;
}

/** The tag at the start of `line` if it is followed by a space, else null. */
export function extractTag(line: Buffer): string | null {
  const limit = Math.min(line.length, MAX_TAG_SCAN);
  for (let i = 0; i < limit; i++) {
    const c = line[i] as number;
    if (c === 0x20) return i === 0 ? null : line.toString('latin1', 0, i);
    if (!isTagChar(c)) return null;
  }
  return null;
}

/**
 * Recognises a literal marker at the very end of a line: `{n}`, `{n+}`, `~{n}`, `~{n+}`.
 * Digits only, at least one.
 */
export function findLiteralMarker(line: Buffer): LiteralMarker | null {
  let i = line.length - 1;
  if (i < 2 || line[i] !== 0x7d) return null;
  i--;
  let nonSync = false;
  if (line[i] === 0x2b) {
    nonSync = true;
    i--;
  }
  const digitsEnd = i + 1;
  while (i >= 0 && (line[i] as number) >= 0x30 && (line[i] as number) <= 0x39) i--;
  if (i + 1 === digitsEnd || i < 0 || line[i] !== 0x7b) return null;
  const binary = i > 0 && line[i - 1] === 0x7e;
  const digits = digitsEnd - (i + 1);
  const size = digits > 15 ? Infinity : Number(line.toString('latin1', i + 1, digitsEnd));
  return { size, nonSync, binary };
}

type State =
  | { readonly name: 'line' }
  | { readonly name: 'literal'; remaining: number; readonly binary: boolean; readonly nonSync: boolean }
  | { readonly name: 'await-decision'; readonly size: number; readonly binary: boolean }
  | { readonly name: 'discard-line' }
  | { readonly name: 'discard-literal'; remaining: number }
  /** After a fatal error: nothing more is read, the server closes the connection. */
  | { readonly name: 'failed' };

export class ImapFramer {
  private limits: FramerLimits;
  private chunks: Buffer[] = [];
  private headOffset = 0;
  private bufferedBytes = 0;
  private state: State = { name: 'line' };
  private rawMode = false;
  /** Raw mode applies to the line being read now (set at the line's start). */
  private lineIsRaw = false;

  // The line being read.
  private linePieces: Buffer[] = [];
  private lineLength = 0;
  /** Last octets of a line being skipped, to spot a literal marker at its end. */
  private discardTail: Buffer = EMPTY;
  /** The line being skipped is a raw line, which never carries literals. */
  private discardRaw = false;

  // The command being assembled.
  private lines: Buffer[] = [];
  private literals: Literal[] = [];
  private literalPieces: Buffer[] = [];
  private commandSize = 0;
  private commandTag: string | null = null;

  private literalGate: ((size: number) => boolean) | null = null;
  private literalSpool: LiteralSpool | null = null;
  /** The spooled copy of the literal being read, when it is large. */
  private spooled: SpooledLiteral | null = null;

  constructor(limits: Partial<FramerLimits> = {}) {
    this.limits = { ...DEFAULT_FRAMER_LIMITS, ...limits };
  }

  /** Asked before a literal's octets are kept; false refuses the command with LITERAL_REFUSED_FOR_NOW. */
  setLiteralGate(gate: ((size: number) => boolean) | null): void {
    this.literalGate = gate;
  }

  /** Sends literals over the spool's threshold to it (null: every literal stays in memory). */
  setLiteralSpool(spool: LiteralSpool | null): void {
    this.literalSpool = spool;
  }

  /** The connection is gone: drops the command being read (and its spooled literal). */
  close(): void {
    this.fail();
  }

  /** Changes limits from now on (e.g. a larger APPENDLIMIT once authenticated). */
  setLimits(limits: Partial<FramerLimits>): void {
    this.limits = { ...this.limits, ...limits };
  }

  /** Octets received but not yet consumed by `next()`. */
  get buffered(): number {
    return this.bufferedBytes;
  }

  /** True while a synchronizing literal waits for `acceptLiteral()` / `rejectLiteral()`. */
  get awaitingLiteral(): boolean {
    return this.state.name === 'await-decision';
  }

  /** True when a command has started but is not complete (useful at EOF or for timeouts). */
  get inCommand(): boolean {
    return this.lines.length > 0 || this.lineLength > 0 || (this.state.name !== 'line' && this.state.name !== 'failed');
  }

  /** True after a fatal error: the framer reads nothing more; close the connection. */
  get failed(): boolean {
    return this.state.name === 'failed';
  }

  /**
   * Adds received octets. Returns false when the unprocessed input passed `highWaterMark`
   * (pause the socket; resume once `next()` returns null). Throws a fatal FramingError
   * (BUFFER_OVERFLOW) past `maxBuffered`; never throws anything else.
   */
  push(chunk: Buffer): boolean {
    if (this.state.name === 'failed') return false;
    if (chunk.length === 0) return this.bufferedBytes < this.limits.highWaterMark;
    if (this.bufferedBytes + chunk.length > this.limits.maxBuffered) {
      const tag = this.commandTag;
      this.fail();
      throw new FramingError('BUFFER_OVERFLOW', 'Too much unprocessed input', tag, true);
    }
    this.chunks.push(chunk);
    this.bufferedBytes += chunk.length;
    return this.bufferedBytes < this.limits.highWaterMark;
  }

  /**
   * Reads the next line raw, without literal processing: the client's answer to an
   * AUTHENTICATE challenge (RFC 9051 §6.2.2) or `DONE` ending IDLE (RFC 9051 §6.3.13).
   * Call it before `next()`, right after handling the command that expects the line.
   */
  readRawLine(): void {
    this.rawMode = true;
  }

  /** The server agreed to a synchronizing literal; send `+ ...` to the client now. */
  acceptLiteral(): void {
    const s = this.state;
    if (s.name !== 'await-decision') throw new Error('acceptLiteral() without a pending literal');
    this.startLiteral(s.size, s.binary, false);
  }

  /** The server refused a synchronizing literal and answers the command with NO/BAD itself. */
  rejectLiteral(): void {
    if (this.state.name !== 'await-decision') throw new Error('rejectLiteral() without a pending literal');
    this.resetCommand();
  }

  /** The next event, or null when more input is needed (or a literal decision is pending). */
  next(): FrameEvent | null {
    for (;;) {
      const s = this.state;
      switch (s.name) {
        case 'await-decision':
        case 'failed':
          return null;
        case 'line': {
          const ev = this.readLine();
          if (ev === 'more') return null;
          if (ev !== 'continue') return ev;
          break;
        }
        case 'literal': {
          if (s.remaining > 0) {
            const piece = this.take(s.remaining);
            if (!piece) return null;
            s.remaining -= piece.length;
            if (!this.spooled) this.literalPieces.push(piece);
            else if (!this.spoolCall(() => this.spooled?.write(piece))) return this.spoolFailed(s.remaining);
          }
          if (s.remaining === 0) {
            let data: Buffer;
            const spooled = this.spooled;
            if (spooled) {
              let read: Buffer | null = null;
              if (!this.spoolCall(() => (read = spooled.finish())) || read === null) return this.spoolFailed(0);
              data = read;
              this.spooled = null;
            } else {
              const pieces = this.literalPieces;
              data = pieces.length === 1 ? (pieces[0] as Buffer) : Buffer.concat(pieces);
            }
            this.literalPieces = [];
            this.literals.push({ data, binary: s.binary, nonSync: s.nonSync });
            this.state = { name: 'line' };
          }
          break;
        }
        case 'discard-literal': {
          if (s.remaining > 0) {
            const piece = this.take(s.remaining);
            if (!piece) return null;
            s.remaining -= piece.length;
          }
          if (s.remaining === 0) {
            this.discardTail = EMPTY;
            this.state = { name: 'discard-line' };
          }
          break;
        }
        case 'discard-line': {
          const ev = this.discardLine();
          if (ev === 'more') return null;
          if (ev !== 'continue') return ev;
          break;
        }
      }
    }
  }

  // --- input queue -------------------------------------------------------------------------

  /** Up to `max` octets from the head of the queue (zero-copy), or null when empty. */
  private take(max: number): Buffer | null {
    const chunk = this.chunks[0];
    if (!chunk) return null;
    const available = chunk.length - this.headOffset;
    const n = Math.min(available, max);
    const piece = chunk.subarray(this.headOffset, this.headOffset + n);
    this.consume(chunk, n);
    return piece;
  }

  /** Octets up to the next LF; `found` tells whether the LF was reached (and consumed). */
  private takeToLineFeed(): { piece: Buffer; found: boolean } | null {
    const chunk = this.chunks[0];
    if (!chunk) return null;
    const lf = chunk.indexOf(0x0a, this.headOffset);
    if (lf === -1) {
      const piece = chunk.subarray(this.headOffset);
      this.consume(chunk, piece.length);
      return { piece, found: false };
    }
    const piece = chunk.subarray(this.headOffset, lf);
    this.consume(chunk, piece.length + 1);
    return { piece, found: true };
  }

  private consume(chunk: Buffer, n: number): void {
    this.headOffset += n;
    this.bufferedBytes -= n;
    if (this.headOffset >= chunk.length) {
      this.chunks.shift();
      this.headOffset = 0;
    }
  }

  // --- lines -------------------------------------------------------------------------------

  private readLine(): FrameEvent | 'more' | 'continue' {
    if (this.lineLength === 0 && this.linePieces.length === 0) {
      // A new line starts: raw mode applies only to a line that starts a command.
      this.lineIsRaw = this.rawMode && this.lines.length === 0;
    }
    for (;;) {
      const got = this.takeToLineFeed();
      if (!got) return 'more';
      const { piece, found } = got;
      // +1: a trailing CR may sit beyond the limit, it is not part of the line.
      if (this.lineLength + piece.length > this.limits.maxLineLength + 1) return this.lineTooLong(piece, found);
      if (piece.length > 0) this.linePieces.push(piece);
      this.lineLength += piece.length;
      if (!found) continue;

      const pieces = this.linePieces;
      let line = pieces.length === 1 ? (pieces[0] as Buffer) : Buffer.concat(pieces, this.lineLength);
      this.linePieces = [];
      this.lineLength = 0;
      if (line.length > 0 && line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1);
      if (line.length > this.limits.maxLineLength) {
        // Only reachable when the CR allowance was used by a non-CR octet.
        this.linePieces = [line];
        return this.lineTooLong(EMPTY, true);
      }
      return this.completeLine(line);
    }
  }

  /** The line being read broke `maxLineLength`: report it now and skip the rest of it. */
  private lineTooLong(piece: Buffer, found: boolean): FrameEvent | 'continue' {
    const first = this.linePieces[0] ?? piece;
    const tag = this.lines.length > 0 ? this.commandTag : extractTag(first);
    const tail = lastOctets([...this.linePieces, piece], TAIL_KEEP);
    const raw = this.lineIsRaw;
    this.linePieces = [];
    this.lineLength = 0;
    this.lineIsRaw = false;
    const error = new FramingError('LINE_TOO_LONG', `Line longer than ${this.limits.maxLineLength} octets`, raw ? null : tag, false);
    this.resetCommand();
    if (raw) {
      // A raw line (SASL response, DONE) never announces literals.
      this.rawMode = false;
      if (!found) {
        this.discardRaw = true;
        this.discardTail = EMPTY;
        this.state = { name: 'discard-line' };
      }
      return { kind: 'error', error };
    }
    if (found) {
      const fatal = this.afterDiscardedLine(tail);
      return fatal ?? { kind: 'error', error };
    }
    this.discardTail = tail;
    this.state = { name: 'discard-line' };
    return { kind: 'error', error };
  }

  private discardLine(): FrameEvent | 'more' | 'continue' {
    for (;;) {
      const got = this.takeToLineFeed();
      if (!got) return 'more';
      const { piece, found } = got;
      if (piece.length > 0) this.discardTail = lastOctets([this.discardTail, piece], TAIL_KEEP);
      if (!found) continue;
      const tail = this.discardTail;
      this.discardTail = EMPTY;
      this.state = { name: 'line' };
      if (this.discardRaw) {
        this.discardRaw = false;
        return 'continue';
      }
      return this.afterDiscardedLine(tail) ?? 'continue';
    }
  }

  /**
   * The last line of a skipped command ended. A non-synchronizing literal announced at its end
   * is on its way and is skipped too: its octets are never read as commands (RFC 7888 §4 warns
   * of command injection). A synchronizing one will not come, since no continuation was sent.
   * Returns a fatal error when the announced size cannot be skipped reliably.
   */
  private afterDiscardedLine(tail: Buffer): FrameEvent | null {
    let end = tail.length;
    if (end > 0 && tail[end - 1] === 0x0d) end--;
    const marker = findLiteralMarker(tail.subarray(0, end));
    this.state = { name: 'line' };
    if (!marker?.nonSync) return null;
    if (!Number.isSafeInteger(marker.size)) {
      this.fail();
      return { kind: 'error', error: new FramingError('LITERAL_TOO_BIG', 'Literal size out of range', null, true) };
    }
    this.state = { name: 'discard-literal', remaining: marker.size };
    return null;
  }

  private completeLine(line: Buffer): FrameEvent | 'continue' {
    if (this.lineIsRaw) {
      this.rawMode = false;
      this.lineIsRaw = false;
      return { kind: 'line', line };
    }
    if (this.lines.length === 0) this.commandTag = extractTag(line);
    this.lines.push(line);
    this.commandSize += line.length;
    const marker = findLiteralMarker(line);

    if (this.commandSize > this.limits.maxCommandSize) {
      return this.rejectCommand('COMMAND_TOO_BIG', `Command larger than ${this.limits.maxCommandSize} octets`, marker);
    }
    if (!marker) {
      const unit: CommandUnit = { lines: this.lines, literals: this.literals, size: this.commandSize, tag: this.commandTag };
      this.resetCommand();
      return { kind: 'command', unit };
    }
    if (marker.size > this.limits.maxLiteralSize) {
      return this.rejectCommand('LITERAL_TOO_BIG', `Literal larger than ${this.limits.maxLiteralSize} octets`, marker);
    }
    if (this.commandSize + marker.size > this.limits.maxCommandSize) {
      return this.rejectCommand('COMMAND_TOO_BIG', `Command larger than ${this.limits.maxCommandSize} octets`, marker);
    }
    if (marker.nonSync && this.limits.literalMinus && marker.size > LITERAL_MINUS_MAX) {
      return this.rejectCommand('NON_SYNC_LITERAL_TOO_BIG', `Non-synchronizing literal larger than ${LITERAL_MINUS_MAX} octets`, marker);
    }
    if (this.literalGate && !this.literalGate(marker.size)) {
      return this.rejectCommand('LITERAL_REFUSED_FOR_NOW', 'Too much data in flight, try again later', marker);
    }
    this.commandSize += marker.size;
    if (marker.nonSync) {
      this.startLiteral(marker.size, marker.binary, true);
      return 'continue';
    }
    this.state = { name: 'await-decision', size: marker.size, binary: marker.binary };
    return { kind: 'literal', tag: this.commandTag, size: marker.size, binary: marker.binary };
  }

  /** Starts reading a literal's octets: into memory, or into the spool when it is large. */
  private startLiteral(size: number, binary: boolean, nonSync: boolean): void {
    this.literalPieces = [];
    this.state = { name: 'literal', remaining: size, binary, nonSync };
    const spool = this.literalSpool;
    // A spool that cannot open is found at the first write: the same refusal as a failed write.
    if (spool && size > spool.threshold && !this.spoolCall(() => (this.spooled = spool.open(size)))) this.spooled = FAILED_SPOOL;
  }

  /** Runs a spool call; false when it threw. */
  private spoolCall(call: () => void): boolean {
    try {
      call();
      return true;
    } catch {
      return false;
    }
  }

  /** The spool failed mid-literal: drop the command and skip the `remaining` octets still to come. */
  private spoolFailed(remaining: number): FrameEvent {
    const tag = this.commandTag;
    this.resetCommand();
    this.state = { name: 'discard-literal', remaining };
    return { kind: 'error', error: new FramingError('LITERAL_SPOOL_FAILED', 'Cannot store the literal now, try again later', tag, false) };
  }

  private rejectCommand(
    code: 'COMMAND_TOO_BIG' | 'LITERAL_TOO_BIG' | 'NON_SYNC_LITERAL_TOO_BIG' | 'LITERAL_REFUSED_FOR_NOW',
    message: string,
    marker: LiteralMarker | null,
  ): FrameEvent {
    const tag = this.commandTag;
    this.resetCommand();
    if (marker?.nonSync) {
      // The client sends the literal regardless: skip it and the rest of the command.
      if (!Number.isSafeInteger(marker.size)) {
        this.fail();
        return { kind: 'error', error: new FramingError(code, message, tag, true) };
      }
      this.state = { name: 'discard-literal', remaining: marker.size };
    }
    return { kind: 'error', error: new FramingError(code, message, tag, false) };
  }

  /** A fatal error: drop everything and stop reading. */
  private fail(): void {
    this.resetCommand();
    this.chunks = [];
    this.headOffset = 0;
    this.bufferedBytes = 0;
    this.linePieces = [];
    this.lineLength = 0;
    this.state = { name: 'failed' };
  }

  private resetCommand(): void {
    this.spooled?.discard();
    this.spooled = null;
    this.lines = [];
    this.literals = [];
    this.literalPieces = [];
    this.commandSize = 0;
    this.commandTag = null;
    this.state = { name: 'line' };
  }
}
