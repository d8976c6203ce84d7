/**
 * Line framing for POP3 commands: bytes in, whole lines (without CRLF) out. Pure.
 *
 * A line longer than the limit is reported once as `too-long` as soon as the limit is passed
 * (so a client that never sends LF still gets an answer) and the rest of it, up to its LF, is
 * dropped without being buffered: a 10 MB line costs no memory.
 */

export type FrameEvent = { kind: 'line'; line: Buffer } | { kind: 'too-long' };

export class LineFramer {
  private pending: Buffer[] = [];
  private pendingLength = 0;
  private discarding = false;

  /** @param maxLine most octets in a line, CR included, LF excluded. */
  constructor(private readonly maxLine: number) {}

  push(chunk: Buffer): FrameEvent[] {
    const events: FrameEvent[] = [];
    let start = 0;
    while (start < chunk.length) {
      const lf = chunk.indexOf(0x0a, start);
      const end = lf < 0 ? chunk.length : lf;
      if (this.discarding) {
        if (lf >= 0) this.discarding = false;
      } else if (this.pendingLength + (end - start) > this.maxLine) {
        this.pending = [];
        this.pendingLength = 0;
        events.push({ kind: 'too-long' });
        this.discarding = lf < 0;
      } else if (lf < 0) {
        this.pending.push(chunk.subarray(start, end));
        this.pendingLength += end - start;
      } else {
        this.pending.push(chunk.subarray(start, end));
        let line = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
        if (line.length > 0 && line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1);
        // Copy: the socket may reuse its chunk's memory after we return.
        events.push({ kind: 'line', line: Buffer.from(line) });
        this.pending = [];
        this.pendingLength = 0;
      }
      start = lf < 0 ? chunk.length : lf + 1;
    }
    return events;
  }

  /** Drops whatever was buffered: after STLS nothing sent in plaintext may be carried over. */
  reset(): void {
    this.pending = [];
    this.pendingLength = 0;
    this.discarding = false;
  }
}
