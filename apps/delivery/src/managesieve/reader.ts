/**
 * ManageSieve framing (RFC 5804 §4): bytes to command frames, each a list of tokens — atoms,
 * numbers, quoted strings and literals. Literals are read whole (`{n+}` as the grammar's
 * literal-c2s says, and `{n}`, which some clients send, read the same way: the protocol has no
 * continuation request). A line over `maxLine` or a literal over `maxLiteral` becomes an error
 * frame and its bytes are skipped, never buffered. Pure: no sockets.
 */

export type Token = { kind: 'atom'; value: string } | { kind: 'number'; value: number } | { kind: 'string'; value: string; literal: boolean };

export type Frame = { kind: 'command'; tokens: Token[] } | { kind: 'error'; reason: string; code?: string };

const CRLF = Buffer.from('\r\n');

export class CommandReader {
  private buf: Buffer = Buffer.alloc(0);
  private tokens: Token[] = [];
  /** Octets of a literal still to come. */
  private literal: number | null = null;
  /** Octets of an oversized literal still to drop, then the rest of its line. */
  private skip = 0;
  private skipLine = false;
  /** Octets of the current command so far (lines and literals). */
  private commandBytes = 0;

  constructor(
    private readonly maxLine: number,
    private readonly maxLiteral: number,
  ) {}

  reset(): void {
    this.buf = Buffer.alloc(0);
    this.tokens = [];
    this.literal = null;
    this.skip = 0;
    this.skipLine = false;
    this.commandBytes = 0;
  }

  push(chunk: Buffer): Frame[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: Frame[] = [];
    for (;;) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, this.buf.length);
        this.skip -= n;
        this.buf = this.buf.subarray(n);
        if (this.skip > 0) return out;
        this.skipLine = true;
      }
      if (this.literal !== null) {
        if (this.buf.length < this.literal) return out;
        const value = this.buf.subarray(0, this.literal).toString('utf8');
        this.buf = this.buf.subarray(this.literal);
        this.literal = null;
        this.tokens.push({ kind: 'string', value, literal: true });
        continue;
      }
      const end = this.buf.indexOf(CRLF);
      if (end < 0) {
        if (this.buf.length > this.maxLine) {
          // drop what we have; keep a CR in case the LF comes next
          const lastCr = this.buf[this.buf.length - 1] === 0x0d;
          this.buf = lastCr ? Buffer.from('\r') : Buffer.alloc(0);
          if (!this.skipLine) out.push({ kind: 'error', reason: `command line longer than ${this.maxLine} octets` });
          this.skipLine = true;
          this.tokens = [];
        }
        return out;
      }
      const line = this.buf.subarray(0, end);
      this.buf = this.buf.subarray(end + 2);
      if (this.skipLine) {
        this.skipLine = false;
        this.tokens = [];
        this.commandBytes = 0;
        continue;
      }
      if (line.length > this.maxLine) {
        out.push({ kind: 'error', reason: `command line longer than ${this.maxLine} octets` });
        this.tokens = [];
        this.commandBytes = 0;
        continue;
      }
      this.commandBytes += line.length;
      const r = this.tokenize(line.toString('utf8'));
      if (typeof r === 'string') {
        out.push({ kind: 'error', reason: r });
        this.tokens = [];
        this.commandBytes = 0;
        continue;
      }
      if (r.literal !== null) {
        if (r.literal > this.maxLiteral || this.commandBytes + r.literal > this.maxLiteral + this.maxLine) {
          out.push({ kind: 'error', reason: `a string of ${r.literal} octets is larger than ${this.maxLiteral}`, code: 'QUOTA/MAXSIZE' });
          this.tokens = [];
          this.commandBytes = 0;
          this.skip = r.literal;
          if (this.skip === 0) this.skipLine = true;
          continue;
        }
        this.commandBytes += r.literal;
        this.literal = r.literal;
        continue;
      }
      out.push({ kind: 'command', tokens: this.tokens });
      this.tokens = [];
      this.commandBytes = 0;
    }
  }

  /** Adds the line's tokens; a literal announced at its end is returned for the caller to read. */
  private tokenize(line: string): { literal: number | null } | string {
    let i = 0;
    while (i < line.length) {
      const c = line[i]!;
      if (c === ' ') {
        i++;
        continue;
      }
      if (c === '"') {
        let v = '';
        i++;
        for (;;) {
          if (i >= line.length) return 'unterminated quoted string';
          const ch = line[i]!;
          if (ch === '"') break;
          if (ch === '\\') {
            const n = line[i + 1];
            if (n !== '"' && n !== '\\') return 'a quoted string escapes only \\ and "';
            v += n;
            i += 2;
            continue;
          }
          v += ch;
          i++;
        }
        i++;
        this.tokens.push({ kind: 'string', value: v, literal: false });
        continue;
      }
      if (c === '{') {
        const m = /^\{(\d{1,10})\+?\}$/.exec(line.slice(i));
        if (m === null) return 'a literal is {n+} at the end of a line';
        return { literal: Number(m[1]) };
      }
      const m = /^[^\s"{}]+/.exec(line.slice(i))!;
      const word = m[0];
      this.tokens.push(/^\d+$/.test(word) ? { kind: 'number', value: Number(word) } : { kind: 'atom', value: word });
      i += word.length;
    }
    return { literal: null };
  }
}
