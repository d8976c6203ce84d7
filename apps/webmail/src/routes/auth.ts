/**
 * Logging in and out. The password is checked by logging in to the IMAP server with it, naming
 * the browser's address (ID x-originating-ip): that server's throttle is the one throttle of
 * every Postern process (core's LoginThrottle over mail.db), so the webmail keeps no count of its
 * own that could disagree with it: a guess here counts against IMAP, POP3 and SMTP AUTH, a
 * lockout there holds here, and a source that logged in before is let in the same everywhere.
 * The answer never says which of address or password was wrong.
 */
import { field, HttpError, type Reply } from '../http.js';
import { LoginError, MailAccount } from '../mail/account.js';
import { LOGIN_COOKIE, sessionCookie, type Ctx, type Route } from '../server.js';
import { UserResources } from '../state.js';
import { urls } from '../urls.js';
import { loginPage } from '../views/login.js';

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
      let account: MailAccount;
      try {
        account = await MailAccount.login(state.imap, user, password, state.logger, ctx.ip);
      } catch (err) {
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
          return loginForm(
            ctx,
            503,
            user,
            `The mail server does not let you in right now (${err.message || 'no reason given'}). Try again in a few minutes.`,
            null,
          );
        }
        if (err instanceof LoginError) {
          state.logger.warn({ err: err.message }, 'webmail login: mail server unavailable');
          return loginForm(ctx, 503, user, 'The mail server cannot be reached right now. Try again in a moment.', null);
        }
        throw err;
      }
      const session = state.sessions.create(user, password, new UserResources(account));
      state.logger.info({ ip: ctx.ip, user }, 'webmail login');
      return {
        kind: 'redirect',
        location: urls.list('INBOX'),
        // No Max-Age: the cookie ends with the browser; the server ends the session at its lifetime
        // (and can then say so, because the browser still shows it the old id).
        cookies: [sessionCookie(ctx, session.id), { name: LOGIN_COOKIE, value: '', maxAge: 0, secure: ctx.secure }],
      };
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
