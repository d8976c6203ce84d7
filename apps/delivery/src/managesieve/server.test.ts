/**
 * ManageSieve conversations: the server on 127.0.0.1 port 0 over a temp mail.db, driven by a raw
 * socket for exact replies and bad input, and by Debian's sieve-connect (a real client).
 */
import { spawn } from 'node:child_process';
import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandNeed, requirement, Talk } from '@postern/testkit';
import { createLogger } from '@postern/core';
import { createFixture, PASSWORD, type Fixture } from '../pop3/__tests__/fixture.js';
import { startManageSieveServer } from './index.js';

const ALICE = 'alice@example.test';
const BOB = 'bob@example.test';
const plain = (user: string, pw = PASSWORD): string => Buffer.from(`\0${user}\0${pw}`).toString('base64');

let fx: Fixture;
let port: number;
let devPort: number;
const closers: Array<() => Promise<void>> = [];

beforeAll(async () => {
  fx = await createFixture([ALICE, BOB], { sieve: { max_scripts: 3, max_script_size: 2048 } });
  const start = async (profile: 'production' | 'development') => {
    const s = await startManageSieveServer({
      config: { ...fx.config, profile },
      accounts: fx.mail.accounts,
      scripts: fx.mail.sieve,
      tls: fx.tls,
      logger: createLogger('managesieve-test', 'silent'),
      listen: '127.0.0.1:0',
    });
    closers.push(s.close);
    return s.port;
  };
  port = await start('production');
  devPort = await start('development');
});

afterAll(async () => {
  for (const c of closers) await c();
  await fx.cleanup();
});

async function open(p = port): Promise<Talk> {
  const c = await Talk.open(p, { encoding: 'utf8', timeoutMs: 5000 });
  await c.sieveResponse();
  return c;
}

async function login(user = ALICE): Promise<Talk> {
  const c = await open();
  expect((await c.sieve('STARTTLS')).at(-1)).toMatch(/^OK/);
  await c.upgrade();
  await c.sieveResponse(); // §2.2: the capabilities again
  expect(await c.sieve(`AUTHENTICATE "PLAIN" "${plain(user)}"`)).toEqual(['OK "logged in"']);
  return c;
}

const literal = (s: string): string => `{${Buffer.byteLength(s)}+}\r\n${s}`;

describe('ManageSieve before login', () => {
  it('greets with its capabilities, offers STARTTLS and no SASL before TLS', async () => {
    const c = await Talk.open(port, { encoding: 'utf8', timeoutMs: 5000 });
    const greeting = await c.sieveResponse();
    expect(greeting).toContain('"IMPLEMENTATION" "Postern"');
    expect(greeting).toContain('"SASL" ""');
    expect(greeting).toContain('"STARTTLS"');
    expect(greeting).toContain('"VERSION" "1.0"');
    expect(greeting.find((l) => l.startsWith('"SIEVE"'))).toContain('fileinto');
    expect(greeting.at(-1)).toBe('OK "Postern ManageSieve ready"');
    expect(await c.sieve(`AUTHENTICATE "PLAIN" "${plain(ALICE)}"`)).toEqual(['NO (ENCRYPT-NEEDED) "use STARTTLS before AUTHENTICATE"']);
    expect(await c.sieve('LISTSCRIPTS')).toEqual(['NO "LISTSCRIPTS needs a login first"']);
    expect(await c.sieve('FROB')).toEqual(['NO "unknown command FROB"']);
    expect(await c.sieve('GET / HTTP/1.1')).toEqual(['NO "unknown command GET"']);
    expect(await c.sieve('NOOP "abc"')).toEqual(['OK (TAG "abc") "done"']);
    expect(await c.sieve('LOGOUT')).toEqual(['OK "bye"']);
    await c.waitClosed();
  });

  it('after STARTTLS: SASL PLAIN, wrong passwords refused, the continuation form', async () => {
    const c = await open();
    await c.sieve('STARTTLS');
    await c.upgrade();
    const caps = await c.sieveResponse();
    expect(caps).toContain('"SASL" "PLAIN"');
    expect(caps).not.toContain('"STARTTLS"');
    expect(await c.sieve(`AUTHENTICATE "PLAIN" "${plain(ALICE, 'wrong')}"`)).toEqual(['NO "invalid user name or password"']);
    await c.send('AUTHENTICATE "PLAIN"');
    expect(await c.line()).toBe('""'); // §2.1: the empty challenge
    await c.send(`"${plain(ALICE)}"`);
    expect(await c.sieveResponse()).toEqual(['OK "logged in"']);
    expect((await c.sieve('CAPABILITY')).find((l) => l.startsWith('"OWNER"'))).toBe(`"OWNER" "${ALICE}"`);
    await c.sieve('LOGOUT');
  });

  it('the development profile takes AUTHENTICATE on loopback without TLS', async () => {
    const c = await open(devPort);
    expect(await c.sieve(`AUTHENTICATE "PLAIN" "${plain(BOB)}"`)).toEqual(['OK "logged in"']);
    await c.sieve('LOGOUT');
  });
});

describe('ManageSieve scripts', () => {
  it('PUTSCRIPT, LISTSCRIPTS, SETACTIVE, GETSCRIPT, RENAMESCRIPT, DELETESCRIPT', async () => {
    const c = await login();
    const script = 'require "fileinto";\r\nif header :contains "subject" "x" { fileinto "X"; }\r\n';
    expect(await c.sieve(`PUTSCRIPT "main" ${literal(script)}`)).toEqual(['OK']);
    expect(await c.sieve(`PUTSCRIPT "other" "keep;"`)).toEqual(['OK']);
    expect(await c.sieve('SETACTIVE "main"')).toEqual(['OK']);
    expect(await c.sieve('LISTSCRIPTS')).toEqual(['"main" ACTIVE', '"other"', 'OK']);
    expect(await c.sieve('GETSCRIPT "main"')).toEqual([`{${script.length}}`, ...script.split('\r\n').slice(0, -1), '', 'OK']);
    expect(await c.sieve('DELETESCRIPT "main"')).toEqual(['NO (ACTIVE) "\\"main\\" is the active script"']);
    expect(await c.sieve('RENAMESCRIPT "main" "other"')).toEqual(['NO (ALREADYEXISTS) "a script \\"other\\" exists"']);
    expect(await c.sieve('RENAMESCRIPT "main" "renamed"')).toEqual(['OK']);
    expect(await c.sieve('GETSCRIPT "main"')).toEqual(['NO (NONEXISTENT) "no script \\"main\\""']);
    expect(await c.sieve('SETACTIVE ""')).toEqual(['OK']);
    expect(await c.sieve('DELETESCRIPT "renamed"')).toEqual(['OK']);
    expect(await c.sieve('DELETESCRIPT "other"')).toEqual(['OK']);
    expect(await c.sieve('LISTSCRIPTS')).toEqual(['OK']);
    await c.sieve('LOGOUT');
  });

  it('bad scripts are refused with line and column, and not stored', async () => {
    const c = await login(BOB);
    expect(await c.sieve(`CHECKSCRIPT ${literal('keep;\r\nfileinto "x";\r\n')}`)).toEqual([
      'NO "line 2, column 1: the command \\"fileinto\\" needs require \\"fileinto\\""',
    ]);
    expect(await c.sieve(`PUTSCRIPT "bad" ${literal('if true {\r\n  keep;\r\n')}`)).toEqual(['NO "line 3, column 1: missing \\"}\\" at the end of a block"']);
    expect(await c.sieve('CHECKSCRIPT "keep;"')).toEqual(['OK']);
    expect(await c.sieve('LISTSCRIPTS')).toEqual(['OK']);
    await c.sieve('LOGOUT');
  });

  it('quotas: script size, script count, HAVESPACE', async () => {
    const c = await login(BOB);
    expect(await c.sieve('HAVESPACE "a" 4000')).toEqual(['NO (QUOTA/MAXSIZE) "scripts may have at most 2048 octets"']);
    expect(await c.sieve('HAVESPACE "a" 100')).toEqual(['OK']);
    expect(await c.sieve(`PUTSCRIPT "big" ${literal(`# ${'x'.repeat(2100)}\r\nkeep;`)}`)).toEqual([
      'NO (QUOTA/MAXSIZE) "scripts may have at most 2048 octets"',
    ]);
    // a literal far over the limit is skipped unread and the connection goes on
    expect(await c.sieve(`PUTSCRIPT "huge" ${literal('x'.repeat(200_000))}`)).toEqual(['NO (QUOTA/MAXSIZE) "a string of 200000 octets is larger than 3072"']);
    for (const n of ['a', 'b', 'c']) expect(await c.sieve(`PUTSCRIPT "${n}" "keep;"`)).toEqual(['OK']);
    expect(await c.sieve('PUTSCRIPT "d" "keep;"')).toEqual(['NO (QUOTA/MAXSCRIPTS) "at most 3 scripts"']);
    expect(await c.sieve('HAVESPACE "d" 10')).toEqual(['NO (QUOTA/MAXSCRIPTS) "at most 3 scripts"']);
    expect(await c.sieve('PUTSCRIPT "a" "discard;"')).toEqual(['OK']); // replacing is no new script
    for (const n of ['a', 'b', 'c']) await c.sieve(`DELETESCRIPT "${n}"`);
    await c.sieve('LOGOUT');
  });

  it('bad input: long lines, bad names, bad strings, wrong argument types', async () => {
    const c = await login(BOB);
    expect(await c.sieve(`NOOP "${'x'.repeat(10_000)}"`)).toEqual(['NO "command line longer than 8192 octets"']);
    expect(await c.sieve('PUTSCRIPT "" "keep;"')).toEqual(['NO "not a valid script name (1 to 128 characters, no controls)"']);
    expect(await c.sieve('PUTSCRIPT "a\\x" "keep;"')).toEqual(['NO "a quoted string escapes only \\\\ and \\""']);
    expect(await c.sieve('HAVESPACE "a" "b"')).toEqual(['NO "HAVESPACE: argument 2 must be a number"']);
    expect(await c.sieve('PUTSCRIPT "a"')).toEqual(['NO "PUTSCRIPT takes 2 arguments"']);
    expect(await c.sieve('STARTTLS')).toEqual(['NO "STARTTLS is not allowed after login"']);
    expect(await c.sieve('NOOP')).toEqual(['OK "done"']);
    await c.sieve('LOGOUT');
  });
});

describe('sieve-connect (Debian)', () => {
  const missing = requirement('managesieve: sieve-connect', [commandNeed('sieve-connect')]);

  function sieveConnect(args: string[]): Promise<{ code: number; out: string }> {
    return new Promise((resolve, reject) => {
      const p = spawn(
        'sieve-connect',
        ['--server', '127.0.0.1', '--port', String(port), '--user', ALICE, '--passwordfd', '3', '--notlsverify', '--noclearauth', ...args],
        { stdio: ['ignore', 'pipe', 'pipe', 'pipe'] },
      );
      let out = '';
      p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      p.stderr!.on('data', (d: Buffer) => (out += d.toString()));
      (p.stdio[3] as NodeJS.WritableStream).end(`${PASSWORD}\n`);
      p.on('error', reject);
      p.on('close', (code) => resolve({ code: code ?? -1, out }));
    });
  }

  it.skipIf(missing !== null)('uploads, lists, activates, downloads and checks scripts', async () => {
    const file = join(fx.dir, 'vacation.sieve');
    const script = 'require ["vacation"];\nvacation :days 3 :subject "Away" "I am away.";\n';
    writeFileSync(file, script);
    let r = await sieveConnect(['--upload', '--localsieve', file, '--remotesieve', 'away']);
    expect(r.code, r.out).toBe(0);
    r = await sieveConnect(['--activate', '--remotesieve', 'away']);
    expect(r.code, r.out).toBe(0);
    r = await sieveConnect(['--list']);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain('"away" ACTIVE');
    const back = join(fx.dir, 'back.sieve');
    r = await sieveConnect(['--download', '--remotesieve', 'away', '--localsieve', back]);
    expect(r.code, r.out).toBe(0);
    expect(readFileSync(back, 'utf8')).toBe(script);
    const bad = join(fx.dir, 'bad.sieve');
    writeFileSync(bad, 'require "nonsense";\nkeep;\n');
    r = await sieveConnect(['--upload', '--localsieve', bad, '--remotesieve', 'bad']);
    expect(r.code).not.toBe(0);
    expect(r.out).toContain('line 1, column 9: unsupported extension');
    r = await sieveConnect(['--deactivate']);
    expect(r.code, r.out).toBe(0);
    r = await sieveConnect(['--delete', '--remotesieve', 'away']);
    expect(r.code, r.out).toBe(0);
    await expect(fx.mail.sieve.list(fx.mail.accounts.findUser(ALICE)!.id)).resolves.toEqual([]);
  });
});
