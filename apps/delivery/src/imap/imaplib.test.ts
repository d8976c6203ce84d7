/**
 * Interop: Python's imaplib (a client we did not write) over STARTTLS and implicit TLS.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFixture, message, PASSWORD, type Fixture } from './__tests__/fixture.js';
import type { ImapServer } from './index.js';

const USER = 'pat@example.test';

let fx: Fixture;
let server: ImapServer;
let tlsServer: ImapServer;

/** Runs a python3 script; `out(obj)` in the script prints the JSON result. */
function python(script: string, port: number): Promise<unknown> {
  const prelude = [
    'import json, os, imaplib, ssl, sys',
    'def out(o): sys.stdout.write(json.dumps(o))',
    "ctx = ssl.create_default_context(cafile=os.environ['CERT'])",
    'ctx.check_hostname = False',
    "PORT = int(os.environ['PORT'])",
    "USER = os.environ['USER_NAME']",
    "PASSWORD = os.environ['PASSWORD']",
    'def s(v): return v.decode() if isinstance(v, bytes) else [s(x) for x in v] if isinstance(v, (list, tuple)) else v',
  ].join('\n');
  return new Promise((resolve, reject) => {
    const child = spawn('python3', ['-c', `${prelude}\n${script}`], {
      env: { ...process.env, PORT: String(port), CERT: fx.config.tlsCert, USER_NAME: USER, PASSWORD },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`python3 exited ${code}: ${stderr}`));
      else resolve(JSON.parse(stdout));
    });
  });
}

beforeAll(async () => {
  fx = await createFixture([USER]);
  server = await fx.start();
  tlsServer = await fx.start({ implicitTls: true });
  await fx.deliver(USER, message(1, { subject: 'hello imaplib' }));
  await fx.deliver(USER, message(2));
});

afterAll(async () => {
  await fx.cleanup();
});

describe('python imaplib', () => {
  it('STARTTLS, LOGIN, SELECT, SEARCH, FETCH, STORE, COPY, EXPUNGE, LOGOUT', async () => {
    const r = (await python(
      `
m = imaplib.IMAP4('127.0.0.1', PORT)
m.starttls(ssl_context=ctx)
m.login(USER, PASSWORD)
typ, lst = m.list()
typ, sel = m.select('INBOX')
typ, found = m.search(None, 'SUBJECT', '"hello imaplib"')
typ, data = m.fetch('1', '(RFC822)')
raw = data[0][1].decode()
typ, st = m.store('2', '+FLAGS', '(\\\\Deleted)')
typ, cp = m.copy('1', 'Archive')
typ, ex = m.expunge()
typ, uid = m.uid('FETCH', '1:*', '(UID FLAGS)')
m.logout()
out({'list': s(lst), 'select': s(sel), 'found': s(found), 'raw': raw, 'store': s(st), 'copy': typ, 'expunge': s(ex), 'uid': s(uid)})
`,
      server.port,
    )) as Record<string, unknown>;
    expect(r['list']).toContain('(\\HasNoChildren \\Sent) "/" Sent');
    expect(r['select']).toEqual(['2']);
    expect(r['found']).toEqual(['1']);
    expect(r['raw']).toBe(message(1, { subject: 'hello imaplib' }));
    expect(r['store']).toEqual(['2 (FLAGS (\\Deleted))']);
    expect(r['expunge']).toEqual(['2']);
    expect(r['uid']).toEqual(['1 (UID 1 FLAGS (\\Seen))']);
  });

  it('logs in over implicit TLS with AUTHENTICATE PLAIN and appends', async () => {
    const r = (await python(
      `
m = imaplib.IMAP4_SSL('127.0.0.1', PORT, ssl_context=ctx)
m.authenticate('PLAIN', lambda _: ('\\0' + USER + '\\0' + PASSWORD).encode())
typ, ap = m.append('Drafts', '(\\\\Draft)', None, b'Subject: draft\\r\\n\\r\\ntext\\r\\n')
typ, st = m.status('Drafts', '(MESSAGES UIDNEXT)')
m.logout()
out({'append': s(ap), 'status': s(st)})
`,
      tlsServer.port,
    )) as Record<string, unknown>;
    expect((r['append'] as string[])[0]).toMatch(/^\[APPENDUID \d+ 1\] APPEND completed$/);
    expect(r['status']).toEqual(['Drafts (MESSAGES 1 UIDNEXT 2)']);
  });
});
