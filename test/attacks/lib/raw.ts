/**
 * A raw TCP conversation for any line protocol (SMTP, LMTP, POP3, IMAP): write exactly the bytes
 * a test wants, wait for what the server answers. Bytes are kept as latin1 text so nothing is
 * lost or re-encoded.
 *
 *   const t = await RawTalk.open(port);
 *   await t.until(/^220 .*\r\n/m);
 *   t.write('EHLO x\r\n'); await t.until(/^250 .*\r\n/m);
 */
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

export class RawTalk {
  /** Everything received and not yet consumed by `until`. */
  buffer = '';
  /** Everything received since the connection opened (capped at `keep`). */
  all = '';
  closed = false;
  private wake: (() => void) | null = null;
  private closedPromise: Promise<void>;

  private constructor(
    public socket: Socket,
    private readonly keep: number,
  ) {
    this.closedPromise = this.attach(socket);
  }

  private attach(socket: Socket): Promise<void> {
    socket.on('data', (d: Buffer) => {
      const s = d.toString('latin1');
      this.buffer = (this.buffer + s).slice(-this.keep);
      this.all = (this.all + s).slice(-this.keep);
      this.wake?.();
    });
    socket.on('error', () => undefined);
    return new Promise((resolve) => {
      socket.once('close', () => {
        this.closed = true;
        this.wake?.();
        resolve();
      });
    });
  }

  /** The server agreed to STARTTLS/STLS: continue over TLS on the same connection. */
  async upgrade(): Promise<void> {
    const plain = this.socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('close');
    const secure = tlsConnect({ socket: plain, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', resolve);
      secure.once('error', reject);
    });
    this.socket = secure;
    this.buffer = '';
    this.closedPromise = this.attach(secure);
  }

  /** `localAddress`: the source address (any of 127.0.0.0/8 on Linux), to play several clients. */
  static open(port: number, options: { host?: string; keep?: number; localAddress?: string } = {}): Promise<RawTalk> {
    return new Promise((resolve, reject) => {
      const s = connect({ port, host: options.host ?? '127.0.0.1', ...(options.localAddress ? { localAddress: options.localAddress } : {}) });
      s.once('connect', () => resolve(new RawTalk(s, options.keep ?? 1_000_000)));
      s.once('error', reject);
    });
  }

  /** Writes bytes (a string is sent as latin1, so every code unit is one byte). */
  write(data: string | Buffer): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const ok = this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data, () => resolve());
      if (!ok) this.socket.once('drain', () => resolve());
    });
  }

  /** Waits until `re` matches the unconsumed input; consumes and returns everything through the match. */
  async until(re: RegExp, timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = re.exec(this.buffer);
      if (m) {
        const taken = this.buffer.slice(0, m.index + m[0].length);
        this.buffer = this.buffer.slice(taken.length);
        return taken;
      }
      const left = deadline - Date.now();
      if (left <= 0 || this.closed) {
        throw new Error(`${this.closed ? 'connection closed' : `nothing matching ${re} within ${timeoutMs} ms`} (have: ${JSON.stringify(this.buffer.slice(-500))})`);
      }
      await this.sleepUntilData(left);
    }
  }

  /** One complete SMTP/LMTP reply (multi-line replies joined), e.g. "250 2.0.0 Ok". */
  async smtpReply(timeoutMs = 10_000): Promise<string> {
    return (await this.until(/^(?:\d{3}-[^\n]*\n)*\d{3}(?: [^\n]*)?\r?\n/, timeoutMs)).trimEnd();
  }

  /** Sends one command line and returns the SMTP reply. */
  async smtp(line: string, timeoutMs = 10_000): Promise<string> {
    await this.write(`${line}\r\n`);
    return this.smtpReply(timeoutMs);
  }

  /** Waits (woken by each arrival) until `check()` holds or the connection closed; false on timeout. */
  async settle(check: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.closed || check()) return true;
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await this.sleepUntilData(left);
    }
  }

  /** Resolves true when the server closed the connection within `timeoutMs`. */
  async waitClosed(timeoutMs: number): Promise<boolean> {
    if (this.closed) return true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const r = await Promise.race([this.closedPromise.then(() => true as const), timeout]);
    clearTimeout(timer);
    return r;
  }

  private sleepUntilData(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        this.wake = null;
        resolve();
      };
    });
  }

  close(): void {
    this.socket.destroy();
  }
}
