/**
 * A real headless Chromium driven by playwright-core. The browser comes from the npm registry:
 * `@sparticuz/chromium` ships a Chromium build inside the package (unpacked into the temporary
 * directory on first use), so the browser tests need no system package. `POSTERN_CHROMIUM` names
 * another binary; Debian's `/usr/bin/chromium` is the fallback when the packaged one cannot start
 * here. playwright gives each launch a fresh --user-data-dir of its own (and removes it on close);
 * each test opens its own browser context (cookies, storage) inside it.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import packaged from '@sparticuz/chromium';
import { isExecutable } from '@postern/testkit';
import { chromium, type Browser } from 'playwright-core';

/** Whether `path` is a Chromium that starts on this machine (its libraries are all present). */
function starts(path: string): boolean {
  if (!isExecutable(path)) return false;
  const r = spawnSync(path, ['--version'], { stdio: 'ignore', timeout: 30_000 });
  return r.status === 0;
}

/** The Chromium to drive, or null when none starts here. */
export async function findChromium(): Promise<string | null> {
  const chosen = process.env['POSTERN_CHROMIUM'];
  if (chosen) return starts(chosen) ? chosen : null;
  // The package unpacks into the temporary directory and reuses what it finds there, so each
  // user gets a directory of their own: another user's /tmp/chromium may be theirs alone (0700).
  const uid = process.getuid?.() ?? 0;
  const own = join(tmpdir(), `postern-chromium-${uid}`);
  const saved = process.env['TMPDIR'];
  try {
    mkdirSync(own, { recursive: true, mode: 0o700 });
    process.env['TMPDIR'] = own;
    const path = await packaged.executablePath();
    if (starts(path)) return path;
  } catch {
    /* the package could not unpack its browser: try the system's */
  } finally {
    if (saved === undefined) delete process.env['TMPDIR'];
    else process.env['TMPDIR'] = saved;
  }
  return starts('/usr/bin/chromium') ? '/usr/bin/chromium' : null;
}

export interface RunningBrowser {
  browser: Browser;
  close(): Promise<void>;
}

export async function launchChromium(executablePath: string): Promise<RunningBrowser> {
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    // Our own flags, never the package's Lambda defaults (they turn off web security, which the
    // CSRF and cross-site tests depend on). Without the background-networking flags Chromium
    // keeps trying hosts this machine cannot reach.
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--no-zygote',
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
