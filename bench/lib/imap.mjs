/**
 * What the IMAP benchmarks share (bench/imap/run.mjs, bench/compare/imap.mjs): the generated
 * mailbox (subjects, senders and bodies that vary, a unique token per message for SEARCH TEXT)
 * and a bare IMAP client that counts the bytes it receives.
 */
import { connect } from 'node:net';

export const WORDS =
  'alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu'.split(
    ' ',
  );

/** Message `i` of the benchmark mailbox, addressed to `to`, with a body of about `bodyBytes`. */
export function makeMessage(i, bodyBytes, to) {
  const w = (k) => WORDS[(i * 7 + k * 13) % WORDS.length];
  let body = `Hello ${w(1)} ${w(2)} ${w(3)}, message number ${i} token${i}.\r\n`;
  const line = `${w(4)} ${w(5)} ${w(6)} lorem ipsum dolor sit amet consectetur adipiscing elit\r\n`;
  while (body.length < bodyBytes) body += line;
  return Buffer.from(
    `From: Sender ${i % 500} <sender${i % 500}@example.org>\r\nTo: Bench <${to}>\r\n` +
      `Subject: Report ${w(0)} ${i}\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\nMessage-ID: <b${i}@example.org>\r\n` +
      `MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${body}`,
  );
}

/** A bare IMAP client: commands, tagged replies, bytes received. */
export class ImapClient {
  constructor(socket) {
    this.socket = socket;
    this.buf = Buffer.alloc(0);
    this.bytes = 0;
    this.waiter = null;
    this.closed = false;
    socket.on('data', (d) => {
      this.bytes += d.length;
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
      this.waiter?.();
    });
    // a server that refuses (BYE, reset) must fail the waiting command, not leave it hanging
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      this.waiter?.();
    });
  }
  static open(port, timeoutMs = 30_000) {
    return new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port }, () => {
        s.off('error', reject);
        s.setTimeout(0);
        resolve(new ImapClient(s));
      });
      s.once('error', reject);
      s.setTimeout(timeoutMs, () => s.destroy(new Error(`connect to ${port}: no answer in ${timeoutMs} ms`)));
    });
  }
  async until(prefix) {
    const needle = Buffer.from(`\r\n${prefix}`);
    for (;;) {
      const at = this.buf.length >= prefix.length && this.buf.subarray(0, prefix.length).toString() === prefix ? -2 : this.buf.indexOf(needle);
      if (at !== -1) {
        const start = at + 2;
        const end = this.buf.indexOf('\r\n', start);
        if (end !== -1) {
          const line = this.buf.subarray(start, end).toString();
          this.buf = this.buf.subarray(end + 2);
          return line;
        }
      } else if (this.buf.length > 1 << 20) {
        this.buf = this.buf.subarray(this.buf.length - 4096);
      }
      if (this.closed) throw new Error(`connection closed waiting for "${prefix}"; last bytes: ${JSON.stringify(this.buf.subarray(-200).toString())}`);
      await new Promise((r) => (this.waiter = r));
    }
  }
  async cmd(tag, text) {
    this.socket.write(`${tag} ${text}\r\n`);
    let hits = null;
    if (/SEARCH/.test(text)) hits = (await this.until('* SEARCH')).split(' ').length - 2;
    const line = await this.until(`${tag} `);
    if (!line.startsWith(`${tag} OK`)) throw new Error(`${text}: ${line}`);
    return hits;
  }
  /** Leaves IDLE and logs out; the server closes first, so TIME_WAIT stays on its side, not on our ephemeral ports. */
  async logout(ms) {
    if (this.closed) return;
    const closed = new Promise((r) => this.socket.once('close', r));
    this.socket.write('DONE\r\nz LOGOUT\r\n');
    const timer = new Promise((r) => setTimeout(r, ms).unref());
    await Promise.race([closed, timer]);
    this.socket.destroy();
  }
}
