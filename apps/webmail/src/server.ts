/**
 * The HTTP server: a table of routes, the guards every request passes before a handler runs
 * (same-origin for writes, session, CSRF token), and the one place that writes replies and the
 * security headers that go with them.
 *
 * Invariants: a handler runs only when its route's guards passed; no handler writes headers
 * except the event stream; every page carries a CSP that allows our own script and style only.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LoginError, NoSuchFolder } from './mail/account.js';
import { clientIp, contentDisposition, HttpError, isSecureRequest, parseCookies, readForm, serializeCookie, field, type Cookie, type Reply } from './http.js';
import { tokensEqual } from './session.js';
import type { UserSession, WebmailState } from './state.js';
import { errorPage } from './views/login.js';

export const SESSION_COOKIE = 'postern_session';
export const LOGIN_COOKIE = 'postern_login';

export interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  ip: string;
  secure: boolean;
  cookies: Map<string, string>;
  state: WebmailState;
  /** Present on routes with `auth: true`. */
  session: UserSession | null;
  /** The parsed body of a POST. */
  form: FormData | null;
}

export interface AuthedCtx extends Ctx {
  session: UserSession;
}

export interface Route {
  method: 'GET' | 'POST';
  path: string;
  /** Needs a logged-in session. */
  auth: boolean;
  /** How large a body may be: 'form' (small) or 'upload' (the message size limit). */
  body?: 'form' | 'upload';
  /** 'session': the session's token; 'login': the token of the login form the cookie names; none for GET. */
  csrf?: 'session' | 'login';
  /** How a missing session is answered: a redirect to the login page, or 401 for scripts. */
  api?: boolean;
  handler(ctx: Ctx): Promise<Reply>;
}

const PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "frame-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

const FORM_LIMIT = 256 * 1024;

/** The session cookie; `maxAge` 0 deletes it, absent makes it last as long as the browser runs. */
export function sessionCookie(ctx: Ctx, value: string, maxAge?: number): Cookie {
  return { name: SESSION_COOKIE, value, secure: ctx.secure, ...(maxAge !== undefined ? { maxAge } : {}) };
}

function baseHeaders(res: ServerResponse): void {
  res.setHeader('X-Content-Type-Options', 'nosniff');
  // Our own pages send their origin to ourselves only; message links carry none (rel=noreferrer).
  res.setHeader('Referrer-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
  res.setHeader('Permissions-Policy', 'camera=(), microphone=(), geolocation=(), interest-cohort=()');
}

/** Writes a reply: the only place that does. */
export function writeReply(ctx: Ctx, reply: Reply): void {
  const { res } = ctx;
  if (reply.kind === 'handled') return;
  // The client went away, or the event stream already answered: nothing left to write.
  if (res.headersSent || res.writableEnded || res.destroyed) {
    if (reply.kind === 'download') reply.stream.destroy();
    return;
  }
  baseHeaders(res);
  if (ctx.secure) res.setHeader('Strict-Transport-Security', 'max-age=31536000');
  const cookies = 'cookies' in reply && reply.cookies ? reply.cookies.map(serializeCookie) : [];
  if (cookies.length > 0) res.setHeader('Set-Cookie', cookies);
  switch (reply.kind) {
    case 'html': {
      res.statusCode = reply.status ?? 200;
      res.setHeader('Content-Type', 'text/html; charset=utf-8');
      res.setHeader('Cache-Control', 'no-store');
      res.setHeader('Content-Security-Policy', reply.csp ?? PAGE_CSP);
      res.setHeader('X-Frame-Options', reply.frameable ? 'SAMEORIGIN' : 'DENY');
      res.end(reply.body.value);
      return;
    }
    case 'redirect':
      res.statusCode = 303;
      res.setHeader('Location', reply.location);
      res.setHeader('Cache-Control', 'no-store');
      res.end();
      return;
    case 'json':
      res.statusCode = reply.status ?? 200;
      res.setHeader('Content-Type', 'application/json; charset=utf-8');
      res.setHeader('Cache-Control', 'no-store');
      res.end(JSON.stringify(reply.body));
      return;
    case 'file':
      res.statusCode = 200;
      res.setHeader('Content-Type', reply.contentType);
      res.setHeader('Cache-Control', `public, max-age=${reply.cacheSeconds}, immutable`);
      res.end(reply.body);
      return;
    case 'download': {
      res.statusCode = 200;
      // Never let a part be interpreted as a page of this site: a sandbox CSP, nosniff, and
      // only images (not SVG) are shown inline, everything else is saved.
      res.setHeader('Content-Type', reply.contentType);
      res.setHeader('Content-Disposition', contentDisposition(reply.inline ? 'inline' : 'attachment', reply.filename));
      res.setHeader('Content-Security-Policy', "default-src 'none'; img-src 'self'; sandbox");
      res.setHeader('Cache-Control', 'private, no-store');
      reply.stream.on('error', (err: Error) => {
        ctx.state.logger.warn({ err: err.message }, 'download failed');
        res.destroy(err);
      });
      // A download the browser gives up on must end the IMAP fetch too (it holds the folder lock).
      res.once('close', () => {
        if (!reply.stream.readableEnded) reply.stream.destroy();
      });
      reply.stream.pipe(res);
      return;
    }
  }
}

/**
 * A request that writes (POST) must come from one of our own pages: Fetch Metadata when the
 * browser sends it, else the Origin header. (The CSRF token is checked as well, after this.)
 */
function sameOrigin(req: IncomingMessage): boolean {
  const site = req.headers['sec-fetch-site'];
  if (typeof site === 'string') return site === 'same-origin';
  const origin = req.headers['origin'];
  if (typeof origin === 'string' && origin !== 'null') {
    try {
      return new URL(origin).host === req.headers.host;
    } catch {
      return false;
    }
  }
  return true;
}

export function createHandler(state: WebmailState, routes: Route[]): (req: IncomingMessage, res: ServerResponse) => void {
  const table = new Map<string, Route>(routes.map((r) => [`${r.method} ${r.path}`, r]));
  const paths = new Set(routes.map((r) => r.path));
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://webmail.invalid');
    const ctx: Ctx = {
      req,
      res,
      url,
      ip: clientIp(req, state.config.webmail.trusted_proxies),
      secure: isSecureRequest(req, state.config.webmail.trusted_proxies),
      cookies: parseCookies(req.headers.cookie),
      state,
      session: null,
      form: null,
    };
    void dispatch(ctx, table, paths)
      .then(
        (reply) => writeReply(ctx, reply),
        (err: unknown) => writeReply(ctx, failure(ctx, err)),
      )
      .catch((err: unknown) => {
        // Writing itself failed (a socket torn down mid-reply): log it, never crash the process.
        state.logger.warn({ err: (err as Error).message, path: url.pathname }, 'reply not written');
        res.destroy();
      });
  };
}

async function dispatch(ctx: Ctx, table: Map<string, Route>, paths: Set<string>): Promise<Reply> {
  const { req, url, state } = ctx;
  const method = req.method === 'HEAD' ? 'GET' : req.method;
  const route = table.get(`${method} ${url.pathname}`);
  if (!route) {
    req.resume();
    throw new HttpError(paths.has(url.pathname) ? 405 : 404, paths.has(url.pathname) ? 'That is not how this page is used.' : 'There is no such page.');
  }
  if (route.method === 'POST' && !sameOrigin(req)) {
    req.resume();
    state.logger.warn({ ip: ctx.ip, path: url.pathname, origin: req.headers['origin'], site: req.headers['sec-fetch-site'] }, 'cross-site write refused');
    throw new HttpError(403, 'This request came from another site and was refused.');
  }
  const sid = ctx.cookies.get(SESSION_COOKIE);
  ctx.session = state.sessions.get(sid);
  if (route.auth && !ctx.session) {
    req.resume();
    const expired = sid !== undefined;
    if (route.api || route.method === 'POST') {
      if (route.api) return { kind: 'json', status: 401, body: { error: 'session ended', login: '/login' } };
      throw new HttpError(401, expired ? 'Your session has ended. Log in again.' : 'Log in first.');
    }
    return {
      kind: 'redirect',
      location: expired ? '/login?expired=1' : '/login',
      cookies: expired ? [sessionCookie(ctx, '', 0)] : [],
    };
  }
  if (route.method === 'POST') {
    ctx.form = await readForm(req, route.body === 'upload' ? state.config.limits.message_size + 1024 * 1024 : FORM_LIMIT);
    const sent = field(ctx.form, '_csrf') || String(req.headers['x-csrf-token'] ?? '');
    const valid =
      route.csrf === 'login'
        ? state.loginForms.redeem(ctx.cookies.get(LOGIN_COOKIE), sent, ctx.ip)
        : route.csrf === 'session'
          ? tokensEqual(sent, ctx.session?.csrf ?? '')
          : true;
    if (!valid) {
      state.logger.warn({ ip: ctx.ip, path: url.pathname }, 'csrf token refused');
      throw new HttpError(
        403,
        route.csrf === 'login'
          ? 'The login form had expired. Reload the page and try again.'
          : 'This form had expired or came from another site. Go back, reload the page and try again.',
      );
    }
  }
  return route.handler(ctx);
}

function failure(ctx: Ctx, err: unknown): Reply {
  const loggedIn = ctx.session !== null;
  if (err instanceof NoSuchFolder) err = new HttpError(404, 'There is no such folder.');
  if (err instanceof HttpError) {
    if (ctx.url.pathname === '/events' || ctx.url.pathname === '/newer' || ctx.url.pathname === '/contacts') {
      return { kind: 'json', status: err.status, body: { error: err.message } };
    }
    return { kind: 'html', status: err.status, body: errorPage(err.status, err.message, loggedIn) };
  }
  if (err instanceof LoginError) {
    if (err.kind === 'auth' && ctx.session) {
      // The password no longer works (changed elsewhere): this session is over.
      void ctx.state.sessions.destroy(ctx.session.id);
      return { kind: 'redirect', location: '/login?expired=1', cookies: [sessionCookie(ctx, '', 0)] };
    }
    ctx.state.logger.warn({ err: err.message }, 'mail server unavailable');
    return { kind: 'html', status: 503, body: errorPage(503, 'The mail server cannot be reached right now. Try again in a moment.', loggedIn) };
  }
  const e = err as Error & { responseText?: string; serverResponseCode?: string };
  ctx.state.logger.error(
    { err: { message: e.message, stack: e.stack, code: e.serverResponseCode }, path: ctx.url.pathname, user: ctx.session?.user },
    'request failed',
  );
  const said = e.responseText ? ` The mail server said: ${e.responseText}` : '';
  return { kind: 'html', status: 500, body: errorPage(500, `That did not work.${said}`, loggedIn) };
}
