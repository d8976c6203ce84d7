/**
 * A raw IMAP client for large responses: literals are hashed as they arrive, never kept whole,
 * so a test can check 20 MB of bytes without holding them.
 */
import { createHash } from 'node:crypto';
import { connect, type Socket } from 'node:net';

export class StreamingClient {
  private buf: Buffer = Buffer.alloc(0);
  private wake: (() => void) | null = null;
  private closed = false;

  constructor(private readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
      this.wake?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
  }

  static open(p: number): Promise<StreamingClient> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port: p }, () => resolve(new StreamingClient(s)));
      s.once('error', reject);
    });
  }

  private async more(): Promise<void> {
    if (this.closed) throw new Error('connection closed');
    await new Promise<void>((r) => (this.wake = r));
    this.wake = null;
  }

  async line(): Promise<string> {
    for (;;) {
      const i = this.buf.indexOf('\r\n');
      if (i >= 0) {
        const l = this.buf.subarray(0, i).toString('latin1');
        this.buf = this.buf.subarray(i + 2);
        return l;
      }
      await this.more();
    }
  }

  /** The next n bytes, hashed, never held together. */
  async literal(n: number): Promise<{ sha: string; length: number }> {
    const h = createHash('sha256');
    let left = n;
    while (left > 0) {
      if (this.buf.length === 0) await this.more();
      const take = Math.min(left, this.buf.length);
      h.update(this.buf.subarray(0, take));
      this.buf = this.buf.subarray(take);
      left -= take;
    }
    return { sha: h.digest('hex'), length: n };
  }

  /** Sends a command; returns the literals of its responses (hashed) and its lines. */
  async cmd(tag: string, text: string): Promise<{ lines: string[]; literals: Array<{ sha: string; length: number }> }> {
    this.socket.write(`${tag} ${text}\r\n`);
    const lines: string[] = [];
    const literals: Array<{ sha: string; length: number }> = [];
    for (;;) {
      const l = await this.line();
      lines.push(l);
      const m = /~?\{(\d+)\}$/.exec(l);
      if (m) literals.push(await this.literal(Number(m[1])));
      if (l.startsWith(`${tag} `)) return { lines, literals };
    }
  }

  send(text: string): void {
    this.socket.write(`${text}\r\n`);
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  /** Everything until the server closes the connection (bounded by the test's timeout). */
  async rest(): Promise<Buffer> {
    const parts: Buffer[] = [];
    for (;;) {
      if (this.buf.length > 0) parts.push(this.buf);
      this.buf = Buffer.alloc(0);
      if (this.closed) return Buffer.concat(parts);
      await new Promise<void>((r) => (this.wake = r));
      this.wake = null;
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

