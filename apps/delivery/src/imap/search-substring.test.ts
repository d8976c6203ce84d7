/**
 * SEARCH TEXT/BODY as substrings (RFC 9051 §6.4.4) through the trigram index: inside words,
 * across words in order, case and diacritics folded, on decoded text; BODY leaves the header
 * out. Delivery leaves the substrings pending: SEARCH indexes its mailbox's pending contents
 * first, and the background indexer catches up once the store is quiet.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@postern/core';
import type { Talk } from '@postern/testkit';
import { createFixture, login, type Fixture } from './__tests__/fixture.js';
import type { ImapServer } from './index.js';

const ALICE = 'alice@example.test';

let fx: Fixture;
let server: ImapServer;
let c: Talk;

const msg = (subject: string, body: string, extra = ''): string =>
  `From: Zoë Müller <zoe@example.org>\r\nTo: alice@example.test\r\nSubject: ${subject}\r\n${extra}\r\n${body}\r\n`;

let n = 0;
async function search(criteria: string): Promise<number[]> {
  const tag = `q${++n}`;
  const lines = await c.imap(`${tag} UID SEARCH ${criteria}`, tag);
  expect(lines.at(-1)).toBe(`${tag} OK UID SEARCH completed`);
  const found = lines.find((l) => l.startsWith('* SEARCH'));
  return (found ?? '* SEARCH').slice(8).trim().split(' ').filter(Boolean).map(Number);
}

beforeAll(async () => {
  fx = await createFixture([ALICE]);
  await fx.deliver(ALICE, msg('Greetings', 'Hello world, the café is open.')); // uid 1
  await fx.deliver(ALICE, msg('Invoice 2024-001', 'Please find the INVOICE attached.')); // 2
  await fx.deliver(ALICE, msg('Quote', 'Nothing here, say "hi" to them.')); // 3
  await fx.deliver(
    ALICE,
    msg('Encoded', 'caf=C3=A9 cr=C3=A8me br=C3=BBl=\r\n=C3=A9e', 'Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n'),
  ); // 4
  server = await fx.start();
  c = await login(server.port, ALICE);
  await c.imap('s SELECT INBOX');
});

afterAll(async () => {
  c.close();
  await fx.cleanup();
});

describe('SEARCH TEXT/BODY substrings', () => {
  it('finds strings inside words and across words, in order only', async () => {
    expect(await search('TEXT "ell"')).toEqual([1]);
    expect(await search('BODY "lo wo"')).toEqual([1]);
    expect(await search('BODY "world hello"')).toEqual([]);
    expect(await search('BODY "nvoic"')).toEqual([2]);
  });

  it('folds case and diacritics, and searches decoded text', async () => {
    expect(await search('TEXT "CAFE"')).toEqual([1, 4]);
    expect(await search('CHARSET UTF-8 TEXT "crème brûlée"')).toEqual([4]);
    expect(await search('TEXT "muller"')).toEqual([1, 2, 3, 4]);
  });

  it('keeps the header out of BODY, and quotes what the client quoted', async () => {
    expect(await search('TEXT "eeting"')).toEqual([1]);
    expect(await search('BODY "eeting"')).toEqual([]);
    expect(await search('BODY "say \\"hi\\" to"')).toEqual([3]);
    expect(await search('TEXT ""')).toEqual([1, 2, 3, 4]);
    // Under three characters: header columns as substrings, body words by prefix.
    expect(await search('TEXT "oi"')).toEqual([2]);
    expect(await search('BODY "wo"')).toEqual([1]);
  });

  it('indexes the pending contents of the mailbox before a substring search, and no others', async () => {
    const store = fx.mail.store;
    const inbox = (await store.mailbox(fx.userId(ALICE), 'INBOX'))!.id;
    // The searches above indexed INBOX; delivery leaves the substrings of new mail pending.
    expect(await store.substringBacklog()).toBe(0);
    const other = (await store.createMailbox(fx.userId(ALICE), 'Other')).id;
    expect(await fx.deliver(ALICE, msg('Fresh', 'A freshly baked loaf.'))).toBe(5);
    await fx.deliver(ALICE, msg('Kept', 'The hidden treasure.'), 'Other');
    const backlog = async (): Promise<number[]> => [await store.substringBacklog(inbox), await store.substringBacklog(other)];
    expect(await backlog()).toEqual([1, 1]);
    await c.imap('n NOOP');
    // Under three characters the word index answers: nothing is indexed.
    expect(await search('BODY "lo"')).toEqual([5]);
    expect(await backlog()).toEqual([1, 1]);
    expect(await search('BODY "eshly bak"')).toEqual([5]);
    expect(await backlog()).toEqual([0, 1]);
    await c.imap('o SELECT Other');
    expect(await search('TEXT "hidden treas"')).toEqual([1]);
    expect(await backlog()).toEqual([0, 0]);
    await c.imap('s SELECT INBOX');
  });

  it('catches up in the background once the store is quiet', async () => {
    const store = fx.mail.store;
    const stop = store.startSubstringIndexing({ logger: createLogger('indexer-test', 'silent'), quietMs: 50 });
    try {
      await fx.deliver(ALICE, msg('Later', 'A postscript arrives.')); // 6
      expect(await store.substringBacklog()).toBe(1);
      const until = Date.now() + 10_000;
      while ((await store.substringBacklog()) > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
      expect(await store.substringBacklog()).toBe(0);
      await c.imap('p NOOP');
      expect(await search('BODY "ostscrip"')).toEqual([6]);
    } finally {
      stop();
    }
  });

  it('under changes that never pause, still indexes a batch once it has waited long enough', async () => {
    const store = fx.mail.store;
    const inbox = (await store.mailbox(fx.userId(ALICE), 'INBOX'))!.id;
    // Never quiet for 10 minutes, but a batch at least every 100 ms.
    const stop = store.startSubstringIndexing({ logger: createLogger('indexer-test', 'silent'), quietMs: 600_000, maxDeferMs: 100 });
    let on = false;
    // a commit every 10 ms (a keyword toggled on message 1)
    const busy = setInterval(() => {
      on = !on;
      void store.setFlags(inbox, [1], on ? 'add' : 'remove', ['$busy']);
    }, 10);
    try {
      await fx.deliver(ALICE, msg('Steady', 'Traffic never stops.')); // 7
      expect(await store.substringBacklog()).toBe(1);
      const until = Date.now() + 10_000;
      while ((await store.substringBacklog()) > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
      expect(await store.substringBacklog()).toBe(0);
    } finally {
      clearInterval(busy);
      stop();
    }
  });
});
