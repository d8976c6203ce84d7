/**
 * One POP3 client connection: socket, framing, the command queue (RFC 2449 PIPELINING: commands
 * are answered one after another, in order), STLS, and the idle timer.
 */
import type { Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import { channelBindingsOf, type ChannelBindings, type Logger } from '@postern/core';
import { LineFramer, type FrameEvent } from './framer.js';
import { ok } from './reply.js';
import type { Outcome, Pop3Session } from './session.js';
import { ReplyWriter, TruncatedMessageError } from './writer.js';
import { upgradeToTls, type Progress } from '../listener.js';

/** Queued commands before we stop reading from the socket (pipelining backpressure). */
const MAX_QUEUED = 64;

export interface ConnectionOptions {
  session: Pop3Session;
  logger: Logger;
  /** Longest command line, CR included (RFC 2449 §4 allows 255 octets; SASL needs more). */
  maxLine: number;
  idleTimeoutMs: number;
  implicitTls: boolean;
  /** The key and certificate in effect now (they are re-read when renewed). */
  secureContext: () => SecureContext;
  sniCallback: (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void) => void;
}

export class Pop3Connection {
  private socket: Socket;
  private readonly writer: ReplyWriter;
  private readonly framer: LineFramer;
  private readonly queue: FrameEvent[] = [];
  private busy = false;
  /** Commands received (the listener's deadlines count them). */
  private commands = 0;
  private ended = false;
  private finished = false;
  private readonly closedHandlers: Array<() => void> = [];

  constructor(
    raw: Socket,
    private readonly opts: ConnectionOptions,
  ) {
    this.socket = raw;
    this.writer = new ReplyWriter(raw);
    this.framer = new LineFramer(opts.maxLine);
    raw.on('close', () => this.finish());
    raw.on('error', (e) => opts.logger.debug({ err: e.message }, 'pop3 socket error'));
  }

  onClosed(handler: () => void): void {
    this.closedHandlers.push(handler);
  }

  /** Sends the greeting (after the TLS handshake on the pop3s listener) and starts reading. */
  async start(): Promise<void> {
    if (this.opts.implicitTls && !(await this.startTls())) return;
    this.watch(this.socket);
    await this.writer.write(ok('Postern POP3 server ready'));
  }

  /** Refuses before any command (too many connections), then closes. */
  async refuse(text: string): Promise<void> {
    await this.writer.write({ kind: 'err', text, code: 'SYS/TEMP' });
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  progress(): Progress {
    return { authenticated: this.opts.session.state !== 'AUTHORIZATION', commands: this.commands, busy: this.busy };
  }

  expire(text: string): void {
    this.ended = true;
    void this.writer.write({ kind: 'err', text, code: 'SYS/TEMP' }).finally(() => this.socket.destroy());
  }

  private watch(socket: Socket): void {
    socket.on('data', this.onData);
    // RFC 1939 §3: an idle client is logged out without entering UPDATE and without a reply.
    socket.setTimeout(this.opts.idleTimeoutMs, () => {
      // the client waits for us (a slow password check): not idle; our reply restarts the timer
      if (this.busy) return;
      this.opts.logger.info('pop3 idle timeout');
      socket.destroy();
    });
  }

  private readonly onData = (chunk: Buffer): void => {
    this.queue.push(...this.framer.push(chunk));
    if (this.queue.length > MAX_QUEUED) this.socket.pause();
    void this.pump();
  };

  private async pump(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (this.queue.length > 0 && !this.ended) {
        const event = this.queue.shift()!;
        this.commands++;
        const session = this.opts.session;
        const outcome: Outcome = event.kind === 'too-long' ? session.lineTooLong() : await session.handleLine(event.line.toString('utf8'));
        if (this.ended) break;
        try {
          await this.writer.write(outcome.reply);
        } catch (e) {
          if (!(e instanceof TruncatedMessageError)) throw e;
          this.opts.logger.warn({ err: e.message }, 'pop3 message vanished while being sent; dropping connection');
          this.socket.destroy();
          break;
        }
        if (outcome.after === 'close') {
          this.ended = true;
          this.socket.end();
        } else if (outcome.after === 'starttls') {
          // RFC 2595 §4 / RFC 3207 §4.2 lesson: nothing sent before the handshake is obeyed after it.
          this.queue.length = 0;
          this.framer.reset();
          this.socket.off('data', this.onData);
          if (!(await this.startTls())) break;
          session.tlsStarted();
          this.watch(this.socket);
        }
        if (this.queue.length <= MAX_QUEUED / 2 && this.socket.isPaused()) this.socket.resume();
      }
    } catch (e) {
      this.opts.logger.error({ err: e }, 'pop3 connection failed');
      this.socket.destroy();
    } finally {
      this.busy = false;
    }
  }

  /** The channel binding data of this connection's TLS (SCRAM-SHA-256-PLUS), null before TLS. */
  channelBindings(): ChannelBindings | null {
    return this.socket instanceof TLSSocket && this.socket.encrypted ? channelBindingsOf(this.socket) : null;
  }

  /** Wraps the socket in TLS; false (and the socket destroyed) when the handshake fails. */
  private startTls(): Promise<boolean> {
    const { secure, handshake } = upgradeToTls(this.socket, {
      secureContext: this.opts.secureContext,
      sniCallback: this.opts.sniCallback,
      timeoutMs: this.opts.idleTimeoutMs,
      logger: this.opts.logger,
      proto: 'pop3',
    });
    this.socket = secure;
    this.writer.setSocket(secure);
    secure.on('close', () => this.finish());
    return handshake;
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.ended = true;
    this.opts.session.close();
    for (const h of this.closedHandlers.splice(0)) h();
  }
}
