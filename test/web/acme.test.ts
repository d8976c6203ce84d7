/**
 * A fresh `postern init --acme` on loopback, with Pebble as the CA: the webmail app's web ports
 * answer TLS-ALPN-01, the certificate it obtains is served on every TLS port (IMAP, submission
 * and HTTPS, each a process of its own that reloads the files), it is renewed on schedule with
 * the clock injected, and HTTPS serves the MTA-STS policy, Thunderbird's autoconfig, Outlook's
 * autodiscover and (to a logged-in user) the Apple profile, each checked against what the client
 * that reads it expects, down to logging in with the settings it gives.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { ImapFlow } from 'imapflow';
import { parse, stringify } from 'smol-toml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, loadConfig, openMailDb } from '@postern/core';
import { freePort, pebbleNeed, requirement, startDnsServer, startPebble, type DnsServer, type Pebble } from '@postern/testkit';
import { start as startWebmail, type RunningWebmail } from '@postern/webmail';

const missing = requirement('ACME and the web ports against pebble', [pebbleNeed()]);
const root = fileURLToPath(new URL('../../', import.meta.url));
const DOMAIN = 'example.test';
const HOST = `mail.${DOMAIN}`;
const USER = { address: `alice@${DOMAIN}`, password: 'alice-password-1' };

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  serial: string;
}

/** An HTTPS request to 127.0.0.1:`port` for `host` (SNI and Host), verified against `ca`. */
function https(
  port: number,
  host: string,
  ca: string,
  path: string,
  o: { method?: string; body?: string; headers?: Record<string, string> } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, servername: host, ca, path, method: o.method ?? 'GET', headers: { host, ...o.headers } }, (res) => {
      let body = '';
      const cert = (res.socket as unknown as { getPeerX509Certificate(): X509Certificate | undefined }).getPeerX509Certificate();
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, serial: cert?.serialNumber ?? '' }));
    });
    req.on('error', reject);
    req.end(o.body);
  });
}

/** The certificate a TLS port presents for `servername`, and whether it verifies against `ca`. */
function tlsPeer(port: number, servername: string, ca: string): Promise<{ authorized: boolean; serial: string }> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, servername, ca, rejectUnauthorized: false }, () => {
      resolve({ authorized: s.authorized, serial: s.getPeerX509Certificate()?.serialNumber ?? '' });
      s.end();
    });
    s.on('error', reject);
  });
}

/** The values of `<tag>` directly in a block of XML. */
function tags(block: string, tag: string): string[] {
  return [...block.matchAll(new RegExp(`<${tag}>([^<]*)</${tag}>`, 'g'))].map((m) => m[1]!);
}

describe.skipIf(missing !== null)('postern init --acme against Pebble', () => {
  let dir: string;
  let file: string;
  let dns: DnsServer;
  let pebble: Pebble;
  let webmail: RunningWebmail;
  const children: ChildProcess[] = [];
  let now = Date.now();
  const ports: Record<string, number> = {};
  let ca: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'postern-acme-web-'));
    file = join(dir, 'postern.toml');
    dns = await startDnsServer(
      Object.fromEntries([HOST, `mta-sts.${DOMAIN}`, `autoconfig.${DOMAIN}`, `autodiscover.${DOMAIN}`].map((n) => [n, { A: ['127.0.0.1'] }])),
    );
    for (const k of ['https', 'http', 'imap', 'imaps', 'submission', 'submissions', 'lmtp', 'smtp']) ports[k] = await freePort();
    pebble = await startPebble({ dns: dns.address, httpPort: ports['http']!, tlsPort: ports['https']! });
    const init = spawnSync(process.execPath, [join(root, 'apps/cli/dist/main.js'), '--config', file, 'init', '--domain', DOMAIN, '--acme'], {
      encoding: 'utf8',
    });
    expect(init.status, init.stderr).toBe(0);
    // what init wrote, moved onto loopback ports and pointed at Pebble instead of Let's Encrypt
    const doc = parse(readFileSync(file, 'utf8')) as Record<string, Record<string, unknown>>;
    expect(doc['acme']).toMatchObject({ directory: 'https://acme-v02.api.letsencrypt.org/directory', email: `postmaster@${DOMAIN}` });
    expect(doc['listen']).toMatchObject({ https: '0.0.0.0:443', http: '0.0.0.0:80' });
    doc['listen'] = Object.fromEntries(Object.entries(ports).map(([k, p]) => [k, `127.0.0.1:${p}`]));
    doc['acme'] = { ...doc['acme'], directory: pebble.directory, ca: pebble.apiCa };
    doc['dns'] = { servers: [dns.address], timeout: '1s' };
    doc['log_level'] = 'warn' as never;
    writeFileSync(file, stringify(doc));
    const config = loadConfig(file);
    const m = openMailDb(config);
    await m.accounts.addUser(USER.address, USER.password);
    m.close();
    for (const app of ['delivery', 'submission']) {
      const child = spawn(process.execPath, [join(root, 'apps', app, 'dist/main.js'), '--config', file], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
      children.push(child);
      await new Promise<void>((resolve, reject) => {
        child.once('message', () => resolve());
        child.once('exit', (code) => reject(new Error(`${app} exited ${code}`)));
      });
    }
    webmail = await startWebmail(config, { logger: createLogger('webmail', 'silent'), clock: () => now });
    ca = await pebble.root();
  });

  afterAll(async () => {
    await webmail?.close();
    for (const c of children) {
      const gone = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      await gone;
    }
    await pebble?.close();
    await dns?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('obtains the certificates and every TLS port serves the host certificate', async () => {
    // init's self-signed pair is what each port has until the first order
    expect((await tlsPeer(ports['imaps']!, HOST, ca)).authorized).toBe(false);
    await webmail.front!.acme!.check();
    expect(webmail.front!.acme!.status().map((s) => [s.id, s.failures])).toEqual([
      ['host', 0],
      ['web', 0],
    ]);
    const serial = new X509Certificate(readFileSync(join(dir, 'data/tls/cert.pem'))).serialNumber;
    for (const port of ['imaps', 'submissions', 'https']) {
      expect(await tlsPeer(ports[port]!, HOST, ca), port).toEqual({ authorized: true, serial });
    }
  });

  it('serves the MTA-STS policy that postern dns prints, on mta-sts.<domain> with its own certificate', async () => {
    const r = await https(ports['https']!, `mta-sts.${DOMAIN}`, ca, '/.well-known/mta-sts.txt');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/plain/);
    expect(r.body).toBe(`version: STSv1\r\nmode: testing\r\nmx: ${HOST}\r\nmax_age: 604800\r\n`);
    const printed = spawnSync(process.execPath, [join(root, 'apps/cli/dist/main.js'), '--config', file, 'dns', '--json'], { encoding: 'utf8' });
    expect(printed.status, printed.stderr).toBe(0);
    expect((JSON.parse(printed.stdout) as Array<{ mtaStsPolicy: string }>)[0]!.mtaStsPolicy).toBe(r.body);
    // nothing else on that name, and not the webmail
    expect((await https(ports['https']!, `mta-sts.${DOMAIN}`, ca, '/login')).status).toBe(404);
  });

  it("serves Thunderbird's autoconfig on both paths, and its settings log in", async () => {
    const a = await https(ports['https']!, `autoconfig.${DOMAIN}`, ca, '/mail/config-v1.1.xml');
    const b = await https(ports['https']!, HOST, ca, `/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=${encodeURIComponent(USER.address)}`);
    expect(a.status).toBe(200);
    expect(b.body).toBe(a.body);
    expect(a.headers['content-type']).toMatch(/xml/);
    const xml = a.body;
    expect(xml).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<clientConfig version="1.1">/);
    expect(tags(xml, 'domain')).toEqual([DOMAIN]);
    const servers = [...xml.matchAll(/<(incoming|outgoing)Server type="(\w+)">([\s\S]*?)<\/\1Server>/g)].map((m) => ({
      dir: m[1],
      type: m[2],
      hostname: tags(m[3]!, 'hostname')[0],
      port: Number(tags(m[3]!, 'port')[0]),
      socketType: tags(m[3]!, 'socketType')[0],
      authentication: tags(m[3]!, 'authentication')[0],
      username: tags(m[3]!, 'username')[0],
    }));
    // what Thunderbird's AccountConfig reader accepts: imap/pop3 in, smtp out, these socket types and auth words
    expect(servers.map((s) => [s.dir, s.type, s.port, s.socketType])).toEqual([
      ['incoming', 'imap', ports['imaps'], 'SSL'],
      ['incoming', 'imap', ports['imap'], 'STARTTLS'],
      ['outgoing', 'smtp', ports['submissions'], 'SSL'],
      ['outgoing', 'smtp', ports['submission'], 'STARTTLS'],
    ]);
    for (const s of servers) expect(s).toMatchObject({ hostname: HOST, authentication: 'password-cleartext', username: '%EMAILADDRESS%' });
    // the first incoming server, as Thunderbird would use it: TLS verified for the host name, the address as login
    const first = servers[0]!;
    const client = new ImapFlow({
      host: '127.0.0.1',
      port: first.port,
      secure: true,
      tls: { servername: first.hostname!, ca: [ca] },
      auth: { user: first.username!.replace('%EMAILADDRESS%', USER.address), pass: USER.password },
      logger: false,
    });
    await client.connect();
    expect(client.authenticated).toBeTruthy();
    await client.logout();
    // a domain that is not ours gets nothing
    expect((await https(ports['https']!, HOST, ca, '/mail/config-v1.1.xml?emailaddress=bob%40elsewhere.test')).status).toBe(404);
  });

  it("answers Outlook's POX autodiscover", async () => {
    const ask = `<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">
  <Request><EMailAddress>${USER.address}</EMailAddress>
  <AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request>
</Autodiscover>`;
    const r = await https(ports['https']!, `autodiscover.${DOMAIN}`, ca, '/Autodiscover/Autodiscover.xml', {
      method: 'POST',
      body: ask,
      headers: { 'content-type': 'text/xml' },
    });
    expect(r.status).toBe(200);
    expect(r.body).toContain('<Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a">');
    const protocols = [...r.body.matchAll(/<Protocol>([\s\S]*?)<\/Protocol>/g)].map((m) => [
      tags(m[1]!, 'Type')[0],
      tags(m[1]!, 'Server')[0],
      Number(tags(m[1]!, 'Port')[0]),
      tags(m[1]!, 'LoginName')[0],
    ]);
    expect(protocols).toEqual([
      ['IMAP', HOST, ports['imaps'], USER.address],
      ['IMAP', HOST, ports['imap'], USER.address],
      ['SMTP', HOST, ports['submissions'], USER.address],
      ['SMTP', HOST, ports['submission'], USER.address],
    ]);
  });

  it('gives a logged-in user the Apple profile, and nobody else', async () => {
    const url = `https://${HOST}`; // the Host header the helper sends
    expect((await https(ports['https']!, HOST, ca, '/settings/mail.mobileconfig')).status).toBe(303);
    const form = await https(ports['https']!, HOST, ca, '/login');
    const token = /name="_csrf" value="([^"]+)"/.exec(form.body)![1]!;
    const loginCookie = String(form.headers['set-cookie']).split(';')[0]!;
    const login = await https(ports['https']!, HOST, ca, '/login', {
      method: 'POST',
      body: new URLSearchParams({ _csrf: token, user: USER.address, password: USER.password }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: loginCookie, origin: url },
    });
    expect(login.status).toBe(303);
    const cookies = login.headers['set-cookie'] as string[];
    const session = cookies.find((c) => c.startsWith('postern_session='))!;
    // over HTTPS the session cookie is Secure, and the page says to stay on HTTPS
    expect(session).toContain('Secure');
    const profile = await https(ports['https']!, HOST, ca, '/settings/mail.mobileconfig', { headers: { cookie: session.split(';')[0]! } });
    expect(profile.status).toBe(200);
    expect(profile.headers['content-type']).toBe('application/x-apple-aspen-config');
    expect(profile.headers['strict-transport-security']).toBeDefined();
    expect(profile.body).toContain('<key>PayloadType</key><string>com.apple.mail.managed</string>');
    expect(profile.body).toContain(`<key>IncomingMailServerHostName</key><string>${HOST}</string>`);
    expect(profile.body).toContain(`<key>IncomingMailServerPortNumber</key><integer>${ports['imaps']}</integer>`);
    expect(profile.body).toContain(`<key>OutgoingMailServerPortNumber</key><integer>${ports['submissions']}</integer>`);
    expect(profile.body).toContain(`<key>EmailAddress</key><string>${USER.address}</string>`);
    // the plist is well formed enough for a strict reader: every <dict> closes
    if (spawnSync('sh', ['-c', 'command -v python3']).status === 0) {
      const check = spawnSync(
        'python3',
        ['-c', 'import plistlib,sys; d=plistlib.loads(sys.stdin.buffer.read()); print(d["PayloadContent"][0]["IncomingMailServerUsername"])'],
        { input: profile.body, encoding: 'utf8' },
      );
      expect(check.stdout.trim(), check.stderr).toBe(USER.address);
    }
  });

  it('port 80 only answers HTTP-01 and redirects to HTTPS', async () => {
    const r = await new Promise<{ status: number; location: string | undefined }>((resolve, reject) => {
      httpRequest({ host: '127.0.0.1', port: ports['http'], path: '/login', headers: { host: HOST } }, (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0, location: res.headers.location });
      })
        .on('error', reject)
        .end();
    });
    expect(r).toEqual({ status: 301, location: `https://${HOST}:${ports['https']}/login` });
  });

  it('renews on schedule (clock injected): every port serves the new certificate without a restart', async () => {
    const acme = webmail.front!.acme!;
    const [host] = acme.status();
    const old = (await tlsPeer(ports['imaps']!, HOST, ca)).serial;
    now = host!.due - 1000;
    expect(await acme.check()).toEqual(['fresh', 'fresh']);
    now = host!.due + 1000;
    expect((await acme.check())[0]).toBe('issued');
    const fresh = new X509Certificate(readFileSync(join(dir, 'data/tls/cert.pem'))).serialNumber;
    expect(fresh).not.toBe(old);
    for (const port of ['imaps', 'submissions', 'https']) {
      expect(await tlsPeer(ports[port]!, HOST, ca), port).toEqual({ authorized: true, serial: fresh });
    }
  });
});
