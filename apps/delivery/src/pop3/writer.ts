/**
 * The one place that writes POP3 replies to the socket: status lines, multi-line responses with
 * byte-stuffing, and messages streamed chunk by chunk with backpressure (a 25 MB message never
 * sits in memory whole, nor in the socket's buffer).
 */
import type { Socket } from 'node:net';
import { MultilineEncoder } from './multiline.js';
import { statusLine, type Reply } from './reply.js';

/** The stored message ended before its recorded size (expunged while being read). */
export class TruncatedMessageError extends Error {
  constructor(expected: number, got: number) {
    super(`message ended after ${got} of ${expected} octets`);
    this.name = 'TruncatedMessageError';
  }
}

export class ReplyWriter {
  constructor(private socket: Socket) {}

  /** After STLS the replies go to the TLS socket. */
  setSocket(socket: Socket): void {
    this.socket = socket;
  }

  get closed(): boolean {
    return this.socket.destroyed || !this.socket.writable;
  }

  /**
   * Writes one reply. Resolves when the socket can take more; a message reply that turns out
   * shorter than announced throws TruncatedMessageError after the partial write, and the caller
   * must drop the connection rather than let the client take a cut message for a whole one.
   */
  async write(reply: Reply): Promise<void> {
    const head = `${statusLine(reply)}\r\n`;
    switch (reply.kind) {
      case 'ok':
      case 'err':
      case 'continue':
        await this.send(Buffer.from(head, 'utf8'));
        return;
      case 'lines': {
        const enc = new MultilineEncoder();
        const body = enc.push(Buffer.from(reply.lines.map((l) => `${l}\r\n`).join(''), 'utf8'));
        await this.send(Buffer.concat([Buffer.from(head, 'utf8'), body, enc.end()]));
        return;
      }
      case 'message': {
        await this.send(Buffer.from(head, 'utf8'));
        const enc = new MultilineEncoder(reply.bodyLines);
        let read = 0;
        for (const chunk of reply.chunks) {
          if (this.closed) return;
          read += chunk.length;
          const out = enc.push(chunk);
          if (out.length > 0) await this.send(out);
          if (enc.done) break;
        }
        if (!enc.done && read !== reply.size) throw new TruncatedMessageError(reply.size, read);
        await this.send(enc.end());
        return;
      }
    }
  }

  private send(data: Buffer): Promise<void> {
    const socket = this.socket;
    if (socket.destroyed || !socket.writable) return Promise.resolve();
    if (socket.write(data)) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        socket.off('drain', done);
        socket.off('close', done);
        resolve();
      };
      socket.on('drain', done);
      socket.on('close', done);
    });
  }
}
