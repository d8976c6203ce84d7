/**
 * A login the IMAP server turns away for now is not a wrong password. With the user at their
 * IMAP connection limit (NO [LIMIT], RFC 5530) the webmail says what the server said, counts no
 * failure (so it never locks the user out for it), and lets them in once a connection is free;
 * a wrong password is still "wrong email address or password".
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withImap, type Backend } from './lib/backend.js';
import { posternBackend } from './lib/postern.js';

let b: Backend;

beforeAll(async () => {
  b = await posternBackend({ limits: { imap_connections_per_user: 1 } });
});

afterAll(async () => {
  await b?.close();
});

/** POSTs the login form as a browser would (its CSRF cookie and token); status and page text. */
async function login(password: string): Promise<{ status: number; text: string; location: string | null }> {
  const page = await fetch(`${b.url}/login`);
  const token = /name="_csrf" value="([^"]+)"/.exec(await page.text())![1]!;
  const cookie = page.headers.get('set-cookie')!.split(';')[0]!; // postern_login: the form's id
  const r = await fetch(`${b.url}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie, origin: b.url },
    body: new URLSearchParams({ _csrf: token, user: b.me.address, password }),
  });
  return { status: r.status, text: await r.text(), location: r.headers.get('location') };
}

describe('a login the mail server refuses for now', () => {
  it('says why, counts no failure, and lets the user in once a connection is free', async () => {
    await withImap(b, b.me, async () => {
      // more refusals than the webmail's lockout allows (max_failures_per_account = 3)
      for (let i = 0; i < 4; i++) {
        const r = await login(b.me.password);
        expect(r.status).toBe(503);
        expect(r.text).toContain('does not let you in right now (too many connections for this user)');
        expect(r.text).not.toContain('Wrong email address or password');
      }
      // the credentials are still checked first
      expect((await login('not-the-password')).text).toContain('Wrong email address or password');
    });
    const ok = await login(b.me.password);
    expect(ok.status).toBe(303);
    expect(ok.location).toMatch(/^\/list/);
  });
});
