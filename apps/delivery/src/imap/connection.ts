/**
 * One IMAP connection: the socket, the framer (lines and literals, with limits), the command
 * loop (one command at a time, in order), literal continuations, raw lines for AUTHENTICATE
 * and IDLE, STARTTLS, the autologout timer, and the writer with back-pressure.
 */
import type { Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import { continuation, FramingError, ImapFramer, ImapParseError, parseCommand, untaggedStatus, type FramerLimits } from '@postern/imap';
import { channelBindingsOf, type ByteBudget, type ChannelBindings, type Logger } from '@postern/core';
import { SPOOL_AFTER, SyncSpoolFile } from '@postern/smtp';
import type { After, ImapSession, SessionIo } from './session.js';
import { upgradeToTls, type Progress } from '../listener.js';

export interface ConnectionOptions {
  logger: Logger;
  limits: Partial<FramerLimits>;
  /** Autologout before login, and after (RFC 9051 §5.4: at least 30 minutes once logged in). */
  preAuthTimeoutMs: number;
  idleTimeoutMs: number;
  implicitTls: boolean;
  secureContext: () => SecureContext;
  sniCallback: (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void) => void;
  /** The process's bytes in flight (limits.data_in_flight): literals take from it until their command is done. */
  inFlight: ByteBudget;
  /** The data directory: literals over SPOOL_AFTER wait in its `spool/` while they arrive. */
  dataDir: string;
}

/** Writes smaller than this are joined into one socket write. */
const COALESCE_MAX = 64 * 1024;

export class ImapConnection implements SessionIo {
  private socket: Socket;
  private framer: ImapFramer;
  private session: ImapSession | null = null;
  private busy = false;
  /** Commands received (the listener's deadlines count them). */
  private commands = 0;
  private finished = false;
  private lineWaiter: ((line: Buffer | null) => void) | null = null;
  private readonly closedHandlers: Array<() => void> = [];

  constructor(
    raw: Socket,
    private readonly opts: ConnectionOptions,
  ) {
    this.socket = raw;
    this.framer = this.newFramer();
    raw.on('close', () => this.finish());
    raw.on('error', (e) => opts.logger.debug({ err: e.message }, 'imap socket error'));
  }

  /** Bytes the literals of the command being read took from the budget. */
  private heldForLiterals = 0;

  private newFramer(): ImapFramer {
    const framer = new ImapFramer(this.opts.limits);
    framer.setLiteralGate((size) => {
      if (!this.opts.inFlight.take(size)) return false;
      this.heldForLiterals += size;
      return true;
    });
    // An APPEND held open holds disk, not memory (the bytes still count in flight).
    const dataDir = this.opts.dataDir;
    framer.setLiteralSpool({ threshold: SPOOL_AFTER, open: () => new SyncSpoolFile(dataDir) });
    return framer;
  }

  private releaseLiterals(): void {
    this.opts.inFlight.give(this.heldForLiterals);
    this.heldForLiterals = 0;
  }

  get closed(): boolean {
    return this.finished || this.socket.destroyed;
  }

  attach(session: ImapSession): void {
    this.session = session;
  }

  onClosed(handler: () => void): void {
    this.closedHandlers.push(handler);
  }

  /** Greets (after the TLS handshake on the imaps listener) and starts reading. */
  async start(greeting: Buffer): Promise<void> {
    if (this.opts.implicitTls && !(await this.startTls())) return;
    this.watch(this.socket);
    await this.send(greeting);
  }

  async refuse(text: string): Promise<void> {
    await this.send(untaggedStatus('BYE', text, { code: 'UNAVAILABLE' }));
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  progress(): Progress {
    return { authenticated: this.session !== null && this.session.state !== 'not-authenticated', commands: this.commands, busy: this.busy };
  }

  expire(text: string): void {
    void this.send(untaggedStatus('BYE', `Autologout; ${text}`)).finally(() => this.socket.destroy());
  }

  setLimits(limits: Partial<FramerLimits>): void {
    this.framer.setLimits(limits);
  }

  // --- SessionIo ---------------------------------------------------------------------------

  async send(chunks: Buffer | readonly Buffer[]): Promise<void> {
    if (this.closed) return;
    const list = Buffer.isBuffer(chunks) ? [chunks] : chunks;
    if (list.length === 0) return;
    const sock = this.socket;
    let flowing = true;
    let small: Buffer[] = [];
    let smallBytes = 0;
    const flushSmall = (): void => {
      if (small.length === 0) return;
      flowing = sock.write(small.length === 1 ? (small[0] as Buffer) : Buffer.concat(small, smallBytes)) && flowing;
      small = [];
      smallBytes = 0;
    };
    for (const b of list) {
      if (b.length >= COALESCE_MAX) {
        flushSmall();
        flowing = sock.write(b) && flowing;
      } else {
        small.push(b);
        smallBytes += b.length;
        if (smallBytes >= COALESCE_MAX) flushSmall();
      }
    }
    flushSmall();
    if (!flowing && !this.closed) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          sock.off('drain', done);
          sock.off('close', done);
          resolve();
        };
        sock.on('drain', done);
        sock.on('close', done);
      });
    }
  }

  abort(): void {
    this.socket.destroy();
  }

  readLine(): Promise<Buffer | null> {
    if (this.closed) return Promise.resolve(null);
    this.framer.readRawLine();
    return new Promise((resolve) => {
      this.lineWaiter = resolve;
      this.deliverRawLine();
    });
  }

  // --- reading -----------------------------------------------------------------------------

  private watch(socket: Socket): void {
    // Responses are written whole; Nagle would only add a delayed-ACK round trip to each.
    socket.setNoDelay(true);
    socket.on('data', this.onData);
    socket.on('timeout', this.onTimeout);
    this.armTimer();
  }

  /** RFC 9051 §5.4: the autologout timer, 30 minutes (configurable) once logged in. */
  private armTimer(): void {
    const authenticated = this.session !== null && this.session.state !== 'not-authenticated';
    this.socket.setTimeout(authenticated ? this.opts.idleTimeoutMs : this.opts.preAuthTimeoutMs);
  }

  private readonly onTimeout = (): void => {
    this.opts.logger.info('imap autologout');
    void this.send(untaggedStatus('BYE', 'Autologout; idle for too long')).finally(() => this.socket.destroy());
  };

  private readonly onData = (chunk: Buffer): void => {
    let more: boolean;
    try {
      more = this.framer.push(chunk);
    } catch (e) {
      if (e instanceof FramingError) {
        this.opts.logger.warn({ err: e.message }, 'imap input overflow');
        void this.send(untaggedStatus('BYE', e.message, { code: 'TOOBIG' })).finally(() => this.socket.destroy());
        return;
      }
      throw e;
    }
    if (!more) this.socket.pause();
    if (this.lineWaiter) this.deliverRawLine();
    else void this.pump();
  };

  /** Feeds a waiting readLine() from the framer (raw mode). */
  private deliverRawLine(): void {
    const waiter = this.lineWaiter;
    if (!waiter) return;
    const ev = this.framer.next();
    if (ev === null) {
      if (this.socket.isPaused()) this.socket.resume();
      return;
    }
    this.lineWaiter = null;
    if (ev.kind === 'line') waiter(ev.line);
    else waiter(null); // a too-long raw line (the framer skips it)
  }

  private async pump(): Promise<void> {
    if (this.busy || !this.session) return;
    this.busy = true;
    const session = this.session;
    try {
      while (!this.closed) {
        const ev = this.framer.next();
        if (ev === null) {
          if (this.socket.isPaused()) this.socket.resume();
          break;
        }
        let after: After = 'continue';
        switch (ev.kind) {
          case 'literal':
            // Limits were checked by the framer; before login they are small (RFC 9051 §6.2).
            this.framer.acceptLiteral();
            await this.send(continuation('Ready for literal data'));
            break;
          case 'line':
            // A raw line nobody waits for (cannot happen: raw mode is set only by readLine()).
            break;
          case 'error': {
            this.releaseLiterals();
            const e = ev.error;
            if (e.fatal) {
              await this.send(untaggedStatus('BYE', e.message, { code: 'TOOBIG' }));
              after = 'close';
            } else if (e.code === 'LITERAL_REFUSED_FOR_NOW') {
              // RFC 5530 §3: LIMIT, a server limit that a later try may not meet
              after = await session.framingError(e.tag, 'NO', e.message, { code: 'LIMIT' });
            } else if (e.code === 'LITERAL_SPOOL_FAILED') {
              // RFC 5530 §3: UNAVAILABLE, a subsystem (here the spool's disk) failed for now
              this.opts.logger.warn({ err: e.message }, 'imap literal spool failed');
              after = await session.framingError(e.tag, 'NO', e.message, { code: 'UNAVAILABLE' });
            } else if (e.code === 'LINE_TOO_LONG') {
              after = await session.framingError(e.tag, 'BAD', e.message, { code: 'TOOBIG' });
            } else {
              // RFC 7889 §4 / RFC 9051 §7.1: a literal over the limit is refused with NO [TOOBIG].
              after = await session.framingError(e.tag, 'NO', e.message, { code: 'TOOBIG' });
            }
            break;
          }
          case 'command': {
            this.commands++;
            let cmd: ReturnType<typeof parseCommand>;
            try {
              cmd = parseCommand(ev.unit, { utf8Accept: session.utf8Accept });
            } catch (e) {
              if (!(e instanceof ImapParseError)) throw e;
              this.releaseLiterals();
              after = await session.parseError(e);
              break;
            }
            try {
              after = await session.run(cmd);
            } finally {
              this.releaseLiterals();
            }
            this.armTimer();
            break;
          }
        }
        if (after === 'close') {
          this.socket.end();
          break;
        }
        if (after === 'starttls') {
          // RFC 9051 §6.2.1: whatever the client sent after STARTTLS is discarded.
          this.socket.off('data', this.onData);
          this.releaseLiterals();
          this.framer.close();
          this.framer = this.newFramer();
          if (!(await this.startTls())) break;
          session.tlsStarted();
          this.watch(this.socket);
        }
      }
    } catch (e) {
      this.opts.logger.error({ err: e }, 'imap connection failed');
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
      timeoutMs: this.opts.preAuthTimeoutMs,
      logger: this.opts.logger,
      proto: 'imap',
    });
    this.socket = secure;
    secure.on('close', () => this.finish());
    return handshake;
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    // a literal half-received goes with the connection (and its spool file with it)
    this.framer.close();
    this.releaseLiterals();
    const waiter = this.lineWaiter;
    this.lineWaiter = null;
    waiter?.(null);
    this.session?.close();
    for (const h of this.closedHandlers.splice(0)) h();
  }
}
