/**
 * The webmail's smaller holes (issue 14), over its HTTP interface:
 * - login CSRF: a login cookie the attacker planted (made up, or a form the attacker fetched, or
 *   one already used) does not log the victim in to the attacker's account;
 * - a folder that does not exist is a 404 page, not a server error;
 * - HTML mail's CSS loads nothing remote until "Show images", and then exactly what paints an
 *   image (what the prompt counted), never fonts, cursors or hover effects;
 * - direction controls (U+202E "right-to-left override" and the rest) in file and folder names
 *   are shown as visible markers, isolated, and not in the saved file name.
 * The webmail sits behind a trusted proxy on 127.0.0.1, so browsers are X-Forwarded-For addresses.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { parse, stringify } from 'smol-toml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../lib/instance.js';
import { spawnWebmail } from '../webmail/lib/postern.js';
import { createFullInstance, type FullInstance } from './lib/full-instance.js';
import { WebmailClient } from './lib/webmail-client.js';

let a: FullInstance;
let webmail: Awaited<ReturnType<typeof spawnWebmail>>;
let alice: WebmailClient;
const base = (): string => `http://127.0.0.1:${a.retrieval.webmail}`;
const RLO = '\u202e';

beforeAll(async () => {
  a = await createFullInstance({ domain: 'a.test', users: { alice: 'alice-password', mallory: 'mallory-password' } });
  await a.start();
  const doc = parse(readFileSync(a.configFile, 'utf8')) as Record<string, unknown>;
  writeFileSync(a.configFile, stringify({ ...doc, webmail: { trusted_proxies: ['127.0.0.1'] } }));
  webmail = await spawnWebmail(a.configFile, a.retrieval.webmail);
  alice = new WebmailClient(base(), { 'x-forwarded-for': '198.51.100.10' });
  await alice.login('alice@a.test', 'alice-password');
});

afterAll(async () => {
  await webmail?.stop();
  await a?.stop();
});

/** POSTs the login form as `ip` with the given login cookie and token; the status. */
async function postLogin(ip: string, cookie: string, token: string, user = 'mallory@a.test', password = 'mallory-password'): Promise<number> {
  const r = await fetch(`${base()}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `postern_login=${cookie}`, origin: base(), 'x-forwarded-for': ip },
    body: new URLSearchParams({ _csrf: token, user, password }),
  });
  await r.arrayBuffer();
  return r.status;
}

/** GETs the login page as `ip`: the form's cookie value and token. */
async function loginForm(ip: string): Promise<{ cookie: string; token: string }> {
  const r = await fetch(`${base()}/login`, { headers: { 'x-forwarded-for': ip } });
  const token = /name="_csrf" value="([^"]+)"/.exec(await r.text())![1]!;
  const cookie = /^postern_login=([^;]*)/.exec(r.headers.get('set-cookie') ?? '')![1]!;
  return { cookie, token };
}

describe('login CSRF', () => {
  it('refuses a planted login cookie: made up, fetched by the attacker, or used before', async () => {
    const victim = '192.0.2.50';
    const attacker = '203.0.113.50';
    // a double-submit pair the attacker made up (cookie = token) logs no one in
    const madeUp = await postLogin(victim, 'planted-token', 'planted-token');
    // a real form the attacker fetched, planted in the victim's browser
    const stolen = await loginForm(attacker);
    const planted = await postLogin(victim, stolen.cookie, stolen.token);
    // the victim's own form works once, and only once
    const own = await loginForm(victim);
    const first = await postLogin(victim, own.cookie, own.token);
    const replay = await postLogin(victim, own.cookie, own.token);
    console.log(`login CSRF: made-up pair ${madeUp}, attacker's form in the victim's browser ${planted}, own form ${first}, replayed ${replay}`);
    expect({ madeUp, planted, first, replay }).toEqual({ madeUp: 403, planted: 403, first: 303, replay: 403 });
  });
});

describe('unknown folders', () => {
  it('answers 404 for a folder that does not exist, on every page that names one', async () => {
    const list = await alice.get('/list?f=No%20such%20folder');
    const read = await alice.get('/read?f=No%20such%20folder&u=1');
    const events = await alice.get('/events?f=No%20such%20folder');
    console.log(`unknown folder: /list ${list.status}, /read ${read.status}, /events ${events.status}`);
    expect([list.status, read.status, events.status]).toEqual([404, 404, 404]);
    expect(list.body).toContain('There is no such folder');
    // a real one still works
    expect((await alice.get('/list?f=INBOX')).status).toBe(200);
  });
});

async function deliver(raw: string, tag: string): Promise<number> {
  const t = nodemailer.createTransport({ host: '127.0.0.1', port: a.ports.smtp, ignoreTLS: true });
  await t.sendMail({ envelope: { from: 'sender@outside.example', to: ['alice@a.test'] }, raw });
  t.close();
  const m = await waitFor(async () => (await a.messages('alice@a.test')).find((x) => x.raw.includes(tag)), 15_000, tag);
  await waitFor(async () => (await alice.get(`/read?f=INBOX&u=${m.uid}`)).status === 200, 15_000, `${tag} in the webmail`, 100);
  return m.uid;
}

describe('remote content in CSS', () => {
  it('loads nothing remote before "Show images", then exactly the images it counted', async () => {
    const tag = `css-${Date.now()}`;
    const css = [
      // paint an image: released by "Show images"
      'p.a{background:url(https://img.evil.test/bg.png)}',
      'li{list-style-image:url("https://img.evil.test/dot.png")}',
      'div.b{background-image:url("https://img.evil.test/paren)s.png")}',
      // never released: fonts, cursors, what the reader hovers or focuses, namespaces
      '@font-face{font-family:t;src:url(https://track.evil.test/font.woff)}',
      'a:hover{background:url(https://track.evil.test/hover.png)}',
      'q{cursor:url(https://track.evil.test/cursor.cur),auto}',
      '@namespace x url(https://track.evil.test/ns);',
      // loads no browser may be left to judge: image-set() strings, src(), a url() the end cuts off
      'div.c{background:image-set("https://track.evil.test/set.png" 1x)}',
      'div.d{background:src("https://track.evil.test/src.png")}',
      // an image whose url() the end of the style sheet closes (CSS Syntax §4.3.6): last
      'div.e{background:url(https://img.evil.test/cut-off',
    ].join('\n');
    const raw =
      `From: sender@outside.example\r\nTo: alice@a.test\r\nSubject: ${tag}\r\nMIME-Version: 1.0\r\n` +
      `Content-Type: text/html; charset=utf-8\r\n\r\n<html><head><style>${css}</style></head><body><p class="a">hi</p>` +
      `<img src="https://img.evil.test/pic.png"></body></html>\r\n`;
    const uid = await deliver(raw, tag);
    const page = await alice.get(`/read?f=INBOX&u=${uid}`);
    const counted = Number(/(\d+) remote images? (?:was|were) blocked/.exec(page.body)?.[1] ?? 0);
    const blocked = await alice.get(`/body?f=INBOX&u=${uid}`);
    const shown = await alice.get(`/body?f=INBOX&u=${uid}&remote=1`);
    const released = shown.body.match(/img\.evil\.test\/[\w%)().-]+/g) ?? [];
    console.log(
      `CSS: prompt counts ${counted}; before "Show images" ${(blocked.body.match(/evil\.test/g) ?? []).length} remote references; after: ${released.join(' ')}`,
    );
    expect(blocked.body).not.toContain('evil.test');
    expect(blocked.headers.get('content-security-policy')).not.toMatch(/https?:/);
    expect(shown.body).not.toContain('track.evil.test');
    expect(new Set(released).size).toBe(5);
    expect(counted).toBe(5);
  });
});

describe('direction controls in names', () => {
  it('shows U+202E in folder and file names as a visible marker, isolated, and keeps it out of the saved name', async () => {
    const folder = `Invoices${RLO}fdp.exe`;
    const c = new ImapFlow({
      host: '127.0.0.1',
      port: a.retrieval.imap,
      secure: false,
      tls: { rejectUnauthorized: false },
      auth: { user: 'alice@a.test', pass: 'alice-password' },
      logger: false,
    });
    await c.connect();
    await c.mailboxCreate(folder);
    await c.logout();
    const tag = `bidi-${Date.now()}`;
    const file = `invoice${RLO}gpj.exe`;
    const encoded = `utf-8''${encodeURIComponent(file)}`;
    const raw =
      `From: sender@outside.example\r\nTo: alice@a.test\r\nSubject: ${tag}\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n` +
      `--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n` +
      `--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename*=${encoded}\r\n\r\nMZ\r\n--b--\r\n`;
    const uid = await deliver(raw, tag);
    const list = await alice.get('/list?f=INBOX');
    const read = await alice.get(`/read?f=INBOX&u=${uid}`);
    const folderPage = await alice.get(`/list?f=${encodeURIComponent(folder)}`);
    const part = /href="(\/part\?[^"]*dl=1)"/.exec(read.body)?.[1]?.replace(/&amp;/g, '&');
    const download = await alice.get(part!);
    const disposition = download.headers.get('content-disposition') ?? '';
    // what is shown: the text between tags (attribute values such as data-folder carry the
    // folder's real name for the page's own use; a browser shows none of them)
    const shownText = (page: string): string => page.replace(/<(?:script|style)[\s\S]*?<\/(?:script|style)>|<[^>]*>/gi, '');
    const raws = [list.body, read.body, folderPage.body].map((b) => shownText(b).split(RLO).length - 1);
    console.log(`U+202E shown raw: list ${raws[0]}, message ${raws[1]}, folder page ${raws[2]} times; saved as ${disposition}`);
    expect(raws).toEqual([0, 0, 0]);
    expect(list.body).toContain('<bdi>Invoices[U+202E]fdp.exe</bdi>');
    expect(read.body).toContain('<bdi>invoice[U+202E]gpj.exe</bdi>');
    expect(folderPage.body).toContain('<bdi>Invoices[U+202E]fdp.exe</bdi>');
    expect(disposition).not.toMatch(/%E2%80%AE|\u202e/i);
    expect(disposition).toContain('invoice%5BU%2B202E%5Dgpj.exe');
  });
});
