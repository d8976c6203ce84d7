/**
 * `[OVERQUOTA]` (RFC 5530 §3) on APPEND and COPY once a user's quota would be exceeded: the
 * configured default (`limits.mailbox_quota`) and a per-user quota set with Accounts.setQuota.
 * A refused command stores nothing (MULTIAPPEND included); MOVE between one user's mailboxes
 * does not grow the usage and is not refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Talk } from '@postern/testkit';
import { createFixture, flow, login, message, type Fixture } from './__tests__/fixture.js';
import type { ImapServer } from './index.js';

const ALICE = 'alice@example.test';
const BOB = 'bob@example.test';
/** The configured default quota: a few small messages. */
const QUOTA = 2_000;

let fx: Fixture;
let server: ImapServer;

const last = (lines: string[]): string => lines[lines.length - 1] as string;
/** A message of exactly `size` bytes. */
const sized = (n: number, size: number): string => {
  const m = message(n);
  return m + 'x'.repeat(Math.max(0, size - m.length - 2)) + '\r\n';
};

async function append(c: Talk, tag: string, mailbox: string, ...messages: string[]): Promise<string> {
  const literals = messages.map((m) => `{${Buffer.byteLength(m)}+}\r\n${m}`).join(' ');
  return last(await c.imap(`${tag} APPEND ${mailbox} ${literals}`, tag));
}

async function status(c: Talk, tag: string, mailbox: string): Promise<string> {
  return (await c.imap(`${tag} STATUS ${mailbox} (MESSAGES SIZE)`, tag))[0] as string;
}

beforeAll(async () => {
  fx = await createFixture([ALICE, BOB], { profile: 'development', limits: { mailbox_quota: QUOTA } });
  server = await fx.start();
});

afterAll(async () => {
  await fx.cleanup();
});

describe('[OVERQUOTA]', () => {
  it('refuses an APPEND over the configured quota, and stores nothing of a MULTIAPPEND', async () => {
    const c = await login(server.port, ALICE);
    expect(await append(c, 'a1', 'INBOX', sized(1, 800))).toMatch(/^a1 OK \[APPENDUID \d+ 1\]/);
    expect(await append(c, 'a2', 'INBOX', sized(2, 800))).toMatch(/^a2 OK \[APPENDUID \d+ 2\]/);
    // 1,600 of 2,000 bytes used: 500 more do not fit.
    expect(await append(c, 'a3', 'INBOX', sized(3, 500))).toBe('a3 NO [OVERQUOTA] quota exceeded');
    // RFC 3502: all or nothing; the second of these would not fit.
    expect(await append(c, 'a4', 'Sent', sized(4, 300), sized(5, 300))).toBe('a4 NO [OVERQUOTA] quota exceeded');
    expect(await status(c, 's1', 'INBOX')).toBe('* STATUS INBOX (MESSAGES 2 SIZE 1600)');
    expect(await status(c, 's2', 'Sent')).toBe('* STATUS Sent (MESSAGES 0 SIZE 0)');
    // What still fits is taken.
    expect(await append(c, 'a5', 'Sent', sized(6, 300))).toMatch(/^a5 OK \[APPENDUID/);
    c.close();
  });

  it('refuses a COPY that would exceed the quota, copies nothing, and lets MOVE through', async () => {
    const c = await login(server.port, ALICE);
    await c.imap('s SELECT INBOX');
    expect(last(await c.imap('c1 COPY 1:2 Archive'))).toBe('c1 NO [OVERQUOTA] quota exceeded');
    expect(last(await c.imap('c2 UID COPY 1 Archive'))).toBe('c2 NO [OVERQUOTA] quota exceeded');
    expect(await status(c, 's1', 'Archive')).toBe('* STATUS Archive (MESSAGES 0 SIZE 0)');
    // MOVE within the user's own mailboxes does not grow the usage.
    expect(last(await c.imap('m1 MOVE 1 Archive'))).toMatch(/^m1 OK/);
    expect(await status(c, 's2', 'Archive')).toBe('* STATUS Archive (MESSAGES 1 SIZE 800)');
    c.close();
  });

  it('applies a per-user quota set with Accounts.setQuota, over the default; imapflow sees the code', async () => {
    fx.mail.accounts.setQuota(BOB, 500);
    const c = await login(server.port, BOB);
    expect(await append(c, 'a1', 'INBOX', sized(1, 600))).toBe('a1 NO [OVERQUOTA] quota exceeded');
    expect(await append(c, 'a2', 'INBOX', sized(2, 400))).toMatch(/^a2 OK/);
    c.close();
    const client = await flow(server.port, BOB);
    try {
      const err = await client.append('INBOX', sized(3, 200)).then(
        () => null,
        (e: unknown) => e as { serverResponseCode?: string },
      );
      expect(err?.serverResponseCode).toBe('OVERQUOTA');
      // Raising the quota lets the same message in.
      fx.mail.accounts.setQuota(BOB, 10_000);
      expect(await client.append('INBOX', sized(3, 200))).toMatchObject({ uid: 2 });
    } finally {
      await client.logout().catch(() => undefined);
    }
  });
});
