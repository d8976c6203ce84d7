/**
 * SEARCH TEXT/BODY as substrings (RFC 9051 §6.4.4) through the trigram index: inside words,
 * across words in order, case and diacritics folded, on decoded text; BODY leaves the header
 * out; contents stored before the index existed answer by word until the background catch-up
 * has indexed them, then by substring.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@postern/core';
import { createFixture, login, type Fixture, type RawClient } from './__tests__/fixture.js';
import type { ImapServer } from './index.js';
import { startTrigramBackfill } from './search-backfill.js';

const ALICE = 'alice@example.test';

let fx: Fixture;
let server: ImapServer;
let c: RawClient;

const msg = (subject: string, body: string, extra = ''): string =>
  `From: Zoë Müller <zoe@example.org>\r\nTo: alice@example.test\r\nSubject: ${subject}\r\n${extra}\r\n${body}\r\n`;

let n = 0;
async function search(criteria: string): Promise<number[]> {
  const tag = `q${++n}`;
  const lines = await c.cmd(`${tag} UID SEARCH ${criteria}`, tag);
  expect(lines.at(-1)).toBe(`${tag} OK UID SEARCH completed`);
  const found = lines.find((l) => l.startsWith('* SEARCH'));
  return (found ?? '* SEARCH').slice(8).trim().split(' ').filter(Boolean).map(Number);
}

beforeAll(async () => {
  fx = await createFixture([ALICE]);
  fx.deliver(ALICE, msg('Greetings', 'Hello world, the café is open.')); // uid 1
  fx.deliver(ALICE, msg('Invoice 2024-001', 'Please find the INVOICE attached.')); // 2
  fx.deliver(ALICE, msg('Quote', 'Nothing here, say "hi" to them.')); // 3
  fx.deliver(ALICE, msg('Encoded', 'caf=C3=A9 cr=C3=A8me br=C3=BBl=\r\n=C3=A9e', 'Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n')); // 4
  server = await fx.start();
  c = await login(server.port, ALICE);
  await c.cmd('s SELECT INBOX');
});

afterAll(async () => {
  c.destroy();
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

  it('answers by word for contents stored before the index, then by substring once caught up', async () => {
    const db = fx.mail.db;
    const contentOf = (uid: number): number => db.prepare("SELECT content_id FROM messages WHERE uid = ? AND mailbox_id = (SELECT id FROM mailboxes WHERE name = 'INBOX')").pluck().get(uid) as number;
    const id = contentOf(1);
    // As migration 3 leaves a database that had mail: no trigram row, listed as pending.
    db.prepare('DELETE FROM content_trigram WHERE rowid = ?').run(id);
    db.prepare('INSERT INTO content_trigram_pending (content_id) VALUES (?)').run(id);
    expect(await search('BODY "hello"')).toEqual([1]);
    expect(await search('BODY "ell"')).toEqual([]);
    startTrigramBackfill(fx.mail.store, createLogger('backfill-test', 'silent'));
    const until = Date.now() + 5000;
    while ((db.prepare('SELECT count(*) FROM content_trigram_pending').pluck().get() as number) > 0 && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(await search('BODY "ell"')).toEqual([1]);
    expect(await search('TEXT "CAFE"')).toEqual([1, 4]);
  });
});
