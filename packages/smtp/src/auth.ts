/**
 * SMTP AUTH (RFC 4954) as every Postern SMTP server does it: never a password in the clear
 * (RFC 8314; the development profile allows loopback), refused outright while the source (or,
 * for a source that never logged in to it, the account) is locked out, the attempt counted before
 * the password is checked, a growing delay after each failure, and a log line without the password.
 */
import type { SMTPServerSession } from 'smtp-server';
import { passwordAllowed, plainIp, type Accounts, type Config, type Logger, type LoginThrottle, type User } from '@postern/core';
import { SmtpReply } from './reply.js';

export interface SmtpAuthDeps {
  config: Pick<Config, 'profile'>;
  accounts: Accounts;
  throttle: LoginThrottle;
  log: Logger;
}

export async function authenticateSmtp(deps: SmtpAuthDeps, username: string, password: string, session: SMTPServerSession): Promise<User> {
  if (!passwordAllowed(deps.config, session.secure, session.remoteAddress)) {
    throw new SmtpReply(538, '5.7.11', 'Encryption required for requested authentication mechanism');
  }
  const ip = plainIp(session.remoteAddress);
  const attempt = deps.throttle.begin(ip, username, 'smtp');
  if (!attempt) {
    deps.log.warn({ cid: session.id, ip, user: username }, 'auth refused: too many failures');
    throw new SmtpReply(454, '4.7.0', 'Too many failed logins, try again later');
  }
  const user = await deps.accounts.authenticate(username, password, { protocol: 'smtp' });
  if (!user) {
    const delay = attempt.failed();
    deps.log.warn({ cid: session.id, ip, user: username }, 'auth failed');
    await new Promise((r) => setTimeout(r, delay));
    throw new SmtpReply(535, '5.7.8', 'Authentication credentials invalid');
  }
  attempt.succeeded();
  deps.log.info({ cid: session.id, ip, user: user.address }, 'auth ok');
  return user;
}
