/** What every request handler can reach: config, logger, sessions, endpoints. */
import type { Config, Logger } from '@postern/core';
import type { Endpoint } from './endpoints.js';
import type { Address, MailAccount } from './mail/account.js';
import type { LoginForms, Session, SessionResources, SessionStore } from './session.js';

/** A logged-in user's connections: the command connection and any live event streams. */
export class UserResources implements SessionResources {
  readonly streams = new Set<() => Promise<void>>();
  contacts: { at: number; list: Address[] } | null = null;

  constructor(readonly account: MailAccount) {}

  async close(): Promise<void> {
    await Promise.all([...this.streams].map((stop) => stop().catch(() => undefined)));
    this.streams.clear();
    await this.account.close();
  }
}

export type UserSession = Session<UserResources>;

export interface WebmailState {
  config: Config;
  logger: Logger;
  sessions: SessionStore<UserResources>;
  /** The login forms handed out (login CSRF pre-sessions). */
  loginForms: LoginForms;
  imap: Endpoint;
  smtp: Endpoint;
}
