/**
 * One ManageSieve session (RFC 5804): the state table, and a handler per command. Handlers
 * return a Reply or throw SieveProtocolError; `handle` turns every throw into the NO (or BYE)
 * the client sees, so no handler writes to the socket.
 *
 * - Before login: CAPABILITY, STARTTLS, AUTHENTICATE, NOOP, LOGOUT. AUTHENTICATE PLAIN only over
 *   TLS (§2.1, RFC 8314), except the development profile on loopback; failures are throttled
 *   with the other login services.
 * - After login: the script commands; PUTSCRIPT and CHECKSCRIPT compile the script and answer
 *   its first error with line and column; quotas on script count and size (§2.3 HAVESPACE).
 */
import type { Accounts, Logger, LoginThrottle, SieveQuota, SieveScripts, User } from '@postern/core';
import { StoreError } from '@postern/core';
import { CAPABILITIES, compile, SieveSyntaxError, type SieveLimits } from '@postern/sieve';
import { decodePlain } from '../pop3/sasl.js';
import { CommandSyntaxError, parseCommand, validScriptName, type SieveCommand, type Verb } from './command.js';
import type { Frame } from './reader.js';
import { SieveProtocolError, sieveString, type Reply } from './reply.js';

export type SessionState = 'NONAUTH' | 'AUTH';

/** What the connection does after writing the reply. */
export type After = 'continue' | 'close' | 'starttls' | 'sasl';

export interface Outcome {
  reply: Reply | { raw: string };
  after: After;
}

const ALLOWED: Record<SessionState, ReadonlySet<Verb>> = {
  NONAUTH: new Set(['CAPABILITY', 'STARTTLS', 'AUTHENTICATE', 'NOOP', 'LOGOUT']),
  AUTH: new Set([
    'CAPABILITY',
    'NOOP',
    'LOGOUT',
    'HAVESPACE',
    'PUTSCRIPT',
    'CHECKSCRIPT',
    'LISTSCRIPTS',
    'SETACTIVE',
    'GETSCRIPT',
    'DELETESCRIPT',
    'RENAMESCRIPT',
    'UNAUTHENTICATE',
  ]),
};

/** Commands that failed before the connection is closed (a client that only sends garbage). */
const MAX_BAD_COMMANDS = 20;

export interface SessionOptions {
  accounts: Accounts;
  scripts: SieveScripts;
  throttle: LoginThrottle;
  logger: Logger;
  remoteAddress: string;
  /** AUTHENTICATE allowed before TLS (development profile on loopback). */
  plaintextLoginAllowed: boolean;
  tls: boolean;
  limits: SieveLimits;
  quota: SieveQuota;
  sleep: (ms: number) => Promise<void>;
}

export class ManageSieveSession {
  state: SessionState = 'NONAUTH';
  private tls: boolean;
  private user: User | null = null;
  private bad = 0;
  private closed = false;

  constructor(private readonly opts: SessionOptions) {
    this.tls = opts.tls;
  }

  get authenticated(): boolean {
    return this.state === 'AUTH';
  }

  tlsStarted(): void {
    this.tls = true;
  }

  close(): void {
    this.closed = true;
  }

  /** RFC 5804 §1.7: the capability response (also the greeting, and after STARTTLS). */
  capabilities(): Reply {
    const lines = [
      `"IMPLEMENTATION" "Postern"`,
      `"SASL" ${this.loginAllowed() ? '"PLAIN"' : '""'}`,
      `"SIEVE" ${sieveString(CAPABILITIES.join(' '))}`,
      `"MAXREDIRECTS" "${this.opts.limits.maxRedirects}"`,
      ...(this.tls || this.state === 'AUTH' ? [] : ['"STARTTLS"']),
      ...(this.user ? [`"OWNER" ${sieveString(this.user.address)}`] : []),
      `"VERSION" "1.0"`,
    ];
    return { lines, status: 'OK' };
  }

  private loginAllowed(): boolean {
    return this.tls || this.opts.plaintextLoginAllowed;
  }

  /** A frame from the reader, as a command. */
  async handle(frame: Frame): Promise<Outcome> {
    try {
      if (frame.kind === 'error') throw new SieveProtocolError(frame.reason, frame.code);
      const cmd = parseCommand(frame.tokens);
      if (!ALLOWED[this.state].has(cmd.verb)) {
        throw new SieveProtocolError(this.state === 'NONAUTH' ? `${cmd.verb} needs a login first` : `${cmd.verb} is not allowed after login`);
      }
      const outcome = await this.dispatch(cmd);
      return outcome;
    } catch (err) {
      return this.failure(err);
    }
  }

  /** The client's answer to the SASL challenge (§2.1): a string, or "*" to cancel. */
  async saslResponse(frame: Frame): Promise<Outcome> {
    try {
      if (frame.kind === 'error') throw new SieveProtocolError(frame.reason);
      const t = frame.tokens;
      const only = t[0];
      if (t.length !== 1 || only === undefined || only.kind !== 'string') throw new SieveProtocolError('expected a SASL response string');
      if (only.value === '*') throw new SieveProtocolError('authentication cancelled');
      return await this.plain(only.value);
    } catch (err) {
      return this.failure(err);
    }
  }

  private failure(err: unknown): Outcome {
    if (err instanceof CommandSyntaxError || err instanceof SieveProtocolError) {
      const status = err instanceof SieveProtocolError ? err.status : 'NO';
      if (++this.bad > MAX_BAD_COMMANDS) return { reply: { status: 'BYE', text: 'too many bad commands' }, after: 'close' };
      return {
        reply: { status, ...(err instanceof SieveProtocolError && err.code ? { code: err.code } : {}), text: err.message },
        after: status === 'BYE' ? 'close' : 'continue',
      };
    }
    if (err instanceof StoreError) {
      const code = err.code === 'NONEXISTENT' ? 'NONEXISTENT' : err.code === 'ALREADYEXISTS' ? 'ALREADYEXISTS' : err.code === 'OVERQUOTA' ? 'QUOTA' : undefined;
      return { reply: { status: 'NO', ...(code ? { code } : {}), text: err.message }, after: 'continue' };
    }
    this.opts.logger.error({ err }, 'managesieve command failed');
    return { reply: { status: 'NO', code: 'TRYLATER', text: 'internal error, try again later' }, after: 'continue' };
  }

  private ok(text?: string): Outcome {
    return { reply: { status: 'OK', ...(text ? { text } : {}) }, after: 'continue' };
  }

  private userId(): number {
    if (!this.user) throw new Error('no user in AUTH state');
    return this.user.id;
  }

  private name(n: string): string {
    if (!validScriptName(n)) throw new SieveProtocolError('not a valid script name (1 to 128 characters, no controls)');
    return n;
  }

  private check(content: string): { warnings: null } {
    try {
      compile(content, this.opts.limits);
    } catch (err) {
      if (err instanceof SieveSyntaxError) throw new SieveProtocolError(err.message);
      throw err;
    }
    return { warnings: null };
  }

  private async dispatch(cmd: SieveCommand): Promise<Outcome> {
    const { scripts, quota } = this.opts;
    switch (cmd.verb) {
      case 'CAPABILITY':
        return { reply: this.capabilities(), after: 'continue' };
      case 'LOGOUT':
        return { reply: { status: 'OK', text: 'bye' }, after: 'close' };
      case 'NOOP':
        // §2.11: a NOOP's string comes back as the TAG response code
        return { reply: { status: 'OK', ...(cmd.tag !== null ? { code: `TAG ${sieveString(cmd.tag)}` } : {}), text: 'done' }, after: 'continue' };
      case 'STARTTLS':
        if (this.tls) throw new SieveProtocolError('TLS is already on');
        return { reply: { status: 'OK', text: 'begin TLS negotiation now' }, after: 'starttls' };
      case 'AUTHENTICATE': {
        if (cmd.mechanism.toUpperCase() !== 'PLAIN') throw new SieveProtocolError(`unsupported SASL mechanism ${cmd.mechanism.slice(0, 40)}`);
        if (!this.loginAllowed()) throw new SieveProtocolError('use STARTTLS before AUTHENTICATE', 'ENCRYPT-NEEDED');
        if (cmd.initial === null) return { reply: { raw: '""\r\n' }, after: 'sasl' };
        return this.plain(cmd.initial);
      }
      case 'UNAUTHENTICATE':
        this.state = 'NONAUTH';
        this.user = null;
        return this.ok();
      case 'HAVESPACE': {
        const r = await scripts.haveSpace(this.userId(), this.name(cmd.name), cmd.size, quota);
        if (r === 'maxsize') throw new SieveProtocolError(`scripts may have at most ${quota.maxScriptSize} octets`, 'QUOTA/MAXSIZE');
        if (r === 'maxscripts') throw new SieveProtocolError(`at most ${quota.maxScripts} scripts`, 'QUOTA/MAXSCRIPTS');
        return this.ok();
      }
      case 'PUTSCRIPT': {
        const name = this.name(cmd.name);
        const size = Buffer.byteLength(cmd.content);
        if (size > quota.maxScriptSize) throw new SieveProtocolError(`scripts may have at most ${quota.maxScriptSize} octets`, 'QUOTA/MAXSIZE');
        this.check(cmd.content);
        const space = await scripts.haveSpace(this.userId(), name, size, quota);
        if (space === 'maxscripts') throw new SieveProtocolError(`at most ${quota.maxScripts} scripts`, 'QUOTA/MAXSCRIPTS');
        await scripts.put(this.userId(), name, cmd.content, quota);
        this.opts.logger.info({ user: this.user?.address, script: name, size }, 'sieve script stored');
        return this.ok();
      }
      case 'CHECKSCRIPT':
        this.check(cmd.content);
        return this.ok();
      case 'LISTSCRIPTS': {
        const list = await scripts.list(this.userId());
        return { reply: { lines: list.map((s) => `${sieveString(s.name)}${s.active ? ' ACTIVE' : ''}`), status: 'OK' }, after: 'continue' };
      }
      case 'SETACTIVE': {
        // §2.8: the empty name deactivates
        if (cmd.name === '') await scripts.setActive(this.userId(), null);
        else {
          const s = await scripts.get(this.userId(), this.name(cmd.name));
          if (s === null) throw new SieveProtocolError(`no script "${cmd.name}"`, 'NONEXISTENT');
          this.check(s.content);
          await scripts.setActive(this.userId(), s.name);
        }
        return this.ok();
      }
      case 'GETSCRIPT': {
        const s = await scripts.get(this.userId(), this.name(cmd.name));
        if (s === null) throw new SieveProtocolError(`no script "${cmd.name}"`, 'NONEXISTENT');
        return { reply: { lines: [`{${Buffer.byteLength(s.content)}}\r\n${s.content}`], status: 'OK' }, after: 'continue' };
      }
      case 'DELETESCRIPT': {
        try {
          await scripts.delete(this.userId(), this.name(cmd.name));
        } catch (err) {
          if (err instanceof StoreError && err.code === 'CANNOT') throw new SieveProtocolError(err.message, 'ACTIVE');
          throw err;
        }
        return this.ok();
      }
      case 'RENAMESCRIPT':
        await scripts.rename(this.userId(), this.name(cmd.from), this.name(cmd.to));
        return this.ok();
    }
  }

  private async plain(response: string): Promise<Outcome> {
    const creds = decodePlain(response);
    if ('error' in creds) throw new SieveProtocolError(creds.error);
    const { throttle, accounts, remoteAddress, logger } = this.opts;
    const attempt = throttle.begin(remoteAddress, creds.authcid, 'managesieve');
    if (!attempt) {
      logger.warn({ user: creds.authcid }, 'managesieve login refused: too many failures');
      throw new SieveProtocolError('too many failed logins, try again later', 'TRYLATER');
    }
    const user = await accounts.authenticate(creds.authcid, creds.password, { protocol: 'managesieve' });
    if (!user) {
      const delay = attempt.failed();
      logger.info({ user: creds.authcid }, 'managesieve login failed');
      await this.opts.sleep(delay);
      throw new SieveProtocolError('invalid user name or password');
    }
    attempt.succeeded();
    if (this.closed) throw new SieveProtocolError('connection closed');
    this.user = user;
    this.state = 'AUTH';
    logger.info({ user: user.address }, 'managesieve login');
    return this.ok('logged in');
  }
}
