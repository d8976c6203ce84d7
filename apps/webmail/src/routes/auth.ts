/**
 * Logging in and out, with one throttle for every Postern process (core's LoginThrottle over
 * mail.db): a guess here counts against IMAP, POP3 and SMTP AUTH, a lockout there holds here, and
 * a source that logged in before is let in the same everywhere. The answer never says which of
 * address or password was wrong.
 *
 * - Postern's own accounts (state.local): the password is checked here (protocol 'webmail', the
 *   one place the account password still works under two-factor login); a two-factor account
 *   then gives a code (RFC 6238) or a recovery code, a second attempt of the same throttle, so a
 *   stolen password buys no more guesses at the code than at the password. The session then
 *   logs in to IMAP and SMTP with a credential of its own, revoked at logout.
 * - A foreign IMAP server (`webmail.imap`): the password is checked by logging in to it, naming
 *   the browser's address (ID x-originating-ip); its throttle is the one that counts.
 */
import { sleep, type User } from '@postern/core';
import { field, HttpError, type Reply } from '../http.js';
import { LoginError, MailAccount } from '../mail/account.js';
import { LOGIN_COOKIE, sessionCookie, type Ctx, type Route } from '../server.js';
import { UserResources, type LocalAccounts } from '../state.js';
import { urls } from '../urls.js';
import { codePage, loginPage } from '../views/login.js';

function loginForm(ctx: Ctx, status: number, user: string, error: string | null, notice: string | null): Reply {
  // A fresh form (pre-session) per page: the cookie names it, the login POST must echo its token.
  const form = ctx.state.loginForms.issue(ctx.ip);
  return {
    kind: 'html',
    status,
    body: loginPage({ csrf: form.token, user, error, notice }),
    cookies: [{ name: LOGIN_COOKIE, value: form.id, secure: ctx.secure }],
  };
}

/** The code form of a pending two-factor login: a fresh pre-session form carries it. */
function codeForm(ctx: Ctx, status: number, login: { userId: number; address: string; expiresAt?: number }, error: string | null): Reply {
  const form = ctx.state.loginForms.issue(ctx.ip);
  ctx.state.pendingLogins.add(form.id, { ...login, ip: ctx.ip });
  return {
    kind: 'html',
    status,
    body: codePage({ csrf: form.token, error }),
    cookies: [{ name: LOGIN_COOKIE, value: form.id, secure: ctx.secure }],
  };
}

/** How a failed IMAP login of the webmail is told to the browser. */
function mailServerRefusal(ctx: Ctx, user: string, err: unknown): Reply {
  const { state } = ctx;
  if (err instanceof LoginError && err.kind === 'auth') {
    // the server has counted the failure and waited its delay before saying so
    state.logger.info({ ip: ctx.ip, user }, 'webmail login failed');
    return loginForm(ctx, 401, user, 'Wrong email address or password.', null);
  }
  if (err instanceof LoginError && err.kind === 'refused' && err.code === 'UNAVAILABLE') {
    // our IMAP server's throttle: this source (or any unknown source of this account) is locked out
    state.logger.warn({ ip: ctx.ip, user }, 'webmail login refused: too many failures');
    return loginForm(ctx, 429, user, 'Too many failed logins. Wait a few minutes and try again.', null);
  }
  if (err instanceof LoginError && err.kind === 'refused') {
    // not a wrong password: the server turns every login away for now; no failure counted
    state.logger.warn({ ip: ctx.ip, user, reply: err.message }, 'webmail login refused by the mail server');
    return loginForm(ctx, 503, user, `The mail server does not let you in right now (${err.message || 'no reason given'}). Try again in a few minutes.`, null);
  }
  if (err instanceof LoginError) {
    state.logger.warn({ err: err.message }, 'webmail login: mail server unavailable');
    return loginForm(ctx, 503, user, 'The mail server cannot be reached right now. Try again in a moment.', null);
  }
  throw err;
}

function sessionStarted(ctx: Ctx, sessionId: string): Reply {
  return {
    kind: 'redirect',
    location: urls.list('INBOX'),
    // No Max-Age: the cookie ends with the browser; the server ends the session at its lifetime
    // (and can then say so, because the browser still shows it the old id).
    cookies: [sessionCookie(ctx, sessionId), { name: LOGIN_COOKIE, value: '', maxAge: 0, secure: ctx.secure }],
  };
}

const tooMany = (ctx: Ctx, user: string): Reply => {
  ctx.state.logger.warn({ ip: ctx.ip, user }, 'webmail login refused: too many failures');
  return loginForm(ctx, 429, user, 'Too many failed logins. Wait a few minutes and try again.', null);
};

/** Both factors are right: the session's own credential for IMAP and SMTP, then the IMAP login. */
async function openLocalSession(ctx: Ctx, local: LocalAccounts, user: User): Promise<Reply> {
  const { state } = ctx;
  const { credentials } = local.accounts;
  // The session ends it (logout, its lifetime, a sweep); its own expiry, later than the session's
  // so that no request of a live session meets it, only clears what a stopped webmail left.
  const expires = Date.now() + state.config.webmail.session_lifetime + 3_600_000;
  const { appPassword, secret } = await credentials.addAppPassword(user.id, 'webmail session', ['imap', 'smtp'], 'session', expires);
  const password = secret.replace(/ /g, '');
  const revoke = (): void => void credentials.revokeAppPassword(user.id, appPassword.id);
  let account: MailAccount;
  try {
    account = await MailAccount.login(state.imap, user.address, password, state.logger, ctx.ip);
  } catch (err) {
    revoke();
    return mailServerRefusal(ctx, user.address, err);
  }
  const session = state.sessions.create(user.address, password, new UserResources(account, revoke));
  state.logger.info({ ip: ctx.ip, user: user.address }, 'webmail login');
  return sessionStarted(ctx, session.id);
}

async function localLogin(ctx: Ctx, local: LocalAccounts, user: string, password: string): Promise<Reply> {
  const attempt = local.throttle.begin(ctx.ip, user, 'webmail');
  if (!attempt) return tooMany(ctx, user);
  const u = await local.accounts.authenticate(user, password, { protocol: 'webmail' });
  if (!u) {
    await sleep(attempt.failed());
    ctx.state.logger.info({ ip: ctx.ip, user }, 'webmail login failed');
    return loginForm(ctx, 401, user, 'Wrong email address or password.', null);
  }
  if (local.accounts.twoFactor(u)) {
    // the password's reserved failure is taken back; the source is known only after the code
    attempt.succeeded(undefined, { remember: false });
    return codeForm(ctx, 200, { userId: u.id, address: u.address }, null);
  }
  attempt.succeeded();
  return openLocalSession(ctx, local, u);
}

export const authRoutes: Route[] = [
  {
    method: 'GET',
    path: '/',
    auth: false,
    handler: async (ctx) => ({ kind: 'redirect', location: ctx.session ? urls.list('INBOX') : '/login' }),
  },
  {
    method: 'GET',
    path: '/login',
    auth: false,
    handler: async (ctx) => {
      if (ctx.session) return { kind: 'redirect', location: urls.list('INBOX') };
      const q = ctx.url.searchParams;
      const notice = q.has('expired') ? 'Your session has ended. Log in again.' : q.has('bye') ? 'You have logged out.' : null;
      return loginForm(ctx, 200, '', null, notice);
    },
  },
  {
    method: 'POST',
    path: '/login',
    auth: false,
    csrf: 'login',
    handler: async (ctx) => {
      const { state } = ctx;
      const user = field(ctx.form!, 'user').trim().slice(0, 320);
      const password = field(ctx.form!, 'password');
      if (user === '' || password === '') return loginForm(ctx, 400, user, 'Enter your email address and password.', null);
      if (state.local) return localLogin(ctx, state.local, user, password);
      let account: MailAccount;
      try {
        account = await MailAccount.login(state.imap, user, password, state.logger, ctx.ip);
      } catch (err) {
        return mailServerRefusal(ctx, user, err);
      }
      const session = state.sessions.create(user, password, new UserResources(account));
      state.logger.info({ ip: ctx.ip, user }, 'webmail login');
      return sessionStarted(ctx, session.id);
    },
  },
  {
    method: 'POST',
    path: '/login/code',
    auth: false,
    csrf: 'login',
    handler: async (ctx) => {
      const { state } = ctx;
      const local = state.local;
      const pending = state.pendingLogins.take(ctx.cookies.get(LOGIN_COOKIE), ctx.ip);
      if (!local || !pending) return loginForm(ctx, 400, '', 'That login took too long. Log in again.', null);
      const code = field(ctx.form!, 'code').trim().slice(0, 40);
      const attempt = local.throttle.begin(ctx.ip, pending.address, 'webmail');
      if (!attempt) return tooMany(ctx, pending.address);
      const { credentials } = local.accounts;
      // a 6-digit code (used once), else a recovery code (each works once)
      const ok = credentials.useTotpCode(pending.userId, code) || (await credentials.useRecoveryCode(pending.userId, code));
      const user = ok ? local.accounts.userById(pending.userId) : null;
      if (!user) {
        await sleep(attempt.failed());
        state.logger.info({ ip: ctx.ip, user: pending.address }, 'webmail second factor failed');
        return codeForm(ctx, 401, pending, 'That code is not right. Try the current one.');
      }
      attempt.succeeded();
      return openLocalSession(ctx, local, user);
    },
  },
  {
    method: 'POST',
    path: '/logout',
    auth: true,
    csrf: 'session',
    handler: async (ctx) => {
      if (!ctx.session) throw new HttpError(401, 'Not logged in.');
      ctx.state.logger.info({ user: ctx.session.user }, 'webmail logout');
      await ctx.state.sessions.destroy(ctx.session.id);
      return { kind: 'redirect', location: '/login?bye=1', cookies: [sessionCookie(ctx, '', 0)] };
    },
  },
];
