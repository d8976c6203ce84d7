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
import { SubstringIndexer } from '../search-index.js';

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
  fx.deliver(ALICE, msg('Greetings', 'Hello world, the café is open.')); // uid 1
  fx.deliver(ALICE, msg('Invoice 2024-001', 'Please find the INVOICE attached.')); // 2
  fx.deliver(ALICE, msg('Quote', 'Nothing here, say "hi" to them.')); // 3
  fx.deliver(
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
    const db = fx.mail.db;
    const pending = (): number[] => db.prepare('SELECT content_id FROM content_trigram_pending ORDER BY 1').pluck().all() as number[];
    const latest = (): number => db.prepare('SELECT max(id) FROM contents').pluck().get() as number;
    // The searches above indexed INBOX; delivery leaves the substrings of new mail pending.
    expect(pending()).toEqual([]);
    fx.mail.store.createMailbox(fx.userId(ALICE), 'Other');
    expect(fx.deliver(ALICE, msg('Fresh', 'A freshly baked loaf.'))).toBe(5);
    const fresh = latest();
    fx.deliver(ALICE, msg('Kept', 'The hidden treasure.'), 'Other');
    const other = latest();
    expect(pending()).toEqual([fresh, other]);
    await c.imap('n NOOP');
    // Under three characters the word index answers: nothing is indexed.
    expect(await search('BODY "lo"')).toEqual([5]);
    expect(pending()).toEqual([fresh, other]);
    expect(await search('BODY "eshly bak"')).toEqual([5]);
    expect(pending()).toEqual([other]);
    await c.imap('o SELECT Other');
    expect(await search('TEXT "hidden treas"')).toEqual([1]);
    expect(pending()).toEqual([]);
    await c.imap('s SELECT INBOX');
  });

  it('catches up in the background once the store is quiet', async () => {
    const db = fx.mail.db;
    const pending = (): number => db.prepare('SELECT count(*) FROM content_trigram_pending').pluck().get() as number;
    const indexer = new SubstringIndexer(fx.mail.store, createLogger('indexer-test', 'silent'), 50).start();
    try {
      fx.deliver(ALICE, msg('Later', 'A postscript arrives.')); // 6
      expect(pending()).toBe(1);
      const until = Date.now() + 10_000;
      while (pending() > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
      expect(pending()).toBe(0);
      const substrings = db.prepare('SELECT count(*) FROM content_trigram WHERE content_trigram MATCH ?').pluck();
      expect(substrings.get('"ostscrip"')).toBe(1);
    } finally {
      indexer.stop();
    }
  });

  it('under changes that never pause, still indexes a batch once it has waited long enough', async () => {
    const db = fx.mail.db;
    const pending = (): number => db.prepare('SELECT count(*) FROM content_trigram_pending').pluck().get() as number;
    // Never quiet for 10 minutes, but a batch at least every 100 ms.
    const indexer = new SubstringIndexer(fx.mail.store, createLogger('indexer-test', 'silent'), 600_000, 100).start();
    const busy = setInterval(() => fx.mail.store.changes.emit('change', 0), 10);
    try {
      fx.deliver(ALICE, msg('Steady', 'Traffic never stops.')); // 7
      expect(pending()).toBe(1);
      const until = Date.now() + 10_000;
      while (pending() > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
      expect(pending()).toBe(0);
    } finally {
      clearInterval(busy);
      indexer.stop();
    }
  });
});
