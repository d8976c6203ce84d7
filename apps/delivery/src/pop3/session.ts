/**
 * The POP3 state machine (RFC 1939 §3-6) and its command handlers. Knows nothing of sockets:
 * the connection feeds it lines and writes the replies it returns.
 *
 * Invariants:
 * - Which command each state allows is the table `ALLOWED`; the dispatcher checks it once,
 *   handlers never look at the state to refuse.
 * - USER, PASS and AUTH work only after TLS, unless the development profile runs with the client
 *   on loopback (RFC 2595 §4 allows a server to refuse plaintext logins).
 * - A failed login is answered only after the throttle's delay; a locked IP or account is refused
 *   before the password is checked.
 * - One POP3 session per maildrop at a time (RFC 1939 §4, the exclusive-access lock); IMAP
 *   sessions are not excluded, they see our deletions as ordinary expunges at QUIT.
 */
import {
  ScramError,
  ScramServer,
  type Accounts,
  type ChannelBindings,
  type LoginAttempt,
  type LoginThrottle,
  type Logger,
  type MessageStore,
  type User,
} from '@postern/core';
import { parseCommand, type Pop3Command, type Pop3Verb } from './command.js';
import { Maildrop } from './maildrop.js';
import { err, ok, Pop3Error, type Reply } from './reply.js';
import { decodePlain } from './sasl.js';

export type Pop3State = 'AUTHORIZATION' | 'TRANSACTION' | 'UPDATE';

const ALLOWED: Record<Pop3State, ReadonlySet<Pop3Verb>> = {
  AUTHORIZATION: new Set<Pop3Verb>(['USER', 'PASS', 'AUTH', 'STLS', 'CAPA', 'QUIT']),
  TRANSACTION: new Set<Pop3Verb>(['STAT', 'LIST', 'RETR', 'DELE', 'NOOP', 'RSET', 'QUIT', 'TOP', 'UIDL', 'CAPA']),
  UPDATE: new Set<Pop3Verb>(),
};

/** After this many syntax errors, unknown commands or too-long lines the connection is closed. */
export const MAX_BAD_COMMANDS = 10;

/** What the connection must do after writing the reply. */
export type After = 'continue' | 'close' | 'starttls';

export interface Outcome {
  reply: Reply;
  after: After;
}

/** Exclusive access to maildrops (RFC 1939 §8), shared by every POP3 listener of one store. */
export class MaildropLocks {
  private static readonly perStore = new WeakMap<object, MaildropLocks>();

  /** The locks of one store: the pop3 and pop3s listeners of a process share them. */
  static of(store: object): MaildropLocks {
    let locks = MaildropLocks.perStore.get(store);
    if (!locks) {
      locks = new MaildropLocks();
      MaildropLocks.perStore.set(store, locks);
    }
    return locks;
  }

  private readonly held = new Set<number>();
  acquire(userId: number): boolean {
    if (this.held.has(userId)) return false;
    this.held.add(userId);
    return true;
  }
  release(userId: number): void {
    this.held.delete(userId);
  }
}

export interface SessionOptions {
  accounts: Accounts;
  store: MessageStore;
  throttle: LoginThrottle;
  locks: MaildropLocks;
  logger: Logger;
  remoteAddress: string;
  /** The development profile with a loopback client: logins without TLS are allowed. */
  plaintextLoginAllowed: boolean;
  /** Whether the connection is already TLS (the pop3s listener). */
  tls: boolean;
  /** The TLS channel binding data of the connection (SCRAM-SHA-256-PLUS); null without TLS. */
  channelBindings?: () => ChannelBindings | null;
  /** Waits before a failed login is answered (injected so tests need not sleep). */
  sleep: (ms: number) => Promise<void>;
}

export class Pop3Session {
  state: Pop3State = 'AUTHORIZATION';
  private tls: boolean;
  private userName: string | null = null;
  private saslPending = false;
  /** The next step of a SCRAM exchange in progress (RFC 5802 §5), fed the client's next line. */
  private scramStep: ((line: string) => Promise<Outcome>) | null = null;
  private user: User | null = null;
  private maildrop: Maildrop | null = null;
  private badCommands = 0;
  /** Set when the connection is gone; a login still checking its password must not lock then. */
  private closed = false;

  constructor(private readonly opts: SessionOptions) {
    this.tls = opts.tls;
  }

  /** RFC 2595 §4: after STLS the server forgets what the client said before it. */
  tlsStarted(): void {
    this.tls = true;
    this.userName = null;
    this.saslPending = false;
    this.scramStep = null;
  }

  /** Called once the connection is gone, whatever the reason: releases the maildrop lock. */
  close(): void {
    this.closed = true;
    if (this.user) this.opts.locks.release(this.user.id);
    this.user = null;
    this.maildrop = null;
  }

  /** A line over the length limit: `-ERR`, and the connection ends after too many. */
  lineTooLong(): Outcome {
    this.saslPending = false;
    this.scramStep = null;
    return this.bad('line too long');
  }

  /** The dispatcher: guards, state table, handler, errors turned into `-ERR`. */
  async handleLine(line: string): Promise<Outcome> {
    if (this.scramStep) {
      const step = this.scramStep;
      this.scramStep = null;
      // RFC 5034 §4: "*" cancels the exchange
      return this.guard(() => (line === '*' ? Promise.reject(new Pop3Error('authentication cancelled')) : step(line)));
    }
    if (this.saslPending) {
      this.saslPending = false;
      return this.guard(() => this.saslResponse(line));
    }
    const parsed = parseCommand(line);
    if (!parsed.ok) {
      if (parsed.verb && !ALLOWED[this.state].has(parsed.verb)) return this.bad(`${parsed.verb} is not valid in this state`);
      return this.bad(parsed.message);
    }
    const { command } = parsed;
    if (!ALLOWED[this.state].has(command.verb)) return this.bad(`${command.verb} is not valid in this state`);
    return this.guard(() => this.dispatch(command));
  }

  private bad(text: string): Outcome {
    this.badCommands++;
    if (this.badCommands >= MAX_BAD_COMMANDS) return { reply: err(`${text}; too many bad commands, closing`), after: 'close' };
    return { reply: err(text), after: 'continue' };
  }

  private async guard(run: () => Promise<Outcome> | Outcome): Promise<Outcome> {
    try {
      return await run();
    } catch (e) {
      if (e instanceof Pop3Error) return { reply: err(e.message, e.code), after: 'continue' };
      this.opts.logger.error({ err: e }, 'pop3 command failed');
      return { reply: err('internal error, try again later', 'SYS/TEMP'), after: 'continue' };
    }
  }

  private dispatch(c: Pop3Command): Promise<Outcome> | Outcome {
    const next = (reply: Reply): Outcome => ({ reply, after: 'continue' });
    switch (c.verb) {
      case 'CAPA':
        return next({ kind: 'lines', text: 'Capability list follows', lines: this.capabilities() });
      case 'STLS':
        return this.cmdStls();
      case 'USER':
        return next(this.cmdUser(c.name));
      case 'PASS':
        return this.cmdPass(c.password);
      case 'AUTH':
        return this.cmdAuth(c.mechanism, c.initialResponse);
      case 'QUIT':
        return this.cmdQuit();
      case 'STAT':
        return next(ok(`${this.drop().count} ${this.drop().size}`));
      case 'LIST':
        return next(this.cmdList(c.msg));
      case 'UIDL':
        return next(this.cmdUidl(c.msg));
      case 'RETR':
        return this.cmdRetr(c.msg, null).then(next);
      case 'TOP':
        return this.cmdRetr(c.msg, c.lines).then(next);
      case 'DELE':
        return next(this.cmdDele(c.msg));
      case 'NOOP':
        return next(ok(''));
      case 'RSET':
        this.drop().reset();
        return next(ok(`maildrop has ${this.drop().count} messages (${this.drop().size} octets)`));
    }
  }

  private get loginAllowed(): boolean {
    return this.tls || this.opts.plaintextLoginAllowed;
  }

  /** RFC 2449 §6; the login capabilities only where a login would be accepted. */
  private capabilities(): string[] {
    const caps = ['TOP', 'UIDL', 'RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING', 'EXPIRE NEVER', 'IMPLEMENTATION Postern'];
    if (this.state === 'AUTHORIZATION') {
      if (!this.tls) caps.push('STLS');
      if (this.loginAllowed) caps.push('USER', `SASL ${this.mechanisms().join(' ')}`);
    }
    return caps;
  }

  private cmdStls(): Outcome {
    if (this.tls) return { reply: err('already using TLS'), after: 'continue' };
    return { reply: ok('Begin TLS negotiation'), after: 'starttls' };
  }

  private requireTls(): void {
    if (!this.loginAllowed) throw new Pop3Error('TLS required: use STLS first', 'AUTH');
  }

  private cmdUser(name: string): Reply {
    this.requireTls();
    // Any name is accepted here: whether it exists is not told before PASS (RFC 1939 §13).
    this.userName = name;
    return ok('send PASS');
  }

  private async cmdPass(password: string): Promise<Outcome> {
    this.requireTls();
    const name = this.userName;
    this.userName = null;
    if (name === null) throw new Pop3Error('send USER first');
    return this.login(name, password);
  }

  private async cmdAuth(mechanism: string | null, initialResponse: string | null): Promise<Outcome> {
    this.requireTls();
    if (mechanism === null) return { reply: { kind: 'lines', text: 'SASL mechanisms follow', lines: this.mechanisms() }, after: 'continue' };
    if (mechanism === 'SCRAM-SHA-256' || mechanism === 'SCRAM-SHA-256-PLUS') return this.scramStart(mechanism.endsWith('-PLUS'), initialResponse);
    if (mechanism !== 'PLAIN') throw new Pop3Error(`unsupported SASL mechanism ${mechanism}`);
    if (initialResponse === null) {
      this.saslPending = true;
      return { reply: { kind: 'continue', challenge: '' }, after: 'continue' };
    }
    return this.saslResponse(initialResponse);
  }

  private async saslResponse(line: string): Promise<Outcome> {
    // RFC 5034 §4: "*" cancels the exchange.
    if (line === '*') throw new Pop3Error('authentication cancelled');
    const creds = decodePlain(line);
    if ('error' in creds) throw new Pop3Error(creds.error);
    return this.login(creds.authcid, creds.password);
  }

  /** RFC 7677: SCRAM, -PLUS only where there is a TLS channel to bind to. */
  private mechanisms(): string[] {
    return [...(this.tls ? ['SCRAM-SHA-256-PLUS'] : []), 'SCRAM-SHA-256', 'PLAIN'];
  }

  /**
   * SCRAM (RFC 5802 §5, core's scram.ts): client-first (the initial response, or after an empty
   * challenge), server-first, client-final, server-final, the client's empty line, +OK. The
   * attempt is counted once the user name is known, before the proof is checked.
   */
  private async scramStart(plus: boolean, initialResponse: string | null): Promise<Outcome> {
    const bindings = this.opts.channelBindings?.() ?? null;
    if (plus && !bindings) throw new Pop3Error('SCRAM-SHA-256-PLUS needs TLS');
    const exchange = new ScramServer(plus, bindings);
    const decode = (b64: string): string => {
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) throw new Pop3Error('invalid base64');
      return Buffer.from(b64, 'base64').toString('utf8');
    };
    const challenge = (data: string, next: (line: string) => Promise<Outcome>): Outcome => {
      this.scramStep = next;
      return { reply: { kind: 'continue', challenge: Buffer.from(data).toString('base64') }, after: 'continue' };
    };
    const first = async (line: string): Promise<Outcome> => {
      let name: string;
      try {
        name = exchange.start(decode(line));
      } catch (e) {
        if (e instanceof ScramError) throw new Pop3Error(e.message, 'AUTH');
        throw e;
      }
      const attempt = this.opts.throttle.begin(this.opts.remoteAddress, name, 'pop3');
      if (!attempt) throw new Pop3Error('too many failed logins, try again later', 'LOGIN-DELAY');
      const found = this.opts.accounts.scramKeys(name);
      return challenge(exchange.challenge(found?.keys ?? null), async (clientFinal) => {
        let serverFinal: string;
        try {
          serverFinal = exchange.finish(decode(clientFinal), found !== null);
        } catch (e) {
          const delay = attempt.failed();
          if (!(e instanceof ScramError || e instanceof Pop3Error)) throw e;
          this.opts.logger.info({ user: name, reason: e.message }, 'pop3 scram login failed');
          await this.opts.sleep(delay);
          throw new Pop3Error('authentication failed', 'AUTH');
        }
        return challenge(serverFinal, async (last) => {
          if (last !== '') {
            attempt.failed();
            throw new Pop3Error('expected an empty line after the server-final-message');
          }
          return this.open(found!.user, attempt);
        });
      });
    };
    return initialResponse !== null && initialResponse !== '=' ? first(initialResponse) : challenge('', first);
  }

  private async login(name: string, password: string): Promise<Outcome> {
    const { throttle, accounts, remoteAddress, logger } = this.opts;
    const attempt = throttle.begin(remoteAddress, name, 'pop3');
    if (!attempt) {
      logger.warn({ user: name }, 'pop3 login refused: too many failures');
      throw new Pop3Error('too many failed logins, try again later', 'LOGIN-DELAY');
    }
    const user = await accounts.authenticate(name, password, { protocol: 'pop3' });
    if (!user) {
      const delay = attempt.failed();
      logger.info({ user: name }, 'pop3 login failed');
      await this.opts.sleep(delay);
      throw new Pop3Error('invalid user name or password', 'AUTH');
    }
    return this.open(user, attempt);
  }

  /** The credentials were right: the maildrop is the user's, if no other session holds it. */
  private async open(user: User, attempt: LoginAttempt): Promise<Outcome> {
    const { logger } = this.opts;
    attempt.succeeded();
    if (this.closed) throw new Pop3Error('connection closed');
    if (!this.opts.locks.acquire(user.id)) throw new Pop3Error('maildrop is locked by another POP3 session', 'IN-USE');
    const drop = await Maildrop.open(this.opts.store, user.id);
    if (!drop) {
      this.opts.locks.release(user.id);
      throw new Pop3Error('no INBOX for this user', 'SYS/PERM');
    }
    this.user = user;
    this.maildrop = drop;
    this.state = 'TRANSACTION';
    logger.info({ user: user.address, messages: drop.count }, 'pop3 login');
    return { reply: ok(`maildrop has ${drop.count} messages (${drop.size} octets)`), after: 'continue' };
  }

  private drop(): Maildrop {
    // The state table admits maildrop commands only in TRANSACTION, where a maildrop is open.
    if (!this.maildrop) throw new Error('no maildrop in TRANSACTION state');
    return this.maildrop;
  }

  private live(n: number): { uid: number; size: number } {
    const e = this.drop().entry(n);
    if (e === 'no-such-message') throw new Pop3Error('no such message');
    if (e === 'deleted') throw new Pop3Error(`message ${n} already deleted`);
    return e;
  }

  private cmdList(n: number | null): Reply {
    const drop = this.drop();
    if (n !== null) return ok(`${n} ${this.live(n).size}`);
    const lines: string[] = [];
    for (const [i, e] of drop.live()) lines.push(`${i} ${e.size}`);
    return { kind: 'lines', text: `${drop.count} messages (${drop.size} octets)`, lines };
  }

  private cmdUidl(n: number | null): Reply {
    const drop = this.drop();
    if (n !== null) return ok(`${n} ${drop.uidl(this.live(n))}`);
    const lines: string[] = [];
    for (const [i, e] of drop.live()) lines.push(`${i} ${drop.uidl(e)}`);
    return { kind: 'lines', text: '', lines };
  }

  private async cmdRetr(n: number, bodyLines: number | null): Promise<Reply> {
    const drop = this.drop();
    const message = await drop.message(this.live(n));
    // Another session (IMAP) expunged it after our snapshot.
    if (!message) throw new Pop3Error(`message ${n} was removed by another session`);
    return {
      kind: 'message',
      text: bodyLines === null ? `${message.size} octets` : 'top of message follows',
      chunks: this.opts.store.chunks(message),
      size: message.size,
      bodyLines,
    };
  }

  private cmdDele(n: number): Reply {
    this.live(n);
    this.drop().markDeleted(n);
    return ok(`message ${n} deleted`);
  }

  private async cmdQuit(): Promise<Outcome> {
    if (this.state === 'AUTHORIZATION') return { reply: ok('Postern POP3 server signing off'), after: 'close' };
    // RFC 1939 §6: the UPDATE state; the deletions happen now, and only now.
    this.state = 'UPDATE';
    const drop = this.drop();
    try {
      const removed = await drop.commit();
      this.opts.logger.info({ user: this.user?.address, expunged: removed.length }, 'pop3 update');
      return { reply: ok(`Postern POP3 server signing off (${drop.count} messages left)`), after: 'close' };
    } catch (e) {
      this.opts.logger.error({ err: e }, 'pop3 update failed');
      return { reply: err('some deleted messages not removed', 'SYS/TEMP'), after: 'close' };
    }
  }
}
