/**
 * Interop: Python's poplib (a client we did not write) against the server, over STLS and over
 * implicit TLS (POP3_SSL), verifying the certificate we made.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFixture, PASSWORD, type Fixture } from './__tests__/fixture.js';
import type { Pop3Server } from './index.js';

const USER = 'pat@example.test';

let fx: Fixture;
let server: Pop3Server;
let tlsServer: Pop3Server;

/** Runs a python3 script; `out(obj)` in the script prints the JSON result. */
function python(script: string, env: Record<string, string>): Promise<unknown> {
  const prelude = [
    'import json, os, poplib, ssl, sys',
    'def out(o): sys.stdout.write(json.dumps(o))',
    "ctx = ssl.create_default_context(cafile=os.environ['CERT'])",
    "PORT = int(os.environ['PORT'])",
    "USER = os.environ['USER_NAME']",
    "PASSWORD = os.environ['PASSWORD']",
  ].join('\n');
  return new Promise((resolve, reject) => {
    const child = spawn('python3', ['-c', `${prelude}\n${script}`], {
      env: { ...process.env, ...env, CERT: fx.config.tlsCert, USER_NAME: USER, PASSWORD },
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
});

afterAll(async () => {
  await fx.cleanup();
});

describe('python poplib', () => {
  it('logs in over STLS, lists, retrieves, deletes and quits; the store follows', async () => {
    const first = 'Subject: hello\r\nFrom: a@b.c\r\n\r\nfirst message\r\n.a line with a leading dot\r\n';
    const u1 = await fx.deliver(USER, first, 'Delivered-To: pat@example.test\r\n');
    const u2 = await fx.deliver(USER, 'Subject: second\r\n\r\nsecond message\r\n');
    const result = (await python(
      `
p = poplib.POP3('127.0.0.1', PORT, timeout=10)
caps_before = sorted(p.capa().keys())
p.stls(context=ctx)
caps_after = sorted(p.capa().keys())
p.user(USER)
p.pass_(PASSWORD)
stat = p.stat()
resp, listing, _ = p.list()
resp, uidl, _ = p.uidl()
resp, lines, octets = p.retr(1)
resp, top, _ = p.top(2, 0)
p.dele(2)
quit = p.quit()
out({'caps_before': caps_before, 'caps_after': caps_after, 'stat': list(stat),
     'list': [l.decode() for l in listing], 'uidl': [l.decode() for l in uidl],
     'retr': [l.decode() for l in lines], 'octets': octets, 'top': [l.decode() for l in top],
     'quit': quit.decode()})
`,
      { PORT: String(server.port) },
    )) as Record<string, unknown>;
    expect(result['caps_before']).toContain('STLS');
    expect(result['caps_before']).not.toContain('USER');
    expect(result['caps_after']).toContain('USER');
    expect(result['caps_after']).toContain('SASL');
    const s1 = Buffer.byteLength(first) + Buffer.byteLength('Delivered-To: pat@example.test\r\n');
    expect((result['stat'] as number[])[0]).toBe(2);
    expect((result['list'] as string[])[0]).toBe(`1 ${s1}`);
    const inbox = (await fx.mail.store.mailbox(fx.mail.accounts.findUser(USER)!.id, 'INBOX'))!;
    expect(result['uidl']).toEqual([`1 ${inbox.uidValidity}.${u1}`, `2 ${inbox.uidValidity}.${u2}`]);
    // poplib removes the byte-stuffing: the leading dot comes back single.
    expect(result['retr']).toEqual(['Delivered-To: pat@example.test', 'Subject: hello', 'From: a@b.c', '', 'first message', '.a line with a leading dot']);
    expect(result['top']).toEqual(['Subject: second', '']);
    expect(result['quit']).toMatch(/^\+OK/);
    expect(await fx.inboxUids(USER)).toEqual([u1]);
  });

  it('logs in over POP3_SSL; UIDLs match the previous session; RSET undoes DELE', async () => {
    const result = (await python(
      `
p = poplib.POP3_SSL('127.0.0.1', PORT, context=ctx, timeout=10)
p.user(USER)
p.pass_(PASSWORD)
resp, uidl, _ = p.uidl()
p.dele(1)
p.rset()
stat = p.stat()
try:
    p.retr(9)
    missing = 'no error'
except poplib.error_proto as e:
    missing = e.args[0].decode()
p.quit()
out({'uidl': [l.decode() for l in uidl], 'stat': list(stat), 'missing': missing})
`,
      { PORT: String(tlsServer.port) },
    )) as Record<string, unknown>;
    const inbox = (await fx.mail.store.mailbox(fx.mail.accounts.findUser(USER)!.id, 'INBOX'))!;
    const [uid] = await fx.inboxUids(USER);
    expect(result['uidl']).toEqual([`1 ${inbox.uidValidity}.${uid}`]);
    expect((result['stat'] as number[])[0]).toBe(1);
    expect(result['missing']).toBe('-ERR no such message');
    expect(await fx.inboxUids(USER)).toEqual([uid]);
  });

  it('gets -ERR [AUTH] from PASS before STLS and a wrong password after it', async () => {
    const result = (await python(
      `
p = poplib.POP3('127.0.0.1', PORT, timeout=10)
def attempt(f):
    try:
        f()
        return 'ok'
    except poplib.error_proto as e:
        return e.args[0].decode()
before = attempt(lambda: p.user(USER))
p.stls(context=ctx)
p.user(USER)
wrong = attempt(lambda: p.pass_('not the password'))
p.quit()
out({'before': before, 'wrong': wrong})
`,
      { PORT: String(server.port) },
    )) as Record<string, unknown>;
    expect(result['before']).toBe('-ERR [AUTH] TLS required: use STLS first');
    expect(result['wrong']).toBe('-ERR [AUTH] invalid user name or password');
  });
});
