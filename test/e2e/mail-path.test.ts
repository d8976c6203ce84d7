/**
 * The mail path of issue 7 on a real (virtual) network: two mail domains, a.test and b.test,
 * each served by a complete Postern on the standard ports in its own network namespace, finding
 * each other only through MX records served by the DNS host (Node, dns2); users on a client host
 * submitting with swaks (Python's smtplib where swaks is absent) and Python's smtplib and reading with curl (IMAPS) and Python's poplib (POP3S).
 *
 * The scenarios run in order on one network (building it takes a few seconds); each one sends
 * its own messages, marked with a token in the subject, so they do not depend on each other.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'smol-toml';
import { skip } from '@postern/testkit';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  curlImapFetch,
  curlImapMessages,
  curlImapSearch,
  pop3Fetch,
  smtpUtf8Submit,
  haveSwaks,
  relay,
  submit,
  type PopMessage,
  type Submitted,
} from './lib/clients.js';
import { Browser, formFields } from './lib/browser.js';
import { waitFor } from './lib/exec.js';
import { field, fields, split } from './lib/message.js';
import { netnsUnavailable } from './lib/netns.js';
import type { MailHost } from './lib/mailhost.js';
import { createWorld, USERS, type World } from './lib/world.js';

const unavailable = netnsUnavailable();
if (unavailable) skip('e2e: the mail path on a network', unavailable);

/** Bound on every "until the mail arrives" wait: delivery takes well under a second here. */
const ARRIVAL_MS = 30_000;

const token = (scenario: string): string => `${scenario}-${randomBytes(4).toString('hex')}`;

describe.skipIf(unavailable !== null)('two mail domains exchanging mail through DNS and port 25', () => {
  let w: World;

  beforeAll(async () => {
    w = await createWorld();
  });

  afterAll(async () => {
    if (!w) return;
    const net = w.net;
    await w.destroy();
    // the run leaves no namespace behind (nor, with them, any address or process)
    expect(net.remaining()).toEqual([]);
  });

  beforeEach(({ onTestFailed }) => {
    onTestFailed(() => {
      if (w) process.stdout.write(`${w.logs()}\n`);
    });
  });

  /** Waits until a user's IMAP folder holds a message with that subject text; returns it. */
  const imapArrival = (server: MailHost, account: { address: string; password: string }, subject: string, folder = 'INBOX'): Promise<Buffer> =>
    waitFor(
      `"${subject}" in ${account.address}'s ${folder} (IMAP)`,
      async () => (await curlImapMessages(w.net, 'client', server, account, folder, subject))[0],
      ARRIVAL_MS,
      500,
    );

  /** Waits until a user's POP3 maildrop holds a message that `match` accepts; returns it. */
  const popArrival = (server: MailHost, account: { address: string; password: string }, match: (m: PopMessage) => boolean, what: string): Promise<PopMessage> =>
    waitFor(`${what} for ${account.address} (POP3)`, async () => (await pop3Fetch(w.net, 'client', server, account)).find(match), ARRIVAL_MS, 500);

  const subjectIs =
    (subject: string) =>
    (m: PopMessage): boolean =>
      field(m.raw, 'Subject').includes(subject);

  it('serves exactly the records `postern dns` prints, and `postern dns --check` finds them all', async () => {
    for (const host of [w.a, w.b]) {
      const out = await host.cli(['dns', '--check', '--ip', host.ip]);
      const published = w.published.get(host.domain)!;
      expect(out).toContain(`all ${published.length} records ok`);
      // every kind of record the issue names is among them
      expect(published.map((r) => r.type)).toEqual(expect.arrayContaining(['MX', 'A', 'TXT', 'SRV', 'CNAME', 'PTR']));
    }
  });

  describe('1. alice@a.test submits with swaks over 587 (STARTTLS, AUTH) to bob@b.test and carol@a.test', () => {
    const subject = token('s1');
    let sent: Submitted;

    beforeAll(async () => {
      sent = await submit(w.net, 'client', w.a, USERS.alice, {
        from: USERS.alice.address,
        to: [USERS.bob.address, USERS.carol.address],
        subject,
        body: `Hello Bob and Carol, this is ${subject}.`,
      });
    });

    it('the submission used STARTTLS and AUTH and was accepted', () => {
      expect(sent.starttls).toBe(220);
      expect(sent.auth).toBe(235);
      expect(sent.data).toMatch(/^250 .*queued/i);
    });

    it.skipIf(!haveSwaks)('swaks saw AUTH succeed inside TLS', () => {
      expect(sent.transcript).toMatch(/^ -> STARTTLS/m);
      expect(sent.transcript).toMatch(/^<~ *235 /m); // "~" is swaks' TLS mark
      expect(sent.transcript).toMatch(/^<~ *250 .*queued/im);
    });

    it('carol reads it with python poplib over POP3S', async () => {
      const m = await popArrival(w.a, USERS.carol, subjectIs(subject), `"${subject}"`);
      expect(split(m.raw).body.toString('utf8')).toContain(`Hello Bob and Carol, this is ${subject}.`);
      expect(field(m.raw, 'From')[0]).toContain(USERS.alice.address);
    });

    it('mx.a.test found mx.b.test by an MX lookup: no routes, no smarthost', async () => {
      const config = parse(readFileSync(w.a.configFile, 'utf8')) as { transfer: { routes?: object; smarthost?: string } };
      expect(config.transfer.routes ?? {}).toEqual({});
      expect(config.transfer.smarthost ?? '').toBe('');
      await waitFor('the MX query in the DNS log', () => /query\[MX\] b\.test from 192\.0\.2\.10/.test(readFileSync(w.dnsLog, 'utf8')), ARRIVAL_MS);
    });

    it('bob reads it with curl over IMAPS, after it crossed from mx.a.test to mx.b.test on port 25', async () => {
      const raw = await imapArrival(w.b, USERS.bob, subject);
      expect(split(raw).body.toString('utf8')).toContain(`Hello Bob and Carol, this is ${subject}.`);
      // the top Received: is mx.b.test's, naming mx.a.test's address as the client (RFC 5321 §4.4)
      const received = field(raw, 'Received');
      expect(received[0]).toMatch(/from mx\.a\.test .*192\.0\.2\.10/);
      expect(received[0]).toMatch(/by mx\.b\.test/);
      expect(received[0]).toMatch(/ESMTPS/); // STARTTLS between the two MX hosts
    });
  });

  describe('2. bob replies from the webmail; alice sees the reply threaded', () => {
    it("the reply carries In-Reply-To/References of alice's message and alice finds it by them", async () => {
      const subject = token('s2');
      const messageId = `<${subject}@a.test>`;
      await submit(w.net, 'client', w.a, USERS.alice, {
        from: USERS.alice.address,
        to: [USERS.bob.address],
        subject,
        body: 'Shall we meet on Tuesday?',
        headers: { 'Message-Id': messageId },
      });
      await imapArrival(w.b, USERS.bob, subject);
      const [uid] = await curlImapSearch(w.net, 'client', w.b, USERS.bob, 'INBOX', `SUBJECT "${subject}"`);

      // bob, in a browser on his mail host (the webmail listens on loopback, behind whatever
      // proxy the operator puts in front): log in, press Reply, type, press Send
      const browser = new Browser(w.net, 'mxb', 'http://127.0.0.1:8080', 'bob-webmail');
      const loggedIn = await browser.submit(await browser.get('/login'), '/login', { user: USERS.bob.address, password: USERS.bob.password });
      expect(loggedIn.status, loggedIn.html.slice(0, 2000)).toBe(303);
      const form = await browser.get(`/compose?mode=reply&f=INBOX&u=${uid}`);
      expect(form.status, form.html.slice(0, 2000)).toBe(200);
      const draft = formFields(form.html, '/compose');
      expect(draft.get('in_reply_to')).toEqual([messageId]);
      const sent = await browser.submit(form, '/compose', { body: `Tuesday is fine.\n\n${draft.get('body')?.[0] ?? ''}` }, ['action', 'send']);
      expect(sent.status, sent.html.slice(0, 3000)).toBe(303);

      const uids = await waitFor(
        "the reply in alice's INBOX (IMAP SEARCH HEADER In-Reply-To)",
        async () => {
          const found = await curlImapSearch(w.net, 'client', w.a, USERS.alice, 'INBOX', `HEADER In-Reply-To "${messageId}"`);
          return found.length > 0 ? found : null;
        },
        ARRIVAL_MS,
        500,
      );
      const reply = await curlImapFetch(w.net, 'client', w.a, USERS.alice, 'INBOX', uids[0]!);
      expect(field(reply, 'Subject')[0]).toBe(`Re: ${subject}`);
      expect(field(reply, 'In-Reply-To')[0]).toBe(messageId);
      expect(field(reply, 'References')[0]).toContain(messageId);
      expect(field(reply, 'From')[0]).toContain(USERS.bob.address);
      expect(split(reply).body.toString('utf8')).toContain('Tuesday is fine.');
    });

    it('bob answers from the terminal with `postern mail send` on his mail host; alice reads it', async () => {
      const subject = token('s2cli');
      await w.b.cli(
        [
          'mail',
          '--user',
          USERS.bob.address,
          '--password-stdin',
          'send',
          '--to',
          USERS.alice.address,
          '--subject',
          subject,
          '--body',
          'Sent from the terminal.',
        ],
        `${USERS.bob.password}\n`,
        60_000,
      );
      const m = await popArrival(w.a, USERS.alice, subjectIs(subject), `"${subject}"`);
      expect(field(m.raw, 'From')[0]).toContain(USERS.bob.address);
      expect(split(m.raw).body.toString('utf8')).toContain('Sent from the terminal.');
      expect(resultsBy(m.raw, 'mx.a.test')).toMatch(/\bdmarc=pass\b/);
    });
  });

  it('3. mail to nobody@b.test: alice receives a DSN naming the address and the remote reply', async () => {
    const subject = token('s3');
    await submit(w.net, 'client', w.a, USERS.alice, { from: USERS.alice.address, to: ['nobody@b.test'], subject, body: 'Is anybody there?' });

    const dsn = await popArrival(
      w.a,
      USERS.alice,
      (m) => /multipart\/report/i.test(field(m.raw, 'Content-Type')[0] ?? '') && m.raw.includes(subject),
      `a DSN about "${subject}"`,
    );
    const text = dsn.raw.toString('utf8');
    expect(field(dsn.raw, 'Content-Type')[0]).toMatch(/report-type="?delivery-status/i);
    // RFC 3464 §2.3: the per-recipient fields name the address, the action and the remote's reply
    expect(text).toMatch(/Final-Recipient: rfc822; ?nobody@b\.test/i);
    expect(text).toMatch(/Action: failed/i);
    expect(text).toMatch(/Status: 5\.1\.1/);
    expect(text).toMatch(/Remote-MTA: dns; ?mx\.b\.test/i);
    expect(text).toMatch(/Diagnostic-Code: smtp; ?550[ -]5\.1\.1/i);
    // a bounce has a null envelope sender (RFC 5321 §4.5.5), which the delivery agent records
    expect(field(dsn.raw, 'Return-Path')).toEqual(['<>']);
  });

  it("4. b.test is down: the message waits in a.test's queue, and arrives when b.test is back", async () => {
    const subject = token('s4');
    await w.b.stop();
    try {
      await submit(w.net, 'client', w.a, USERS.alice, { from: USERS.alice.address, to: [USERS.bob.address], subject, body: 'Sent while you were away.' });
      // at least one attempt failed (connection refused: a temporary failure) and it waits
      const entry = await waitFor(
        "a failed attempt recorded in a.test's queue",
        async () => {
          const list = JSON.parse(await w.a.cli(['queue', 'list', '--json'])) as Array<{ recipients: string[]; attempts: number; last_error: string | null }>;
          // two attempts: the first failed and the retry schedule (SHORT_RETRIES) ran again
          return list.find((e) => e.recipients.includes(USERS.bob.address) && e.attempts >= 2 && e.last_error);
        },
        ARRIVAL_MS,
        500,
      );
      expect(entry.last_error).toBeTruthy();
    } finally {
      await w.b.start();
    }
    const m = await popArrival(w.b, USERS.bob, subjectIs(subject), `"${subject}"`);
    expect(split(m.raw).body.toString('utf8')).toContain('Sent while you were away.');
    // delivered, so the queue is empty again, and alice got no bounce for it
    await waitFor("a.test's queue to empty", async () => (JSON.parse(await w.a.cli(['queue', 'list', '--json'])) as unknown[]).length === 0, ARRIVAL_MS, 500);
    const aliceInbox = await pop3Fetch(w.net, 'client', w.a, USERS.alice);
    expect(aliceInbox.filter((x) => x.raw.includes(subject))).toEqual([]);
  });

  describe('5. DKIM, SPF and DMARC', () => {
    it('pass from a.test to b.test and from b.test to a.test', async () => {
      const ab = token('s5ab');
      const ba = token('s5ba');
      await submit(w.net, 'client', w.a, USERS.alice, { from: USERS.alice.address, to: [USERS.bob.address], subject: ab, body: 'Signed by a.test.' });
      await submit(w.net, 'client', w.b, USERS.bob, { from: USERS.bob.address, to: [USERS.alice.address], subject: ba, body: 'Signed by b.test.' });

      const atB = resultsBy(await imapArrival(w.b, USERS.bob, ab), 'mx.b.test');
      expect(atB).toMatch(/\bdkim=pass\b[^;]*header\.(?:d=|i=\S*@)a\.test\b/);
      expect(atB).toMatch(/\bspf=pass\b[^;]*smtp\.mailfrom=\S*a\.test/);
      expect(atB).toMatch(/\bdmarc=pass\b[^;]*header\.from=a\.test/);

      const atA = resultsBy((await popArrival(w.a, USERS.alice, subjectIs(ba), `"${ba}"`)).raw, 'mx.a.test');
      expect(atA).toMatch(/\bdkim=pass\b[^;]*header\.(?:d=|i=\S*@)b\.test\b/);
      expect(atA).toMatch(/\bspf=pass\b[^;]*smtp\.mailfrom=\S*b\.test/);
      expect(atA).toMatch(/\bdmarc=pass\b[^;]*header\.from=b\.test/);
    });

    /** Where each forged message landed, found by the test below. */
    const forgedIn = new Map<string, string>();

    it('fail for mail forged from a third host: no signature, or a signed message altered', async () => {
      // a genuine signed message, to tamper with afterwards
      const genuine = token('s5genuine');
      await submit(w.net, 'client', w.a, USERS.alice, {
        from: USERS.alice.address,
        to: [USERS.bob.address],
        subject: genuine,
        body: 'Pay invoice 1 of 10 EUR.',
      });
      const signed = await imapArrival(w.b, USERS.bob, genuine);

      // 1. no signature at all, from an address a.test's SPF record does not name
      const plain = token('s5forged');
      const forged = [
        `From: Alice <${USERS.alice.address}>`,
        `To: ${USERS.bob.address}`,
        `Subject: ${plain}`,
        `Date: ${new Date().toUTCString()}`,
        `Message-ID: <${plain}@forger.test>`,
        '',
        'Please wire the money to the new account.',
        '',
      ].join('\r\n');
      const r1 = await relay(w.net, 'forger', w.b.hostname, { from: USERS.alice.address, to: USERS.bob.address }, forged);
      expect(r1.code, r1.transcript).toBe(0);

      // 2. alice's genuine signed header with a different body: the DKIM body hash breaks
      const kept = fields(signed).filter(([n]) => !/^(received|authentication-results|return-path|delivered-to|x-postern-.*)$/i.test(n));
      const altered = token('s5altered');
      const tampered = `${kept.map(([n, v]) => `${n}: ${n.toLowerCase() === 'subject' ? altered : v}`).join('\r\n')}\r\n\r\nPay invoice 1 of 10000 EUR.\r\n`;
      const r2 = await relay(w.net, 'forger', w.b.hostname, { from: USERS.alice.address, to: USERS.bob.address }, tampered);
      expect(r2.code, r2.transcript).toBe(0);

      /** The forged message wherever it was filed (INBOX or Junk), with the folder's name. */
      const landed = (subject: string): Promise<Buffer> =>
        waitFor(
          `"${subject}" in one of bob's folders (IMAP)`,
          async () => {
            for (const folder of ['Junk', 'INBOX']) {
              const found = (await curlImapMessages(w.net, 'client', w.b, USERS.bob, folder, subject))[0];
              if (found) {
                forgedIn.set(subject, folder);
                return found;
              }
            }
            return null;
          },
          ARRIVAL_MS,
          500,
        );

      const results1 = resultsBy(await landed(plain), 'mx.b.test');
      expect(results1).toMatch(/\bspf=fail\b[^;]*smtp\.mailfrom=\S*a\.test/);
      expect(results1).toMatch(/\bdkim=none\b/);
      expect(results1).toMatch(/\bdmarc=fail\b[^;]*header\.from=a\.test/);

      const results2 = resultsBy(await landed(altered), 'mx.b.test');
      // mailauth calls a body hash mismatch "neutral" (RFC 8601 §2.7.1 would say "fail"); either
      // way the signature does not verify, and DMARC fails with it
      expect(results2).toMatch(/\bdkim=(?:fail|neutral \(body hash did not verify\))/);
      expect(results2).not.toMatch(/\bdkim=pass\b/);
      expect(results2).toMatch(/\bspf=fail\b/);
      expect(results2).toMatch(/\bdmarc=fail\b/);
    });

    it('forged mail is filed in Junk, not in the INBOX (a.test publishes p=quarantine)', () => {
      expect(forgedIn.size).toBe(2);
      for (const [subject, folder] of forgedIn) expect(`${subject} in ${folder}`).toBe(`${subject} in Junk`);
    });
  });

  it('6. a 10 MB attachment, UTF-8 addresses (SMTPUTF8) and an 8-bit body arrive byte for byte', async () => {
    const subject = token('s6');
    const attachment = randomBytes(10 * 1024 * 1024);
    const b64 = attachment.toString('base64').replace(/.{1,76}/g, '$&\r\n');
    const boundary = `=_${randomBytes(8).toString('hex')}`;
    // RFC 6532: UTF-8 in header fields as is; RFC 6152: an 8-bit text body, not encoded
    const message = Buffer.from(
      [
        'From: Ålice Ängström <ålice@a.test>',
        'To: Bøb <bøb@b.test>',
        `Subject: ${subject} Grüße aus Köln ✉`,
        `Date: ${new Date().toUTCString().replace('GMT', '+0000')}`,
        `Message-ID: <${subject}@a.test>`,
        'MIME-Version: 1.0',
        `Content-Type: multipart/mixed; boundary="${boundary}"`,
        '',
        `--${boundary}`,
        'Content-Type: text/plain; charset=utf-8',
        'Content-Transfer-Encoding: 8bit',
        '',
        'Hallo Bøb, anbei die Datei. Çà va? 日本語のテキスト. Ελληνικά. Ünïcödé — “quotes”.',
        '.a line starting with a dot, and one with only a dot:',
        '.',
        '',
        `--${boundary}`,
        'Content-Type: application/octet-stream; name="data.bin"',
        'Content-Disposition: attachment; filename="data.bin"',
        'Content-Transfer-Encoding: base64',
        '',
        `${b64}--${boundary}--`,
        '',
      ].join('\r\n'),
      'utf8',
    );
    const file = join(w.net.dir, 's6.eml');
    writeFileSync(file, message);
    await smtpUtf8Submit(w.net, 'client', w.a, USERS.alice, { from: 'ålice@a.test', to: 'bøb@b.test' }, file);

    const raw = await waitFor(
      `"${subject}" in bob's INBOX (IMAP)`,
      async () => {
        const uids = await curlImapSearch(w.net, 'client', w.b, USERS.bob, 'INBOX', `SUBJECT "${subject}"`);
        return uids[0] === undefined ? null : curlImapFetch(w.net, 'client', w.b, USERS.bob, 'INBOX', uids[0]);
      },
      60_000,
      1000,
    );
    // Everything we sent arrives unchanged; only trace and authentication fields are prepended.
    expect(raw.length).toBeGreaterThan(message.length);
    expect(raw.subarray(raw.length - message.length).equals(message)).toBe(true);
    const prepended = fields(raw.subarray(0, raw.length - message.length)).map(([n]) => n.toLowerCase());
    for (const n of prepended) expect(['received', 'authentication-results', 'dkim-signature', 'return-path', 'delivered-to']).toContain(n);
    expect(resultsBy(raw, 'mx.b.test')).toMatch(/\bdkim=pass\b/);
  });

  /** The Authentication-Results field our receiving host wrote (RFC 8601 §2.2 authserv-id). */
  function resultsBy(raw: Buffer, host: string): string {
    const mine = field(raw, 'Authentication-Results').filter((v) => v.startsWith(`${host};`));
    expect(mine).toHaveLength(1);
    return mine[0]!;
  }
});
