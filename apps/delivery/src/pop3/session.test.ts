/**
 * The command loop fuzzed: any sequence of lines gets `+OK`/`-ERR`/a continuation, never an
 * exception, and the store changes only at QUIT.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, LoginThrottle } from '@postern/core';
import { createFixture, PASSWORD, type Fixture } from './__tests__/fixture.js';
import { statusLine } from './reply.js';
import { MaildropLocks, Pop3Session } from './session.js';

const USER = 'fuzz@example.test';
let fx: Fixture;

beforeAll(async () => {
  fx = await createFixture([USER]);
  for (let i = 0; i < 4; i++) await fx.deliver(USER, `Subject: ${i}\r\n\r\n.body ${i}\r\n`);
});

afterAll(async () => {
  await fx.cleanup();
});

function session(): Pop3Session {
  return new Pop3Session({
    accounts: fx.mail.accounts,
    store: fx.mail.store,
    throttle: new LoginThrottle({ maxFailuresPerIp: 1e9, maxFailuresPerAccount: 1e9, lockoutMs: 1, failureDelayMs: 0 }),
    locks: new MaildropLocks(),
    logger: createLogger('pop3-fuzz', 'silent'),
    remoteAddress: '127.0.0.1',
    plaintextLoginAllowed: true,
    tls: false,
    sleep: async () => undefined,
  });
}

const line = fc.oneof(
  fc.constantFrom('STAT', 'LIST', 'UIDL', 'NOOP', 'RSET', 'CAPA', 'AUTH', 'AUTH PLAIN', '*', '=', 'STLS', 'PASS x', 'USER'),
  fc
    .tuple(fc.constantFrom('RETR', 'DELE', 'LIST', 'UIDL', 'TOP'), fc.integer({ min: -1, max: 6 }), fc.option(fc.nat(3)))
    .map(([v, n, m]) => `${v} ${n}${m === null ? '' : ` ${m}`}`),
  fc.string({ maxLength: 40 }),
);

describe('Pop3Session under random input', () => {
  it('answers every line and deletes nothing without QUIT', async () => {
    const before = await fx.inboxUids(USER);
    await fc.assert(
      fc.asyncProperty(fc.boolean(), fc.array(line, { maxLength: 30 }), async (loggedIn, lines) => {
        const s = session();
        if (loggedIn) {
          await s.handleLine(`USER ${USER}`);
          expect(statusLine((await s.handleLine(`PASS ${PASSWORD}`)).reply)).toMatch(/^\+OK/);
        }
        for (const l of lines) {
          const out = await s.handleLine(l);
          expect(statusLine(out.reply)).toMatch(/^(\+OK|-ERR|\+ )/);
          if (out.reply.kind === 'message') for (const _ of out.reply.chunks) void _;
          if (out.after === 'close') break;
        }
        s.close();
        expect(await fx.inboxUids(USER)).toEqual(before);
      }),
      { numRuns: 60 },
    );
  });
});
