/**
 * Attacks through the webmail, over its HTTP interface:
 * - header injection from the compose form (CR/LF in every field, attachment names included):
 *   no extra header, no extra recipient;
 * - XSS through every header and name the webmail shows (list, reading view, search results,
 *   error pages): the payloads arrive escaped, never as markup;
 * - path traversal in attachment names: the download's Content-Disposition names a plain file;
 * - SQL injection through the search box;
 * - heavy bodies in the reading view (huge, deeply nested HTML; a long text part): an answer,
 *   and the webmail stays up with bounded memory.
 */
import { readFileSync } from 'node:fs';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../lib/instance.js';
import { spawnWebmail } from '../webmail/lib/postern.js';
import { createFullInstance, type FullInstance } from './lib/full-instance.js';
import { WebmailClient } from './lib/webmail-client.js';

let a: FullInstance;
let webmail: Awaited<ReturnType<typeof spawnWebmail>>;
let alice: WebmailClient;
const MB = 1024 * 1024;

beforeAll(async () => {
  a = await createFullInstance({ domain: 'a.test', users: { alice: 'alice-password', bob: 'bob-password', carol: 'carol-password' } });
  await a.start({ limits: { message_size: 12 * MB } });
  webmail = await spawnWebmail(a.configFile, a.retrieval.webmail);
  alice = new WebmailClient(`http://127.0.0.1:${a.retrieval.webmail}`);
  await alice.login('alice@a.test', 'alice-password');
});

afterAll(async () => {
  await webmail?.stop();
  await a?.stop();
});

/** Delivers a raw message to alice through port 25 and returns its UID. */
async function deliverToAlice(raw: string, tag: string): Promise<number> {
  const t = nodemailer.createTransport({ host: '127.0.0.1', port: a.ports.smtp, ignoreTLS: true });
  await t.sendMail({ envelope: { from: 'attacker@outside.example', to: ['alice@a.test'] }, raw });
  t.close();
  const m = await waitFor(async () => (await a.messages('alice@a.test')).find((x) => x.raw.includes(tag)), 15_000, tag);
  // as a user would: the message is opened once the list shows it (the webmail's IMAP session
  // learns about new mail through IDLE/NOOP, RFC 9051 §7.4.1)
  await waitFor(
    async () => (await alice.get('/list?f=INBOX')).status === 200 && (await alice.get(`/read?f=INBOX&u=${m.uid}`)).status === 200,
    15_000,
    `${tag} in the webmail`,
    100,
  );
  return m.uid;
}

const PAYLOADS = [
  '<script>alert(1)</script>',
  '<img src=x onerror=alert(2)>',
  '"><svg onload=alert(3)>',
  "'><iframe src=javascript:alert(4)>",
  '</title><script>alert(5)</script>',
];
/** None of the payloads as live markup (their escaped forms are fine). */
function expectNoMarkup(html: string, where: string): void {
  for (const p of ['<script>alert', '<img src=x onerror', '<svg onload', '<iframe src=javascript', '</title><script>']) {
    expect(html.includes(p), `${where} contains ${p}`).toBe(false);
  }
}

describe('XSS through what the webmail shows', () => {
  let uid: number;
  const tag = `xss-${Date.now()}`;

  beforeAll(async () => {
    const enc = (s: string): string => `=?utf-8?B?${Buffer.from(s).toString('base64')}?=`;
    const raw =
      `From: "${PAYLOADS[0]}" <attacker@outside.example>\r\n` +
      `To: "${PAYLOADS[1]}" <alice@a.test>, ${enc(PAYLOADS[2]!)} <x@outside.example>\r\n` +
      `Cc: ${enc(PAYLOADS[3]!)} <y@outside.example>\r\n` +
      `Reply-To: "${PAYLOADS[4]}" <z@outside.example>\r\n` +
      `Subject: ${tag} ${PAYLOADS[1]} ${enc(PAYLOADS[0]!)}\r\n` +
      `Date: ${PAYLOADS[0]}\r\n` +
      `Message-ID: <${PAYLOADS[2]}@x>\r\n` +
      `MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n` +
      `--b\r\nContent-Type: text/plain\r\n\r\n${PAYLOADS.join(' ')}\r\n` +
      `--b\r\nContent-Type: text/plain; name="${PAYLOADS[1]}.txt"\r\nContent-Disposition: attachment; filename="${PAYLOADS[2]}.txt"\r\n\r\nx\r\n` +
      `--b\r\nContent-Type: ${PAYLOADS[0]}/x\r\nContent-Disposition: attachment; filename*=utf-8''%3Cscript%3Ealert(6)%3C%2Fscript%3E.txt\r\n\r\ny\r\n--b--\r\n`;
    uid = await deliverToAlice(raw, tag);
  });

  it('escapes every header in the message list', async () => {
    const r = await alice.get('/list?f=INBOX');
    expect(r.status).toBe(200);
    expect(r.body).toContain(tag);
    expectNoMarkup(r.body, 'the list');
  });

  it('escapes every header, body and attachment name in the reading view, with a CSP that forbids inline script', async () => {
    const r = await alice.get(`/read?f=INBOX&u=${uid}`);
    expect(r.status).toBe(200);
    expect(r.body).toContain(tag);
    expectNoMarkup(r.body, 'the reading view');
    const csp = r.headers.get('content-security-policy') ?? '';
    expect(csp).toMatch(/script-src/);
    expect(csp).not.toMatch(/'unsafe-inline'/);
  });

  it('escapes the query on the search page and what it finds', async () => {
    const r = await alice.get(`/search?f=INBOX&q=${encodeURIComponent(PAYLOADS[0]!)}&by=all`);
    expectNoMarkup(r.body, 'the search page');
    const r2 = await alice.get(`/search?f=INBOX&q=${encodeURIComponent(tag)}&by=subject`);
    expect(r2.body).toContain(tag);
    expectNoMarkup(r2.body, 'the search results');
  });

  it('reflects nothing from the URL as markup (folder names, unknown paths, bad UIDs)', async () => {
    for (const path of [
      `/list?f=${encodeURIComponent(PAYLOADS[0]!)}`,
      `/read?f=${encodeURIComponent(PAYLOADS[1]!)}&u=1`,
      `/read?f=INBOX&u=${encodeURIComponent(PAYLOADS[2]!)}`,
      `/${encodeURIComponent(PAYLOADS[0]!)}`,
      `/compose?mode=${encodeURIComponent(PAYLOADS[3]!)}&f=INBOX&u=${uid}`,
      `/part?f=INBOX&u=${uid}&p=${encodeURIComponent(PAYLOADS[4]!)}`,
    ]) {
      const r = await alice.get(path);
      expectNoMarkup(r.body, path);
    }
  });

  it('fills a reply and a forward without turning the payloads into markup', async () => {
    for (const mode of ['reply', 'all', 'fwd']) {
      const r = await alice.get(`/compose?mode=${mode}&f=INBOX&u=${uid}`);
      expect(r.status).toBe(200);
      expectNoMarkup(r.body, `compose ${mode}`);
    }
  });
});

describe('path traversal in attachment names', () => {
  const NAMES: ReadonlyArray<[string, string]> = [
    ['unix parent directories', 'filename="../../../../etc/passwd"'],
    ['windows parent directories', 'filename="..\\\\..\\\\windows\\\\system32\\\\evil.dll"'],
    ['an absolute unix path', 'filename="/etc/cron.d/evil"'],
    ['a drive letter', 'filename="C:\\\\evil.exe"'],
    ['an NTFS stream name', 'filename="notes.txt:Zone.Identifier"'],
    ['nothing but dots', 'filename=".."'],
    ['an encoded word', `filename="=?utf-8?B?${Buffer.from('../../.ssh/authorized_keys').toString('base64')}?="`],
    ['RFC 2231 percent-encoding', "filename*=utf-8''..%2F..%2F.bashrc"],
    ['RFC 2231 continuations', "filename*0*=utf-8''..%2F..%2F; filename*1=.profile"],
    ['the Content-Type name only', ''],
  ];

  it.each(NAMES)('%s: the download is named as a plain file', async (label, disposition) => {
    const tag = `trav-${Math.random().toString(36).slice(2)}`;
    const raw =
      `From: attacker@outside.example\r\nSubject: ${tag}\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n` +
      `--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n` +
      `--b\r\nContent-Type: application/octet-stream; name="../../name-param/evil.sh"\r\n` +
      `${disposition ? `Content-Disposition: attachment; ${disposition}\r\n` : ''}Content-Transfer-Encoding: base64\r\n\r\nIyEvYmluL3NoCg==\r\n--b--\r\n`;
    const uid = await deliverToAlice(raw, tag);
    const page = await alice.get(`/read?f=INBOX&u=${uid}`);
    const link = /href="(\/part\?[^"]+)"/.exec(page.body)?.[1]?.replace(/&amp;/g, '&');
    expect(link, `${label}: an attachment link`).toBeDefined();
    const r = await alice.get(`${link!}${link!.includes('dl=1') ? '' : '&dl=1'}`);
    expect(r.status).toBe(200);
    expect(r.bytes.toString()).toBe('#!/bin/sh\n');
    const cd = r.headers.get('content-disposition') ?? '';
    expect(cd).toMatch(/^attachment;/);
    const plain = /filename="([^"]*)"/.exec(cd)?.[1] ?? '';
    const star = decodeURIComponent(/filename\*=UTF-8''([^;\s]*)/i.exec(cd)?.[1] ?? '');
    for (const name of [plain, star]) {
      expect(name, `${label}: ${cd}`).not.toMatch(/[/\\]/);
      expect(name, `${label}: ${cd}`).not.toMatch(/^\.+$|:/);
      expect(name).not.toMatch(/[\r\n\0]/);
    }
    // nothing executable by the browser either
    expect(r.headers.get('content-type')).not.toMatch(/html|javascript|svg/i);
  });
});

describe('header injection from the compose form', () => {
  /** The compose form with hostile values; `to` decides whether it can be sent at all. */
  function hostileForm(tag: string, to: string): FormData {
    const form = new FormData();
    form.set('action', 'send');
    form.set('to', to);
    form.set('cc', '');
    form.set('bcc', '');
    form.set('subject', `${tag}\r\nBcc: carol@a.test\r\nX-Injected: subject`);
    form.set('body', 'hello\r\n.\r\nMAIL FROM:<alice@a.test>\r\nRCPT TO:<carol@a.test>\r\nDATA\r\nX-Injected: body\r\n\r\nsmuggled\r\n.\r\n');
    form.set('in_reply_to', '<x@y>\r\nBcc: carol@a.test');
    form.set('references', '<x@y>\r\nX-Injected: references');
    form.append('attach', new Blob(['attached'], { type: 'text/plain\r\nX-Injected: type' }), 'a.txt"\r\nX-Injected: filename\r\n\r\n');
    return form;
  }

  /** No header field of `raw` (top level or in a part's header) is an injected one. */
  function expectClean(raw: string, where: string): void {
    const header = raw.slice(0, raw.search(/\r?\n\r?\n/));
    expect(header, where).not.toMatch(/^X-Injected:/im);
    expect(header, where).not.toMatch(/^Bcc:.*carol/im);
    // part headers: a line starting a field right after a boundary or another field
    expect(raw, where).not.toMatch(/^X-Injected: (?:type|filename|references|subject)/m);
  }

  it('sends with hostile subject, reply headers and attachment name: one clean message, to bob only', async () => {
    const tag = `inj-${Date.now()}`;
    const r = await alice.post('/compose', hostileForm(tag, 'bob@a.test'));
    expect(r.status, r.body.slice(0, 500)).toBe(303);
    const m = await waitFor(async () => (await a.messages('bob@a.test')).find((x) => x.raw.includes(tag)), 15_000, 'the message at bob');
    expectClean(m.raw, 'the message bob got');
    // the copy in Sent too
    const sent = await waitFor(async () => (await a.messages('alice@a.test', 'Sent')).find((x) => x.raw.includes(tag)), 15_000, 'the copy in Sent');
    expectClean(sent.raw, 'the copy in Sent');
    await new Promise((res) => setTimeout(res, 300));
    expect(await a.messages('carol@a.test')).toEqual([]);
  });

  it('a To: with a line break: refused, or sent with clean headers and no recipient the headers do not show', async () => {
    const tag = `inj2-${Date.now()}`;
    const r = await alice.post('/compose', hostileForm(tag, 'bob@a.test\r\nBcc: carol@a.test'));
    expect([303, 422]).toContain(r.status);
    if (r.status === 422) {
      const draft = await waitFor(async () => (await a.messages('alice@a.test', 'Drafts')).find((x) => x.raw.includes(tag)), 15_000, 'the kept draft');
      expectClean(draft.raw, 'the kept draft');
      return;
    }
    // (the address parser reads "bob@a.test Bcc:" as the name of a group holding carol: the
    // user's own typing, shown as such in To:; what matters is that nothing is hidden)
    const sent = await waitFor(async () => (await a.messages('alice@a.test', 'Sent')).find((x) => x.raw.includes(tag)), 15_000, 'the copy in Sent');
    expectClean(sent.raw, 'the copy in Sent');
    const visible = (/^To:(.*(?:\r\n[ \t].*)*)/m.exec(sent.raw)?.[1] ?? '') + (/^Cc:(.*(?:\r\n[ \t].*)*)/m.exec(sent.raw)?.[1] ?? '');
    await new Promise((res) => setTimeout(res, 500));
    for (const user of ['bob@a.test', 'carol@a.test']) {
      const got = (await a.messages(user)).find((x) => x.raw.includes(tag));
      if (got) {
        expect(visible, `${user} got it`).toContain(user);
        expectClean(got.raw, `the copy ${user} got`);
      }
    }
  });
});

describe('SQL injection through the search box', () => {
  const subjects = ['alpha webmail', 'beta webmail', 'pct 100% under_score'];

  beforeAll(async () => {
    for (const s of subjects) await deliverToAlice(`From: s@outside.example\r\nSubject: ${s}\r\n\r\nbody of ${s}\r\n`, `Subject: ${s}`);
  });

  const found = (html: string): string[] => subjects.filter((s) => html.includes(s));

  it.each([
    ["' OR '1'='1", 'all'],
    ["' OR 1=1 --", 'subject'],
    ['" OR ""="', 'from'],
    ["webmail' UNION SELECT 1 --", 'text'],
    ["'; DROP TABLE messages; --", 'all'],
    ['alpha OR beta', 'text'],
    ['NEAR(alpha beta)', 'text'],
    ['%', 'subject'],
    ['_', 'subject'],
  ])('%s (by %s) finds only what the words mean', async (q, by) => {
    const r = await alice.get(`/search?f=INBOX&q=${encodeURIComponent(q)}&by=${by}`);
    expect(r.status).toBe(200);
    const hits = found(r.body);
    if (q === '%' || q === '_') expect(hits).toEqual(['pct 100% under_score']);
    else expect(hits).toEqual([]);
  });

  it('still finds everything afterwards', async () => {
    const r = await alice.get(`/search?f=INBOX&q=webmail&by=subject`);
    expect(found(r.body)).toEqual(subjects.slice(0, 2));
  });
});

describe('heavy bodies in the reading view', () => {
  const CASES: ReadonlyArray<[string, string]> = [
    ['HTML nested 50,000 deep', `Content-Type: text/html\r\n\r\n${'<div><span>\r\n'.repeat(25_000)}deep${'</span></div>\r\n'.repeat(25_000)}`],
    ['2 MB of links and attributes', `Content-Type: text/html\r\n\r\n${'<a href="http://x.example/" title="t" style="color:red">x</a>\r\n'.repeat(30_000)}`],
    ['an 8 MB text part', `Content-Type: text/plain\r\n\r\n${'plain text line for the reading view\r\n'.repeat(220_000)}`],
    ['quoted-printable soft breaks only', `Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n${'=\r\n'.repeat(500_000)}end`],
  ];

  it.each(CASES)('%s: answered, and the webmail stays up', async (label, part) => {
    const tag = `heavy-${Math.random().toString(36).slice(2)}`;
    const uid = await deliverToAlice(`From: s@outside.example\r\nSubject: ${tag}\r\nMIME-Version: 1.0\r\n${part}\r\n`, tag);
    const r = await alice.get(`/read?f=INBOX&u=${uid}`);
    expect(r.status, label).toBe(200);
    if (part.startsWith('Content-Type: text/html')) expect((await alice.get(`/body?f=INBOX&u=${uid}`)).status).toBe(200);
    expect(webmail.child.exitCode, webmail.logs().slice(-2000)).toBeNull();
    expect((await alice.get('/list?f=INBOX')).status).toBe(200);
    const rss = Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${webmail.child.pid!}/status`, 'utf8'))?.[1]) * 1024;
    expect(rss, `webmail RSS ${(rss / MB).toFixed(0)} MB`).toBeLessThan(400 * MB);
  });
});
