/**
 * The body of a multi-line POP3 response (RFC 1939 §3): a message streamed chunk by chunk with
 * every line ending in CRLF (bare LF becomes CRLF), a '.' doubled at the start of any line
 * ("byte-stuffing"), and the terminating ".CRLF". With `bodyLines` it stops after the header,
 * the blank line and that many body lines (TOP, RFC 1939 §7). Pure.
 */

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;
const CRLF = Buffer.from('\r\n');
const DOT_BUF = Buffer.from('.');
const LF_BUF = Buffer.from('\n');

export class MultilineEncoder {
  private atLineStart = true;
  private lastWasCR = false;
  /** Octets of the current line seen so far (a trailing CR included). */
  private lineLength = 0;
  private inHeader = true;
  private bodyLinesLeft: number | null;
  private finished = false;

  /** @param bodyLines body lines to send after the header (TOP); null for the whole message. */
  constructor(bodyLines: number | null = null) {
    this.bodyLinesLeft = bodyLines;
  }

  /** True once TOP's line budget is spent: the caller may stop reading the message. */
  get done(): boolean {
    return this.finished;
  }

  push(chunk: Buffer): Buffer {
    const out: Buffer[] = [];
    let pos = 0;
    while (pos < chunk.length && !this.finished) {
      if (this.atLineStart) {
        if (chunk[pos] === DOT) out.push(DOT_BUF);
        this.atLineStart = false;
      }
      const lf = chunk.indexOf(LF, pos);
      if (lf < 0) {
        out.push(chunk.subarray(pos));
        this.lineLength += chunk.length - pos;
        this.lastWasCR = chunk[chunk.length - 1] === CR;
        break;
      }
      const crBefore = lf > pos ? chunk[lf - 1] === CR : this.lastWasCR;
      out.push(chunk.subarray(pos, lf));
      out.push(crBefore ? LF_BUF : CRLF);
      const content = this.lineLength + (lf - pos) - (crBefore ? 1 : 0);
      this.endLine(content);
      pos = lf + 1;
    }
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  }

  private endLine(contentLength: number): void {
    this.atLineStart = true;
    this.lastWasCR = false;
    this.lineLength = 0;
    if (this.inHeader) {
      // RFC 5322 §2.1: the first empty line ends the header section.
      if (contentLength === 0) this.inHeader = false;
    } else if (this.bodyLinesLeft !== null) {
      this.bodyLinesLeft--;
    }
    if (!this.inHeader && this.bodyLinesLeft !== null && this.bodyLinesLeft <= 0) this.finished = true;
  }

  /** Closes the last line if the message did not, then the terminating ".CRLF". */
  end(): Buffer {
    const tail: Buffer[] = [];
    if (!this.atLineStart) tail.push(this.lastWasCR ? LF_BUF : CRLF);
    tail.push(DOT_BUF, CRLF);
    this.finished = true;
    return Buffer.concat(tail);
  }
}
