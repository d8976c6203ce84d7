/**
 * IDLE fed by real deliveries (RFC 2177; issue: "IDLE wakes within a second of a delivery made by
 * the delivery agent or by another session"): an imapflow client idling on INBOX sees EXISTS
 * when a message comes in through the LMTP server of the same process (the store tells its
 * subscribers at once), and when another process opens the same mail.db and delivers through
 * the store (noticed by the store within its poll interval, however it notices).
 * The latency is printed; the assertion is the bound of one second.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createTransport } from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImapFlow } from 'imapflow';
import { createLogger } from '@postern/core';
import { startLmtpServer, type LmtpServer } from '../lmtp.js';
import { createFixture, flow, message, type Fixture } from './__tests__/fixture.js';
import type { ImapServer } from './index.js';

const ALICE = 'alice@example.test';
/** How long to wait before calling it a failure outright (the bound asserted is tighter). */
const WAIT_MS = 10_000;

let fx: Fixture;
let imap: ImapServer;
let lmtp: LmtpServer;

beforeAll(async () => {
  fx = await createFixture([ALICE]);
  await fx.deliver(ALICE, message(1));
  imap = await fx.start();
  lmtp = await startLmtpServer({
    config: fx.config,
    accounts: fx.mail.accounts,
    store: fx.mail.store,
    logger: createLogger('lmtp-test', 'silent'),
    listen: '127.0.0.1:0',
  });
});

afterAll(async () => {
  await lmtp.close();
  await fx.cleanup();
});

/** Opens INBOX, enters IDLE, and resolves once the server has accepted it. */
async function idling(): Promise<ImapFlow> {
  const client = await flow(imap.port, ALICE);
  await client.mailboxOpen('INBOX');
  void client.idle();
  const until = Date.now() + WAIT_MS;
  while (!client.idling && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
  // The flag is set as IDLE is sent; a NOOP-free moment lets the `+ idling` arrive.
  await new Promise((r) => setTimeout(r, 50));
  return client;
}

function nextExists(client: ImapFlow): Promise<{ count: number; at: number }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no EXISTS within ${WAIT_MS} ms`)), WAIT_MS);
    client.once('exists', (d: { count: number }) => {
      clearTimeout(timer);
      resolve({ count: d.count, at: Date.now() });
    });
  });
}

describe('IDLE and deliveries', () => {
  it('sees EXISTS for a message delivered through the LMTP server of the same process', async () => {
    const client = await idling();
    try {
      const before = client.mailbox ? client.mailbox.exists : 0;
      const exists = nextExists(client);
      const lmtpClient = createTransport({ host: '127.0.0.1', port: lmtp.port, lmtp: true, secure: false, ignoreTLS: true });
      const info = await lmtpClient.sendMail({ envelope: { from: 'carol@example.org', to: [ALICE] }, raw: message(2) });
      const acknowledged = Date.now();
      expect(info.accepted).toEqual([ALICE]);
      const seen = await exists;
      const latency = seen.at - acknowledged;
      console.log(`[idle] LMTP delivery -> EXISTS in ${Math.max(0, latency)} ms (after the 250)`);
      expect(seen.count).toBe(before + 1);
      expect(latency).toBeLessThan(1000);
      lmtpClient.close();
    } finally {
      await client.logout().catch(() => undefined);
    }
  });

  it('sees EXISTS for a message delivered by another process on the same mail.db', async () => {
    const script = fileURLToPath(new URL('./__tests__/deliver-child.mjs', import.meta.url));
    const child: ChildProcess = fork(script, [fx.dir, ALICE], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const reply = <T>(key: string): Promise<T> =>
      new Promise((resolve) => {
        const on = (m: Record<string, unknown>): void => {
          if (!(key in m)) return;
          child.off('message', on);
          resolve(m[key] as T);
        };
        child.on('message', on);
      });
    await reply('ready');
    const client = await idling();
    try {
      for (let round = 0; round < 2; round++) {
        const before = client.mailbox ? client.mailbox.exists : 0;
        const exists = nextExists(client);
        const committed = reply<number>('committed');
        child.send('deliver');
        const at = await committed;
        const seen = await exists;
        const latency = seen.at - at;
        console.log(`[idle] delivery by another process -> EXISTS in ${Math.max(0, latency)} ms (after its COMMIT)`);
        expect(seen.count).toBe(before + 1);
        expect(latency).toBeLessThan(1000);
      }
    } finally {
      await client.logout().catch(() => undefined);
      child.send('stop');
      await new Promise((r) => child.once('exit', r));
    }
  });
});
