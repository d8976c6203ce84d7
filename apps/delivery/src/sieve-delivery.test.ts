// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Sieve writes its variables as ${name}
/**
 * Sieve at delivery, through the LMTP server on 127.0.0.1 with nodemailer's LMTP client: each
 * user's active script files, flags, rejects, discards, forwards (queued with SRS and an ARC
 * seal) and answers (vacation, once per sender, never to a list); a failing script keeps the
 * message and tells the user once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTransport } from 'nodemailer';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { configFromObject, createLogger, openMailDb, QueueStore, type Config, type MailDb } from '@postern/core';
import { ensureDomainKeys } from '@postern/trust';
import { inlineIndexer } from './index-pool.js';
import { startLmtpServer, type LmtpServer } from './lmtp.js';
import { SieveDelivery } from './sieve-delivery.js';

const ALICE = 'alice@example.test';
const BOB = 'bob@example.test';
const CAROL = 'carol@example.test';
const quota = { maxScripts: 10, maxScriptSize: 65536 };

let dir: string;
let config: Config;
let mail: MailDb;
let queue: QueueStore;
let lmtp: LmtpServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'postern-sieve-'));
  config = configFromObject({ hostname: 'mail.example.test', data_dir: dir, sieve: { vacation_min_period: '1s' } }, join(dir, 'postern.toml'));
  mail = openMailDb(config);
  mail.accounts.addDomain('example.test');
  ensureDomainKeys(config, 'example.test');
  for (const u of [ALICE, BOB, CAROL]) await mail.accounts.addUser(u, 'correct horse battery');
  queue = QueueStore.open(config);
  const logger = createLogger('sieve-test', 'silent');
  const sieve = new SieveDelivery({ config, logger, scripts: mail.sieve, store: mail.store, accounts: mail.accounts, queue, indexer: inlineIndexer });
  lmtp = await startLmtpServer({ config, accounts: mail.accounts, store: mail.store, logger, listen: '127.0.0.1:0', sieve });
});

afterAll(async () => {
  await lmtp.close();
  queue.close();
  mail.close();
  rmSync(dir, { recursive: true, force: true });
});

const uid = (a: string): number => mail.accounts.findUser(a)!.id;

async function activate(user: string, script: string): Promise<void> {
  await mail.sieve.put(uid(user), 'main', script, quota);
  await mail.sieve.setActive(uid(user), 'main');
}

function msg(headers: Record<string, string>, body = 'Hello there.'): string {
  const h = {
    From: 'Dave <dave@remote.example>',
    To: ALICE,
    Subject: 'hi',
    'Message-ID': `<${Math.random()}@remote.example>`,
    Date: 'Wed, 02 Dec 2026 10:00:00 +0000',
    ...headers,
  };
  return `${Object.entries(h)
    .map(([k, v]) => `${k}: ${v}`)
    .join('\r\n')}\r\n\r\n${body}\r\n`;
}

async function send(to: string[], raw: string, from = 'dave@remote.example'): Promise<{ accepted: string[]; rejected: string[]; response: string }> {
  const client = createTransport({ host: '127.0.0.1', port: lmtp.port, lmtp: true, secure: false, ignoreTLS: true });
  try {
    const info = await client.sendMail({ envelope: { from, to }, raw });
    return { accepted: info.accepted as string[], rejected: info.rejected as string[], response: info.response };
  } catch (err) {
    return { accepted: [], rejected: to, response: String((err as { response?: string }).response ?? err) };
  }
}

/** Subjects and flags of a mailbox's messages, oldest first. */
async function box(user: string, name: string): Promise<Array<{ subject: string; flags: string[] }>> {
  const mb = await mail.store.mailbox(uid(user), name);
  if (!mb) return [];
  return (await mail.store.messages(mb.id)).map((m) => {
    const text = mail.store.read(m).toString();
    return { subject: /^Subject: (.*)$/m.exec(text)?.[1]?.trim() ?? '', flags: m.flags };
  });
}

const queued = () => queue.list();

describe('Sieve at delivery', () => {
  beforeEach(() => {
    for (const e of queue.list()) queue.remove(e.id);
  });

  it('without a script, INBOX as before', async () => {
    expect((await send([CAROL], msg({ To: CAROL, Subject: 'plain' }))).accepted).toEqual([CAROL]);
    expect((await box(CAROL, 'INBOX')).map((m) => m.subject)).toEqual(['plain']);
  });

  it('fileinto with :create and flags, keep, discard', async () => {
    await activate(
      ALICE,
      `require ["fileinto", "mailbox", "imap4flags"];
       if header :contains "subject" "[list]" { fileinto :create :flags "\\\\Seen $List" "Lists/Dev"; stop; }
       if header :contains "subject" "spam" { discard; stop; }
       if header :contains "subject" "both" { fileinto "Archive"; keep; }`,
    );
    await send([ALICE], msg({ Subject: '[list] news' }));
    await send([ALICE], msg({ Subject: 'spam offer' }));
    await send([ALICE], msg({ Subject: 'both places' }));
    await send([ALICE], msg({ Subject: 'normal' }));
    expect(await box(ALICE, 'Lists/Dev')).toEqual([{ subject: '[list] news', flags: ['\\Seen', '$List'] }]);
    expect((await box(ALICE, 'Archive')).map((m) => m.subject)).toEqual(['both places']);
    expect((await box(ALICE, 'INBOX')).map((m) => m.subject)).toEqual(['both places', 'normal']);
  });

  it('reject is a 550 5.7.1 for that recipient only', async () => {
    await activate(BOB, 'require "reject"; if header :contains "subject" "buy" { reject "I do not want this"; }');
    const r = await send([BOB, CAROL], msg({ To: `${BOB}, ${CAROL}`, Subject: 'buy now' }));
    expect(r.accepted).toEqual([CAROL]);
    expect(r.rejected).toEqual([BOB]);
    expect(await box(BOB, 'INBOX')).toEqual([]);
  });

  it('redirect to an outside address: queued with SRS and an ARC seal; :copy keeps a copy; local targets unchanged', async () => {
    await activate(
      BOB,
      'require ["copy"]; if header :contains "subject" "fwd" { redirect :copy "bob@elsewhere.example"; redirect :copy "carol@example.test"; }',
    );
    const before = queued().length;
    const raw = msg({ To: BOB, Subject: 'fwd this' });
    expect((await send([BOB], raw)).accepted).toEqual([BOB]);
    const entries = queued().slice(before);
    expect(entries.map((e) => e.recipients).sort()).toEqual([['bob@elsewhere.example'], [CAROL]]);
    const byRcpt = (a: string) => queue.get(entries.find((e) => e.recipients[0] === a)!.id)!;
    const outside = byRcpt('bob@elsewhere.example');
    expect(outside.sender).toMatch(/^SRS0=[a-z2-7]{4}=[a-z2-7]{2}=remote\.example=dave@example\.test$/);
    const head = outside.data.toString().split('\r\n\r\n')[0]!;
    expect(head).toMatch(/^ARC-Seal: i=1; a=rsa-sha256; t=\d+; cv=none; d=example\.test;/);
    expect(head).toContain(`Delivered-To: ${BOB}`);
    const inside = byRcpt(CAROL);
    expect(inside.sender).toBe('dave@remote.example');
    expect(inside.data.toString()).not.toContain('ARC-Seal');
    expect((await box(BOB, 'INBOX')).map((m) => m.subject)).toEqual(['fwd this']); // :copy kept it
    // a message that already went through bob is not forwarded again (a loop), but kept
    const n = queued().length;
    await send([BOB], `Delivered-To: ${BOB}\r\n${raw}`);
    expect(queued().length).toBe(n);
    expect((await box(BOB, 'INBOX')).length).toBe(2);
    for (const e of queued()) queue.remove(e.id);
  });

  it('vacation answers once per sender, never a list or an automatic message, signed and from the null sender', async () => {
    await activate(CAROL, 'require "vacation"; vacation :days 1 :subject "Away" "I am away until Monday.";');
    await send([CAROL], msg({ To: CAROL, Subject: 'first' }));
    await send([CAROL], msg({ To: CAROL, Subject: 'second' }));
    await send([CAROL], msg({ To: CAROL, Subject: 'from a list', 'List-Id': '<dev.lists.example>' }), 'list@lists.example');
    await send([CAROL], msg({ To: CAROL, Subject: 'bulk', Precedence: 'bulk' }), 'news@remote.example');
    await send([CAROL], msg({ To: CAROL, Subject: 'auto', 'Auto-Submitted': 'auto-replied' }), 'robot@remote.example');
    await send([CAROL], msg({ To: CAROL, Subject: 'bounce' }), '');
    await send([CAROL], msg({ To: 'someone-else@remote.example', Subject: 'bcc' }), 'eve@remote.example');
    const replies = queued();
    expect(replies.map((e) => [e.sender, e.recipients])).toEqual([['', ['dave@remote.example']]]);
    const data = queue.get(replies[0]!.id)!.data.toString();
    expect(data).toMatch(/^DKIM-Signature: /);
    expect(data).toContain('Auto-Submitted: auto-replied');
    expect(data).toContain('Subject: Away');
    expect(data).toContain(`From: <${CAROL}>`);
    expect((await box(CAROL, 'INBOX')).slice(-7).map((m) => m.subject)).toEqual(['first', 'second', 'from a list', 'bulk', 'auto', 'bounce', 'bcc']);
    for (const e of replies) queue.remove(e.id);
    // a :from that is not one of carol's addresses is not used (no spoofing through a vacation reply)
    await activate(CAROL, 'require "vacation"; vacation :from "ceo@bigcorp.example" :addresses "ceo@bigcorp.example" "Away.";');
    await send([CAROL], msg({ To: CAROL, Subject: 'spoof?' }), 'frank@remote.example');
    const spoof = queue.list().find((e) => e.recipients[0] === 'frank@remote.example')!;
    expect(queue.get(spoof.id)!.data.toString()).toContain(`From: <${CAROL}>`);
    queue.remove(spoof.id);
    await mail.sieve.setActive(uid(CAROL), null);
  });

  it('an alias to an outside address forwards with SRS and ARC; junk to a forward-only alias is refused', async () => {
    mail.accounts.addAlias('me@example.test', [CAROL, 'me@gmail.example']);
    mail.accounts.addAlias('fwd@example.test', ['someone@gmail.example']);
    expect(mail.accounts.listAliases()).toEqual([
      { address: 'fwd@example.test', targets: ['someone@gmail.example'] },
      { address: 'me@example.test', targets: [CAROL, 'me@gmail.example'] },
    ]);
    const r = await send(['me@example.test', 'fwd@example.test'], msg({ To: 'me@example.test', Subject: 'to the alias' }));
    expect(r.accepted).toEqual(['me@example.test', 'fwd@example.test']);
    const out = queued();
    expect(out.map((e) => e.recipients[0]).sort()).toEqual(['me@gmail.example', 'someone@gmail.example']);
    for (const e of out) {
      const q = queue.get(e.id)!;
      expect(q.sender).toMatch(/^SRS0=.*=remote\.example=dave@example\.test$/);
      expect(q.data.toString()).toMatch(/^ARC-Seal: i=1;/);
    }
    expect((await box(CAROL, 'INBOX')).at(-1)?.subject).toBe('to the alias');
    for (const e of out) queue.remove(e.id);
    const junk = await send(['fwd@example.test'], `X-Postern-Junk: yes\r\n${msg({ To: 'fwd@example.test', Subject: 'spam' })}`);
    expect(junk.rejected).toEqual(['fwd@example.test']);
    expect(junk.response).toMatch(/550 5\.7\.1/);
    expect(queued()).toEqual([]);
    const loop = await send(['fwd@example.test'], `Delivered-To: fwd@example.test\r\n${msg({ To: 'fwd@example.test', Subject: 'loop' })}`);
    expect(loop.rejected).toEqual(['fwd@example.test']);
    expect(() =>
      mail.accounts.addAlias(
        'many@example.test',
        Array.from({ length: 11 }, (_, i) => `x${i}@gmail.example`),
      ),
    ).toThrow(/at most 10/);
  });

  it('a script that fails keeps the message in INBOX and tells the user once per error', async () => {
    await activate(
      ALICE,
      `require "variables"; set "a" "x"; ${'if string :is "${a}" "y" { keep; } '.repeat(1)} redirect "a@x.example"; redirect "b@x.example"; redirect "c@x.example"; redirect "d@x.example"; redirect "e@x.example";`,
    );
    const before = (await box(ALICE, 'INBOX')).length;
    await send([ALICE], msg({ Subject: 'must not be lost' }));
    await send([ALICE], msg({ Subject: 'again' }));
    const inbox = (await box(ALICE, 'INBOX')).slice(before).map((m) => m.subject);
    expect(inbox).toEqual(['must not be lost', 'Your Sieve filter "main" failed', 'again']);
    expect((await mail.sieve.active(uid(ALICE)))?.lastError).toContain('more than 4 redirects');
    expect(queued()).toEqual([]);
  });

  it('a hostile script stops at the step budget and the delivery goes on', async () => {
    await activate(BOB, `require "variables"; set "x" "${'ab'.repeat(2000)}"; ${'if string :matches "${x}" "*a*b*c*d*e*f*" { keep; } '.repeat(200)}`);
    const r = await send([BOB, CAROL], msg({ To: BOB, Subject: 'hostile' }));
    expect(r.accepted).toEqual([BOB, CAROL]);
    expect((await box(BOB, 'INBOX')).map((m) => m.subject)).toContain('hostile');
    expect((await mail.sieve.active(uid(BOB)))?.lastError).toContain('steps');
    for (const e of queued()) queue.remove(e.id);
  });
});
