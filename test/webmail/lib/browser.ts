/**
 * A real headless Chromium (Debian's `chromium` package) driven by playwright-core over CDP.
 * playwright gives each launch a fresh --user-data-dir of its own (and removes it on close);
 * each test opens its own browser context (cookies, storage) inside it.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = process.env['POSTERN_CHROMIUM'] ?? '/usr/bin/chromium';

export function chromiumAvailable(): boolean {
  return existsSync(CHROMIUM);
}

export interface RunningBrowser {
  browser: Browser;
  close(): Promise<void>;
}

export async function launchChromium(): Promise<RunningBrowser> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    timeout: 60_000,
  });
  return {
    browser,
    async close(): Promise<void> {
      await browser.close().catch(() => undefined);
    },
  };
}
