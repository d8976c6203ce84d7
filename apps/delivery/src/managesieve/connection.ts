/**
 * One ManageSieve client connection: socket, framing, commands answered one after another in
 * order, the SASL continuation, STARTTLS (§2.2: the capabilities again after the handshake),
 * and the idle timer.
 */
import type { Socket } from 'node:net';
import type { SecureContext } from 'node:tls';
import type { Logger } from '@postern/core';
import { upgradeToTls, type Progress } from '../listener.js';
import { CommandReader, type Frame } from './reader.js';
import { ReplyWriter } from './reply.js';
import type { ManageSieveSession, Outcome } from './session.js';

/** Frames queued before we stop reading from the socket. */
const MAX_QUEUED = 32;

export interface ConnectionOptions {
  session: ManageSieveSession;
  logger: Logger;
  maxLine: number;
  maxLiteral: number;
  idleTimeoutMs: number;
  secureContext: () => SecureContext;
  sniCallback: (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void) => void;
}

export class ManageSieveConnection {
  private socket: Socket;
  private readonly writer: ReplyWriter;
  private readonly reader: CommandReader;
  private readonly queue: Frame[] = [];
  private busy = false;
  private sasl = false;
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
    this.reader = new CommandReader(opts.maxLine, opts.maxLiteral);
    raw.on('close', () => this.finish());
    raw.on('error', (e) => opts.logger.debug({ err: e.message }, 'managesieve socket error'));
  }

  onClosed(handler: () => void): void {
    this.closedHandlers.push(handler);
  }

  /** RFC 5804 §1.7: the greeting is the capability response. */
  async start(): Promise<void> {
    this.watch(this.socket);
    await this.writer.write({ ...this.opts.session.capabilities(), text: 'Postern ManageSieve ready' });
  }

  async refuse(text: string): Promise<void> {
    await this.writer.write({ status: 'BYE', code: 'TRYLATER', text });
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  progress(): Progress {
    return { authenticated: this.opts.session.authenticated, commands: this.commands, busy: this.busy };
  }

  expire(text: string): void {
    this.ended = true;
    void this.writer.write({ status: 'BYE', text }).finally(() => this.socket.destroy());
  }

  private watch(socket: Socket): void {
    socket.on('data', this.onData);
    socket.setTimeout(this.opts.idleTimeoutMs, () => {
      this.opts.logger.info('managesieve idle timeout');
      void this.writer.write({ status: 'BYE', text: 'idle for too long' }).finally(() => socket.destroy());
    });
  }

  private readonly onData = (chunk: Buffer): void => {
    this.queue.push(...this.reader.push(chunk));
    if (this.queue.length > MAX_QUEUED) this.socket.pause();
    void this.pump();
  };

  private async pump(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    const session = this.opts.session;
    try {
      while (this.queue.length > 0 && !this.ended) {
        const frame = this.queue.shift()!;
        this.commands++;
        const outcome: Outcome = this.sasl ? await session.saslResponse(frame) : await session.handle(frame);
        this.sasl = outcome.after === 'sasl';
        if (this.ended) break;
        const r = outcome.reply;
        await ('raw' in r ? this.writer.raw(r.raw) : this.writer.write(r));
        if (outcome.after === 'close') {
          this.ended = true;
          this.socket.end();
        } else if (outcome.after === 'starttls') {
          // nothing sent before the handshake is obeyed after it (RFC 3207 §4.2's lesson)
          this.queue.length = 0;
          this.reader.reset();
          this.socket.off('data', this.onData);
          if (!(await this.startTls())) break;
          session.tlsStarted();
          this.watch(this.socket);
          await this.writer.write(session.capabilities());
        }
        if (this.queue.length <= MAX_QUEUED / 2 && this.socket.isPaused()) this.socket.resume();
      }
    } catch (e) {
      this.opts.logger.error({ err: e }, 'managesieve connection failed');
      this.socket.destroy();
    } finally {
      this.busy = false;
    }
  }

  private startTls(): Promise<boolean> {
    const { secure, handshake } = upgradeToTls(this.socket, {
      secureContext: this.opts.secureContext,
      sniCallback: this.opts.sniCallback,
      timeoutMs: this.opts.idleTimeoutMs,
      logger: this.opts.logger,
      proto: 'managesieve',
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
