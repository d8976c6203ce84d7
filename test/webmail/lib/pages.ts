/// <reference lib="dom" />
/** What a person does in the webmail, as playwright steps. */
import type { Locator, Page } from 'playwright-core';
import type { User } from './backend.js';

export async function login(page: Page, url: string, user: User): Promise<void> {
  await page.goto(`${url}/login`);
  await page.fill('input[name="user"]', user.address);
  await page.fill('input[name="password"]', user.password);
  await Promise.all([page.waitForURL(/\/list\?f=INBOX/), page.click('button[type="submit"]')]);
}

/** Waits until the page's event stream (IMAP IDLE behind it) is open. */
export async function waitLive(page: Page): Promise<void> {
  await page.waitForFunction(() => document.body.dataset['live'] === 'ready', null, { timeout: 20_000 });
}

/** The row of the message with this subject in the list shown. */
export function row(page: Page, subject: string): Locator {
  const exact = new RegExp(`^${subject.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
  return page.locator('#messages tbody tr', { has: page.locator('td.subject a', { hasText: exact }) });
}

export async function openMessage(page: Page, subject: string): Promise<void> {
  await Promise.all([page.waitForURL(/\/read\?/), row(page, subject).first().locator('td.subject a').click()]);
}

export interface Compose {
  to: string;
  cc?: string;
  subject: string;
  body: string;
  files?: Array<{ name: string; mimeType: string; buffer: Buffer }>;
}

export async function fillCompose(page: Page, c: Compose): Promise<void> {
  await page.fill('#to', c.to);
  if (c.cc) await page.fill('#cc', c.cc);
  await page.fill('#subject-input', c.subject);
  await page.fill('#body', c.body);
  if (c.files) await page.setInputFiles('#attach', c.files);
}

export interface Dialogs {
  /** Messages of the dialogs that were dismissed: a script of the message ran. */
  seen: string[];
  /** Accept our own confirm() (Empty Trash) instead of recording it. */
  acceptConfirm: boolean;
}

/** Records every dialog (alert/confirm/prompt) a page opens. */
export function recordDialogs(page: Page): Dialogs {
  const state: Dialogs = { seen: [], acceptConfirm: false };
  page.on('dialog', (d) => {
    if (d.type() === 'confirm' && state.acceptConfirm) return void d.accept();
    state.seen.push(d.message());
    void d.dismiss();
  });
  return state;
}

/** Runs `action` and waits until it has loaded a new document (even at the same URL). */
export async function navigates(page: Page, action: () => Promise<unknown>): Promise<void> {
  await page.evaluate(() => ((window as unknown as { stay?: number }).stay = 1));
  await action();
  await page.waitForFunction(() => (window as unknown as { stay?: number }).stay === undefined && document.readyState === 'complete', null, {
    timeout: 30_000,
  });
}

/** Saves a screenshot when POSTERN_WEBMAIL_SCREENSHOTS names a directory (for looking, not asserting). */
export async function shot(page: Page, name: string): Promise<void> {
  const dir = process.env['POSTERN_WEBMAIL_SCREENSHOTS'];
  if (dir) await page.screenshot({ path: `${dir}/${name}.png` });
}
