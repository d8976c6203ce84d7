/**
 * The guards every request passes before a handler runs, over real HTTP: no session, an ended
 * session, a forged CSRF token, a write from another site, the login form's own token, and the
 * headers every page carries. (The IMAP endpoint points nowhere: no handler gets that far.)
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configFromObject, createLogger } from '@postern/core';
import { imapEndpoint, smtpEndpoint } from './endpoints.js';
import type { MailAccount } from './mail/account.js';
import { authRoutes } from './routes/auth.js';
import { mailboxRoutes } from './routes/mailbox.js';
import { createHandler, SESSION_COOKIE } from './server.js';
import { LoginForms, PendingLogins, SessionStore } from './session.js';
import { UserResources, type WebmailState } from './state.js';

const config = configFromObject(
  { hostname: 'mail.example.test', profile: 'development', listen: { webmail: '127.0.0.1:0' }, webmail: { imap: '127.0.0.1:1', smtp: '127.0.0.1:1' } },
  '/tmp/postern-webmail-test.toml',
);
const sessions = new SessionStore<UserResources>(60_000);
const state: WebmailState = {
  config,
  logger: createLogger('webmail', 'silent'),
  sessions,
  loginForms: new LoginForms(),
  imap: imapEndpoint(config),
  smtp: smtpEndpoint(config),
  local: null,
  pendingLogins: new PendingLogins(),
};
// Never used: every request below is refused before a handler would touch the mailbox.
const account = { close: async (): Promise<void> => undefined } as unknown as MailAccount;
let server: Server;
let base = '';

beforeAll(async () => {
  server = createServer(createHandler(state, [...authRoutes, ...mailboxRoutes]));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await sessions.closeAll();
  await new Promise<void>((r) => server.close(() => r()));
});

const form = (fields: Record<string, string>): URLSearchParams => new URLSearchParams(fields);

describe('webmail request guards', () => {
  it('sends a visitor without a session to the login page', async () => {
    const r = await fetch(`${base}/list?f=INBOX`, { redirect: 'manual' });
    expect(r.status).toBe(303);
    expect(r.headers.get('location')).toBe('/login');
  });

  it('says so when the session has ended, and clears the cookie', async () => {
    const r = await fetch(`${base}/list?f=INBOX`, { redirect: 'manual', headers: { cookie: `${SESSION_COOKIE}=gone` } });
    expect(r.headers.get('location')).toBe('/login?expired=1');
    expect(r.headers.get('set-cookie')).toMatch(/^postern_session=; Path=\/; HttpOnly; SameSite=Strict; Max-Age=0/);
    const api = await fetch(`${base}/newer?f=INBOX&after=1`, { headers: { cookie: `${SESSION_COOKIE}=gone` } });
    expect(api.status).toBe(401);
  });

  it('refuses a write without a session, with a forged token, or from another site', async () => {
    const s = sessions.create('ann@example.test', 'pw', new UserResources(account));
    const cookie = `${SESSION_COOKIE}=${s.id}`;
    const act = (headers: Record<string, string>, token: string): Promise<Response> =>
      fetch(`${base}/act`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body: form({ _csrf: token, f: 'INBOX', uid: '1', op: 'delete' }),
      });
    expect((await act({}, s.csrf)).status).toBe(401);
    const forged = await act({ cookie }, 'forged');
    expect(forged.status).toBe(403);
    expect(await forged.text()).toContain('expired or came from another site');
    expect((await act({ cookie }, '')).status).toBe(403);
    expect((await act({ cookie, 'sec-fetch-site': 'cross-site' }, s.csrf)).status).toBe(403);
    expect((await act({ cookie, 'sec-fetch-site': 'same-site' }, s.csrf)).status).toBe(403);
    expect((await act({ cookie, origin: 'http://evil.test' }, s.csrf)).status).toBe(403);
    await sessions.destroy(s.id);
  });

  it('needs the login form’s own token to log in (login CSRF)', async () => {
    const r = await fetch(`${base}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: 'postern_login=abc' },
      body: form({ _csrf: 'xyz', user: 'ann@example.test', password: 'pw' }),
    });
    expect(r.status).toBe(403);
    const page = await fetch(`${base}/login`);
    const token = /name="_csrf" value="([^"]+)"/.exec(await page.text())?.[1];
    expect(page.headers.get('set-cookie')).toMatch(/^postern_login=[\w-]{43}; Path=\/; HttpOnly; SameSite=Strict$/);
    // the cookie names the form; the token is not in it, and a planted double-submit pair is refused
    expect(page.headers.get('set-cookie')).not.toContain(token);
    const planted = await fetch(`${base}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `postern_login=${token}` },
      body: form({ _csrf: token!, user: 'ann@example.test', password: 'pw' }),
    });
    expect(planted.status).toBe(403);
  });

  it('tells the user in words when the mail server cannot be reached', async () => {
    const page = await fetch(`${base}/login`);
    const token = /name="_csrf" value="([^"]+)"/.exec(await page.text())![1]!;
    const cookie = page.headers.get('set-cookie')!.split(';')[0]!;
    const r = await fetch(`${base}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
      body: form({ _csrf: token, user: 'ann@example.test', password: 'pw' }),
    });
    expect(r.status).toBe(503);
    expect(await r.text()).toContain('cannot be reached');
  });

  it('serves pages with a strict CSP, no framing and no sniffing', async () => {
    const r = await fetch(`${base}/login`);
    expect(r.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(r.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(r.headers.get('x-frame-options')).toBe('DENY');
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    expect(r.headers.get('cache-control')).toBe('no-store');
  });

  it('answers unknown pages and wrong methods', async () => {
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    expect((await fetch(`${base}/act`)).status).toBe(405);
  });

  it('refuses a body larger than a form may be', async () => {
    const s = sessions.create('ann@example.test', 'pw', new UserResources(account));
    const r = await fetch(`${base}/act`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `${SESSION_COOKIE}=${s.id}` },
      body: `_csrf=${s.csrf}&pad=${'x'.repeat(300 * 1024)}`,
    });
    expect(r.status).toBe(413);
    await sessions.destroy(s.id);
  });
});
