/**
 * One IMAP session: its state, the enabled extensions, the selected mailbox, and the dispatcher.
 * Knows nothing of sockets: the connection feeds it parsed commands and gives it `SessionIo`
 * to write untagged responses and to read raw lines (SASL responses, IDLE's DONE).
 *
 * Invariants:
 * - The state table (state.ts) is checked once, here; handlers never refuse on state.
 * - Every tagged response is written by `run()`; handlers return a Reply or throw ImapError.
 * - Untagged updates about the selected mailbox are written before the tagged response of
 *   every command, EXPUNGE excepted during FETCH/STORE/SEARCH (RFC 9051 §7.4.1).
 */
import {
  ImapParseError,
  taggedResponse,
  untaggedStatus,
  type Command,
  type CommandName,
  type CommandOf,
  type FramerLimits,
  type ResponseCode,
} from '@postern/imap';
import type { Accounts, ChannelBindings, LoginThrottle, Logger, MessageStore, User } from '@postern/core';
import { capabilities } from './capabilities.js';
import { ImapError, type Reply } from './reply.js';
import type { SelectedMailbox } from './selected.js';
import { ALLOWED, NO_EXPUNGE_DURING, type ImapState } from './state.js';
import { HANDLERS } from './handlers/index.js';
import { inlineIndexer, type MessageIndexer } from '../index-pool.js';

/** After this many BAD replies in a row, the connection is closed (a confused or hostile peer). */
export const MAX_BAD_COMMANDS = 20;

export interface SessionIo {
  /** Writes bytes in order, resolving once the socket accepted them (back-pressure). */
  send(chunks: Buffer | readonly Buffer[]): Promise<void>;
  /** The next raw line from the client, or null when the connection closed or the line was too long. */
  readLine(): Promise<Buffer | null>;
  /** Changes framing limits (literal size is small before login). */
  setLimits(limits: Partial<FramerLimits>): void;
  /** True once the socket is gone. */
  readonly closed: boolean;
  /** Drops the connection at once, nothing more written (a literal that cannot be finished). */
  abort(): void;
}

/** Per-user connection accounting, shared by every IMAP listener of the process. */
export interface UserConnections {
  acquire(userId: number): boolean;
  release(userId: number): void;
}

export interface SessionOptions {
  accounts: Accounts;
  store: MessageStore;
  throttle: LoginThrottle;
  logger: Logger;
  remoteAddress: string;
  /** The development profile on loopback: logins without TLS are allowed. */
  plaintextLoginAllowed: boolean;
  tls: boolean;
  /** APPENDLIMIT (RFC 7889): the largest message APPEND takes. */
  appendLimit: number;
  userConnections: UserConnections;
  sleep: (ms: number) => Promise<void>;
  io: SessionIo;
  /** Where APPEND indexes messages: the agent's thread pool; inline by default (tests). */
  indexer?: MessageIndexer;
  /** The TLS channel binding data of the connection (SCRAM-SHA-256-PLUS); null without TLS. */
  channelBindings?: () => ChannelBindings | null;
  /** Keys in one SEARCH (limits.imap_search_keys). */
  maxSearchKeys?: number;
}

export class ImapSession {
  state: ImapState = 'not-authenticated';
  tls: boolean;
  user: User | null = null;
  selected: SelectedMailbox | null = null;
  condstore = false;
  qresync = false;
  utf8Accept = false;
  /** RFC 5182 SEARCHRES: UIDs saved by `SEARCH RETURN (SAVE)`. */
  savedSearch: number[] = [];
  /** Whose failed logins count: the peer, or the browser's address a webmail on this machine
   * reported with ID x-originating-ip (see cmdId). */
  clientIp: string;
  private badInARow = 0;
  private closed = false;

  constructor(readonly opts: SessionOptions) {
    this.tls = opts.tls;
    this.clientIp = opts.remoteAddress;
  }

  get store(): MessageStore {
    return this.opts.store;
  }

  get io(): SessionIo {
    return this.opts.io;
  }

  get log(): Logger {
    return this.opts.logger;
  }

  get indexer(): MessageIndexer {
    return this.opts.indexer ?? inlineIndexer;
  }

  get loginAllowed(): boolean {
    return this.tls || this.opts.plaintextLoginAllowed;
  }

  capabilities(): string[] {
    return capabilities({
      tls: this.tls,
      loginAllowed: this.loginAllowed,
      authenticated: this.state !== 'not-authenticated',
      appendLimit: this.opts.appendLimit,
    });
  }

  /** Response options for mailbox names on the wire. */
  get wire(): { utf8Accept: boolean } {
    return { utf8Accept: this.utf8Accept };
  }

  tlsStarted(): void {
    this.tls = true;
  }

  /** The connection is gone: release what the session holds. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.user) this.opts.userConnections.release(this.user.id);
    this.selected = null;
    this.state = 'logout';
  }

  /** Called after a successful login, by LOGIN and AUTHENTICATE. */
  loggedIn(user: User): void {
    this.user = user;
    this.state = 'authenticated';
    this.io.setLimits({ maxLiteralSize: this.opts.appendLimit, maxCommandSize: Math.max(this.opts.appendLimit * 2, 64 * 1024 * 1024) });
  }

  /** The selected mailbox; the state table guarantees one in the selected state. */
  sel(): SelectedMailbox {
    if (!this.selected) throw new Error('no selected mailbox in the selected state');
    return this.selected;
  }

  /** Sends the updates of the selected mailbox that may be sent now. */
  async catchUp(expunge: boolean): Promise<void> {
    if (!this.selected) return;
    const out = await this.selected.sync(this.store, { expunge, condstore: this.condstore, qresync: this.qresync });
    if (out.length > 0) await this.io.send(out);
  }

  /** A syntax error from the parser: `BAD` (tagged when the tag was readable). */
  async parseError(err: ImapParseError): Promise<After> {
    const code = err.code;
    if (err.tag === null) {
      await this.io.send(untaggedStatus('BAD', err.message, code));
    } else {
      await this.io.send(taggedResponse(err.tag, err.status, err.message, code));
    }
    return err.status === 'BAD' ? this.countBad() : 'continue';
  }

  /** A framing error (too long a line, too big a literal). */
  async framingError(tag: string | null, status: 'NO' | 'BAD', text: string, code: ResponseCode | null): Promise<After> {
    if (tag === null) await this.io.send(untaggedStatus('BAD', text, code));
    else await this.io.send(taggedResponse(tag, status, text, code));
    return status === 'BAD' ? this.countBad() : 'continue';
  }

  private countBad(): After {
    this.badInARow++;
    return this.badInARow >= MAX_BAD_COMMANDS ? 'close' : 'continue';
  }

  /** The dispatcher: state table, handler, pending updates, tagged response. */
  async run(cmd: Command): Promise<After> {
    if (!ALLOWED[this.state].has(cmd.name)) {
      await this.io.send(taggedResponse(cmd.tag, 'BAD', `${cmd.name} not allowed now`, { code: 'CLIENTBUG' }));
      return this.countBad();
    }
    let reply: Reply;
    try {
      reply = await (HANDLERS[cmd.name] as (s: ImapSession, c: CommandOf<CommandName>) => Promise<Reply> | Reply)(this, cmd);
    } catch (e) {
      if (e instanceof ImapError) reply = { status: e.status, text: e.message, code: e.code };
      else if (e instanceof ImapParseError) reply = { status: e.status, text: e.message, code: e.code };
      else {
        this.log.error({ err: e, command: cmd.name }, 'imap command failed');
        reply = { status: 'NO', text: 'internal error, try again later', code: { code: 'SERVERBUG' } };
      }
    }
    if (this.io.closed) return 'close';
    if (this.state === 'selected' && reply.after !== 'close') {
      await this.catchUp(!NO_EXPUNGE_DURING.has(cmd.name));
    }
    await this.io.send(taggedResponse(cmd.tag, reply.status, reply.text, reply.code ?? null));
    if (reply.status === 'BAD') return this.countBad();
    this.badInARow = 0;
    return reply.after ?? 'continue';
  }
}

export type { After } from './reply.js';
import type { After } from './reply.js';
