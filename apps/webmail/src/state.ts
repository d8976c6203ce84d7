/** What every request handler can reach: config, logger, sessions, endpoints. */
import type { Accounts, Config, Logger, LoginThrottle } from '@postern/core';
import type { Endpoint } from './endpoints.js';
import type { Address, MailAccount } from './mail/account.js';
import type { LoginForms, PendingLogins, Session, SessionResources, SessionStore } from './session.js';

/** A logged-in user's connections: the command connection and any live event streams. */
export class UserResources implements SessionResources {
  readonly streams = new Set<() => Promise<void>>();
  contacts: { at: number; list: Address[] } | null = null;

  constructor(
    readonly account: MailAccount,
    /** Revokes the session's own credential (local accounts), once the session ends. */
    private readonly revoke: (() => void) | null = null,
  ) {}

  async close(): Promise<void> {
    await Promise.all([...this.streams].map((stop) => stop().catch(() => undefined)));
    this.streams.clear();
    await this.account.close();
    this.revoke?.();
  }
}

export type UserSession = Session<UserResources>;

/**
 * Postern's own accounts, when the webmail serves them (it logs in to our own listeners, no
 * `webmail.imap`): then it checks the password and the second factor itself with the one login
 * throttle of every process, and each session logs in to IMAP and SMTP with a credential of its
 * own (a session app password, revoked when the session ends), so the user's password is not
 * kept, and two-factor accounts (whose password IMAP refuses) can read their mail here too.
 */
export interface LocalAccounts {
  accounts: Accounts;
  throttle: LoginThrottle;
  close(): void;
}

export interface WebmailState {
  config: Config;
  logger: Logger;
  sessions: SessionStore<UserResources>;
  /** The login forms handed out (login CSRF pre-sessions). */
  loginForms: LoginForms;
  imap: Endpoint;
  smtp: Endpoint;
  /** null: a foreign IMAP server (`webmail.imap`); its login is the password check, no second factor. */
  local: LocalAccounts | null;
  /** Logins whose password was right, waiting for their second factor. */
  pendingLogins: PendingLogins;
}
