/**
 * One conversation client for every line protocol Postern speaks (SMTP, LMTP, IMAP, POP3,
 * ManageSieve), for tests that must send exactly the bytes a polite client library never would.
 * Tests read as dialogues, in the manner of chasquid's `.cmy` scripts:
 *
 *   const c = await Talk.open(port);
 *   await c.expectPrefix('220 ');
 *   c.send('EHLO x');
 *   await c.expectMulti('250');          // the whole multi-line reply
 *   expect(await c.smtp('MAIL FROM:<a@b>')).toBe('250 2.1.0 Ok');
 *   expect(await c.imap('a1 NOOP')).toEqual(['a1 OK NOOP completed']);
 *
 * Bytes are kept as latin1 text, so every octet is one code unit: nothing is lost or re-encoded,
 * and a test can send bare CR, NUL or 8-bit octets. Every wait has a deadline and fails with what
 * was received, so a test never hangs on a server that stopped talking.
 */
import { createHash } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

export interface TalkOptions {
  host?: string;
  /** Implicit TLS (465, 993, 995). The server's certificate is not verified. */
  tls?: boolean;
  /** Local address to connect from (any 127.0.0.0/8 address on loopback). */
  localAddress?: string;
  /** How many received octets to keep, unconsumed and in `all` (default 1,000,000). */
  keep?: number;
  /** Whether `all` records what was received (default true; false for large downloads). */
  record?: boolean;
  /** Default deadline of every wait, in ms (default 10,000). */
  timeoutMs?: number;
  /** How text is encoded and lines decoded: 'latin1' (default: one code unit per octet) or 'utf8'. */
  encoding?: 'latin1' | 'utf8';
}

const SMTP_REPLY = /^(?:\d{3}-[^\n]*\n)*\d{3}(?: [^\n]*)?\r?\n/;
const LINE = /\r?\n/;

export class Talk {
  /** Everything received and not yet consumed. */
  buffer = '';
  /** Everything received since the connection opened (the last `keep` octets). */
  all = '';
  closed = false;
  private wake: (() => void) | null = null;
  private closedPromise: Promise<void>;

  private constructor(
    public socket: Socket,
    private readonly keep: number,
    private readonly timeoutMs: number,
    private readonly encoding: 'latin1' | 'utf8',
    private readonly record: boolean,
  ) {
    this.closedPromise = this.attach(socket);
  }

  static open(port: number, options: TalkOptions = {}): Promise<Talk> {
    const host = options.host ?? '127.0.0.1';
    return new Promise((resolve, reject) => {
      const base = { port, host, ...(options.localAddress ? { localAddress: options.localAddress } : {}) };
      const s: Socket = options.tls ? tlsConnect({ ...base, rejectUnauthorized: false, servername: 'localhost' }) : connect(base);
      s.once(options.tls ? 'secureConnect' : 'connect', () => {
        s.removeListener('error', reject);
        resolve(new Talk(s, options.keep ?? 1_000_000, options.timeoutMs ?? 10_000, options.encoding ?? 'latin1', options.record ?? true));
      });
      s.once('error', reject);
    });
  }

  private attach(socket: Socket): Promise<void> {
    socket.on('data', (d: Buffer) => {
      const s = d.toString('latin1');
      // slice only past the cap: slicing flattens the string, and a big download arrives in many pieces
      this.buffer += s;
      if (this.buffer.length > this.keep) this.buffer = this.buffer.slice(-this.keep);
      if (this.record) {
        this.all += s;
        if (this.all.length > this.keep) this.all = this.all.slice(-this.keep);
      }
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

  /** The server agreed to STARTTLS / STLS: continue over TLS on the same connection. */
  async upgrade(): Promise<void> {
    const plain = this.socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('close');
    const secure = tlsConnect({ socket: plain, rejectUnauthorized: false, servername: 'localhost' });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', resolve);
      secure.once('error', reject);
    });
    this.socket = secure;
    this.buffer = '';
    this.closedPromise = this.attach(secure);
  }

  // ---- sending ----

  /** Writes bytes as they are; a string in the connection's encoding (latin1: one octet per code unit). */
  write(data: string | Buffer): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const ok = this.socket.write(typeof data === 'string' ? Buffer.from(data, this.encoding) : data, () => resolve());
      if (!ok) this.socket.once('drain', () => resolve());
    });
  }

  /** Sends one line, adding CRLF; a Buffer is sent as it is (for bytes that are not one line). */
  send(line: string | Buffer): Promise<void> {
    return this.write(typeof line === 'string' ? `${line}\r\n` : line);
  }

  // ---- receiving ----

  /** Waits until `re` matches the unconsumed input; consumes and returns everything through the match. */
  async until(re: RegExp, timeoutMs = this.timeoutMs): Promise<string> {
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
        const why = this.closed ? 'connection closed' : `nothing matching ${re} within ${timeoutMs} ms`;
        throw new Error(`${why} (have: ${JSON.stringify(this.buffer.slice(-500))})`);
      }
      await this.sleepUntilData(left);
    }
  }

  /** The next line, without its line end. */
  async line(timeoutMs = this.timeoutMs): Promise<string> {
    return this.decode((await this.until(LINE, timeoutMs)).replace(/\r?\n$/, ''));
  }

  private decode(s: string): string {
    return this.encoding === 'utf8' ? Buffer.from(s, 'latin1').toString('utf8') : s;
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
  async waitClosed(timeoutMs = this.timeoutMs): Promise<boolean> {
    if (this.closed) return true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const r = await Promise.race([this.closedPromise.then(() => true as const), timeout]);
    clearTimeout(timer);
    return r;
  }

  // ---- dialogue expectations (chasquid's `c <- exact`, `c <~ prefix`) ----

  /** The next line is exactly `want`. */
  async expect(want: string, timeoutMs = this.timeoutMs): Promise<string> {
    const got = await this.line(timeoutMs);
    if (got !== want) throw new Error(`expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
    return got;
  }

  /** The next line starts with `prefix` (or matches it, when a RegExp). */
  async expectPrefix(prefix: string | RegExp, timeoutMs = this.timeoutMs): Promise<string> {
    const got = await this.line(timeoutMs);
    const ok = typeof prefix === 'string' ? got.startsWith(prefix) : prefix.test(got);
    if (!ok) throw new Error(`expected a line starting ${typeof prefix === 'string' ? JSON.stringify(prefix) : prefix}, got ${JSON.stringify(got)}`);
    return got;
  }

  /** A whole multi-line SMTP/LMTP reply whose code is `code` (`250-...` lines, then `250 ...`). */
  async expectMulti(code: string, timeoutMs = this.timeoutMs): Promise<string[]> {
    const lines = (await this.smtpReply(timeoutMs)).split(/\r?\n/);
    const bad = lines.find((l) => !l.startsWith(code));
    if (bad !== undefined) throw new Error(`expected a ${code} reply, got ${JSON.stringify(lines)}`);
    return lines;
  }

  // ---- SMTP and LMTP (RFC 5321 §4.2: a reply is lines of `code-text`, the last `code text`) ----

  /** One complete reply, multi-line replies joined by CRLF, e.g. "250 2.0.0 Ok". */
  async smtpReply(timeoutMs = this.timeoutMs): Promise<string> {
    return (await this.until(SMTP_REPLY, timeoutMs)).trimEnd();
  }

  /** Sends one command line and returns its reply. */
  async smtp(line: string, timeoutMs = this.timeoutMs): Promise<string> {
    await this.send(line);
    return this.smtpReply(timeoutMs);
  }

  // ---- IMAP (RFC 9051 §2.2.2: untagged lines, then the tagged completion) ----

  /**
   * The next response line without CRLF; a literal `{n}` at a line's end is read whole and kept
   * inline, with the rest of the response after it (RFC 9051 §4.3).
   */
  async imapLine(timeoutMs = this.timeoutMs): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let pos = 0;
      for (;;) {
        const i = this.buffer.indexOf('\r\n', pos);
        if (i < 0) break;
        const m = /\{(\d+)\}$/.exec(this.buffer.slice(pos, i));
        if (m) {
          const end = i + 2 + Number(m[1]);
          if (this.buffer.length < end) break;
          pos = end;
          continue;
        }
        const l = this.buffer.slice(0, i);
        this.buffer = this.buffer.slice(i + 2);
        return this.decode(l);
      }
      const left = deadline - Date.now();
      if (left <= 0 || this.closed) {
        const why = this.closed ? 'connection closed' : `no complete IMAP line within ${timeoutMs} ms`;
        throw new Error(`${why} (have: ${JSON.stringify(this.buffer.slice(0, 500))})`);
      }
      await this.sleepUntilData(left);
    }
  }

  /** Every line up to and including the one tagged `tag` (literals inline, as `imapLine`). */
  async imapUntil(tag: string, timeoutMs = this.timeoutMs): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    const lines: string[] = [];
    for (;;) {
      const l = await this.imapLine(Math.max(1, deadline - Date.now()));
      lines.push(l);
      if (l.startsWith(`${tag} `)) return lines;
    }
  }

  /** The next `n` octets, hashed as they arrive and never held together (a large literal). */
  async imapLiteral(n: number, timeoutMs = this.timeoutMs): Promise<{ sha: string; length: number }> {
    const deadline = Date.now() + timeoutMs;
    const h = createHash('sha256');
    let left = n;
    while (left > 0) {
      if (this.buffer.length === 0) {
        const wait = deadline - Date.now();
        if (wait <= 0 || this.closed) throw new Error(`${this.closed ? 'connection closed' : 'timed out'} with ${left} of ${n} literal octets to come`);
        await this.sleepUntilData(wait);
        continue;
      }
      const take = Math.min(left, this.buffer.length);
      h.update(Buffer.from(this.buffer.slice(0, take), 'latin1'));
      this.buffer = this.buffer.slice(take);
      left -= take;
    }
    return { sha: h.digest('hex'), length: n };
  }

  /**
   * Sends `tag text` and reads the answer with every literal hashed instead of kept (see
   * `imapLiteral`): a test can check 20 MB of FETCH output without holding it.
   */
  async imapHashed(tag: string, text: string, timeoutMs = this.timeoutMs): Promise<{ lines: string[]; literals: Array<{ sha: string; length: number }> }> {
    await this.send(`${tag} ${text}`);
    const deadline = Date.now() + timeoutMs;
    const lines: string[] = [];
    const literals: Array<{ sha: string; length: number }> = [];
    for (;;) {
      const l = await this.line(Math.max(1, deadline - Date.now()));
      lines.push(l);
      const m = /~?\{(\d+)\}$/.exec(l);
      if (m) literals.push(await this.imapLiteral(Number(m[1]), Math.max(1, deadline - Date.now())));
      if (l.startsWith(`${tag} `)) return { lines, literals };
    }
  }

  /** Sends a tagged command (its first word is the tag unless `tag` is given); every line of the answer. */
  async imap(line: string, tag = line.split(' ')[0] ?? '', timeoutMs = this.timeoutMs): Promise<string[]> {
    await this.send(line);
    return this.imapUntil(tag, timeoutMs);
  }

  // ---- POP3 (RFC 1939 §3: `+OK`/`-ERR` lines; multi-line answers end with a lone ".") ----

  /** Sends one command and returns its status line. */
  async pop3(line: string, timeoutMs = this.timeoutMs): Promise<string> {
    await this.send(line);
    return this.line(timeoutMs);
  }

  /** The octets of a multi-line answer as sent (still dot-stuffed), through the final ".\r\n". */
  async pop3Block(timeoutMs = this.timeoutMs): Promise<Buffer> {
    const block = this.buffer.startsWith('.\r\n') ? await this.until(/^\.\r\n/, timeoutMs) : await this.until(/\r\n\.\r\n/, timeoutMs);
    return Buffer.from(block, 'latin1');
  }

  /** The lines of a multi-line answer as sent (still dot-stuffed), without the final ".". */
  async pop3Lines(timeoutMs = this.timeoutMs): Promise<string[]> {
    const block = this.decode((await this.pop3Block(timeoutMs)).toString('latin1'));
    return block.split('\r\n').slice(0, -2);
  }

  // ---- ManageSieve (RFC 5804 §1.2: responses end with an OK, NO or BYE line) ----

  /** Every line up to and including the OK / NO / BYE that ends a ManageSieve response. */
  async sieveResponse(timeoutMs = this.timeoutMs): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    const lines: string[] = [];
    for (;;) {
      const l = await this.line(Math.max(1, deadline - Date.now()));
      lines.push(l);
      if (/^(?:OK|NO|BYE)(?:[ (]|$)/i.test(l)) return lines;
    }
  }

  /** Sends one ManageSieve command and returns its response. */
  async sieve(line: string, timeoutMs = this.timeoutMs): Promise<string[]> {
    await this.send(line);
    return this.sieveResponse(timeoutMs);
  }

  /** Everything still to come until the server closes the connection. */
  async rest(timeoutMs = this.timeoutMs): Promise<Buffer> {
    if (!(await this.waitClosed(timeoutMs))) throw new Error(`the server did not close the connection within ${timeoutMs} ms`);
    const r = Buffer.from(this.buffer, 'latin1');
    this.buffer = '';
    return r;
  }

  /** Stops reading from the socket (the server's writes back up), until `resume()`. */
  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
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
