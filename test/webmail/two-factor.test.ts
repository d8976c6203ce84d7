/// <reference lib="dom" />
/**
 * Two-factor login and app passwords in the webmail (issue 23), in a real headless Chromium
 * against a complete Postern instance: a user turns on TOTP (RFC 6238) by scanning the QR code
 * (here: reading the key shown beside it) and proving it with a generated code after a wrong one,
 * gets recovery codes once; from then on the password alone no longer logs IMAP in, the webmail
 * asks for a code after the password (a wrong code is refused and counted by the throttle, a
 * generated one and a recovery code let in, each once); an app password made on the settings
 * page logs imapflow in and stops when revoked; the last logins are listed.
 */
import { ImapFlow } from 'imapflow';
import { generateSync } from 'otplib';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { requirement } from '@postern/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from './lib/backend.js';
import { findChromium, launchChromium, type RunningBrowser } from './lib/browser.js';
import { login } from './lib/pages.js';
import { posternBackend } from './lib/postern.js';

const chromiumPath = await findChromium();
const chromiumMissing = requirement('webmail in a browser', [
  { what: 'a Chromium that starts here', ok: chromiumPath !== null, install: 'npm ci (installs @sparticuz/chromium), or apt-get install chromium' },
]);

describe.skipIf(chromiumMissing)('two-factor login in the webmail', () => {
  let b: Backend;
  let chromium: RunningBrowser;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let secret = '';
  let recovery: string[] = [];

  beforeAll(async () => {
    [b, chromium] = await Promise.all([posternBackend(), launchChromium(chromiumPath!)]);
    browser = chromium.browser;
    context = await browser.newContext();
    page = await context.newPage();
  });
  afterAll(async () => {
    await chromium?.close();
    await b?.close();
  });

  async function imapLogin(pass: string): Promise<boolean> {
    const c = new ImapFlow({
      host: b.imap.host,
      port: b.imap.port,
      secure: false,
      auth: { user: b.me.address, pass },
      logger: false,
      tls: { rejectUnauthorized: false },
    });
    try {
      await c.connect();
      await c.logout();
      return true;
    } catch (err) {
      if ((err as { authenticationFailed?: boolean }).authenticationFailed) return false;
      throw err;
    }
  }

  /** The code of the next time step: the one just used is refused again (RFC 6238 §5.2), a step ahead is within the drift allowed. */
  const nextCode = (): string => generateSync({ secret, epoch: Math.floor(Date.now() / 1000) + 30 });

  async function passwordStep(p: Page): Promise<void> {
    await p.goto(`${b.url}/login`);
    await p.fill('input[name="user"]', b.me.address);
    await p.fill('input[name="password"]', b.me.password);
    await Promise.all([p.waitForURL(/\/login$/), p.click('button[type="submit"]')]);
    await p.waitForSelector('input[name="code"]');
  }

  it('enrols with the QR code after a wrong code, and shows recovery codes once', async () => {
    await login(page, b.url, b.me);
    await Promise.all([page.waitForURL(/\/settings$/), page.click('#settings-link')]);
    expect(await page.locator('#two-factor-status').textContent()).toContain('off');
    await page.click('#two-factor-begin');
    const qr = await page.locator('#totp-qr').getAttribute('src');
    expect(qr).toMatch(/^data:image\/png;base64,/);
    secret = ((await page.locator('#totp-secret').textContent()) ?? '').replace(/\s/g, '');
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    await page.fill('#code', '000000');
    await page.click('button[type="submit"].primary');
    await expect.poll(() => page.locator('.flash.error').textContent()).toContain('not right');
    // the same key is shown again: no need to scan anew
    expect(((await page.locator('#totp-secret').textContent()) ?? '').replace(/\s/g, '')).toBe(secret);
    await page.fill('#code', generateSync({ secret }));
    await page.click('button[type="submit"].primary');
    await page.waitForSelector('#secrets');
    recovery = await page.locator('#secrets code').allTextContents();
    expect(recovery).toHaveLength(10);
    await page.goto(`${b.url}/settings`);
    expect(await page.locator('#two-factor-status').textContent()).toContain('on');
    expect(await page.content()).not.toContain(recovery[0]!);
  });

  it('no longer lets IMAP in with the password alone', async () => {
    expect(await imapLogin(b.me.password)).toBe(false);
  });

  it('asks for a code after the password: a wrong one is refused, a generated one lets in once', async () => {
    const ctx = await browser.newContext();
    const p = await ctx.newPage();
    await passwordStep(p);
    expect((await ctx.cookies()).some((c) => c.name === 'postern_session')).toBe(false);
    await p.fill('input[name="code"]', '123456');
    await p.click('button[type="submit"]');
    await expect.poll(() => p.locator('#login-error').textContent()).toContain('not right');
    expect((await ctx.cookies()).some((c) => c.name === 'postern_session')).toBe(false);
    const code = nextCode();
    await p.fill('input[name="code"]', code);
    await Promise.all([p.waitForURL(/\/list\?f=INBOX/), p.click('button[type="submit"]')]);
    // the mailbox is read over IMAP with the session's own credential
    await p.waitForSelector('#folders');
    await ctx.close();

    const again = await browser.newContext();
    const q = await again.newPage();
    await passwordStep(q);
    await q.fill('input[name="code"]', code);
    await q.click('button[type="submit"]');
    await expect.poll(() => q.locator('#login-error').textContent()).toContain('not right');
    // a recovery code instead, once
    await q.fill('input[name="code"]', recovery[0]!);
    await Promise.all([q.waitForURL(/\/list\?f=INBOX/), q.click('button[type="submit"]')]);
    await again.close();
  });

  it('a code form cannot be replayed without the password step, nor from a forged form', async () => {
    const r = await page.request.post(`${b.url}/login/code`, { form: { _csrf: 'forged', code: nextCode() }, maxRedirects: 0 });
    expect(r.status()).toBe(403);
  });

  it('makes an app password shown once, which logs imapflow in until revoked', async () => {
    await page.goto(`${b.url}/settings`);
    await page.fill('#new-app-password input[name="name"]', 'phone');
    await page.check('#new-app-password input[value="imap"]');
    await page.click('#new-app-password button[type="submit"]');
    const shown = ((await page.locator('#secrets code').textContent()) ?? '').trim();
    expect(shown).toMatch(/^[a-z]{4} [a-z]{4} [a-z]{4} [a-z]{4}$/);
    expect(await imapLogin(shown)).toBe(true);
    await page.goto(`${b.url}/settings`);
    expect(await page.locator('#app-passwords').textContent()).toContain('phone');
    expect(await page.content()).not.toContain(shown);
    await page.click('#app-passwords button[type="submit"]');
    await page.waitForSelector('#no-app-passwords');
    expect(await imapLogin(shown)).toBe(false);
    // the last logins: the webmail's and the app password's IMAP login, from loopback
    const logins = (await page.locator('#last-logins').textContent()) ?? '';
    expect(logins).toContain('Webmail');
    expect(logins).toContain('IMAP');
  });

  it('turns off with the password, and the password works for IMAP again', async () => {
    await page.goto(`${b.url}/settings`);
    await page.fill('input[name="password"]', b.me.password);
    await page.click('form[action="/settings/two-factor/off"] button');
    await page.waitForSelector('#two-factor-begin');
    expect(await imapLogin(b.me.password)).toBe(true);
  });
});
