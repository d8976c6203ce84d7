/**
 * A raw SMTP conversation over a socket, for what a polite client library would never send:
 * `const t = await SmtpTalk.open(port); await t.expect(220); await t.send('EHLO x', 250)`.
 */
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';

export class SmtpTalk {
  private buffer = '';
  private waiting: (() => void) | null = null;

  private constructor(private socket: Socket | TLSSocket) {
    this.attach();
  }

  private attach(): void {
    this.socket.on('data', (d: Buffer) => {
      this.buffer += d.toString('utf8');
      this.waiting?.();
    });
    this.socket.on('error', () => undefined);
  }

  static open(port: number, host = '127.0.0.1'): Promise<SmtpTalk> {
    return new Promise((resolve, reject) => {
      const s = connect(port, host);
      s.once('connect', () => resolve(new SmtpTalk(s)));
      s.once('error', reject);
    });
  }

  /** Reads one complete (possibly multi-line) reply; fails after `timeoutMs`. */
  async reply(timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = /^(?:\d{3}-[^\n]*\n)*\d{3}(?: [^\n]*)?\r?\n/.exec(this.buffer);
      if (m) {
        this.buffer = this.buffer.slice(m[0].length);
        return m[0].trimEnd();
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no reply within ${timeoutMs} ms (have: ${JSON.stringify(this.buffer)})`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiting = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.waiting = null;
    }
  }

  /** Sends a line and returns the reply. */
  async command(line: string): Promise<string> {
    this.socket.write(`${line}\r\n`);
    return this.reply();
  }

  write(data: string): void {
    this.socket.write(data);
  }

  /** STARTTLS has been answered 220: wrap the socket in TLS. */
  async upgrade(): Promise<void> {
    const plain = this.socket as Socket;
    plain.removeAllListeners('data');
    const secure = tlsConnect({ socket: plain, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', resolve);
      secure.once('error', reject);
    });
    this.socket = secure;
    this.attach();
  }

  close(): void {
    this.socket.destroy();
  }
}
