/**
 * Relaying through a real Postfix as the smarthost (Debian's postfix; AUTH through Cyrus
 * sasldb needs sasl2-bin and libsasl2-modules): one that offers no STARTTLS (we must not send
 * it), one with STARTTLS and a certificate from a private CA (`smarthost_ca`), and one that
 * wants SMTP AUTH (credentials from `smarthost_auth_file`). Postfix relays what it accepts to a
 * recording SMTP server; the bytes that arrive there are checked.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startFakeRemote, type FakeRemote } from '../lib/fake-remote.js';
import { createInstance, freePort, waitFor, type Instance } from '../lib/instance.js';
import { commandNeed, requirement, rootNeed } from '@postern/testkit';
import { privateCa, startPostfix, type Postfix } from '../lib/postfix.js';

const missing =
  requirement('relaying through a Postfix smarthost', [
    rootNeed('root (Postfix runs its master as root)'),
    commandNeed('postfix'),
    commandNeed('saslpasswd2', 'sasl2-bin libsasl2-modules'),
    commandNeed('openssl'),
  ]) !== null;

const driver = join(import.meta.dirname, '../../apps/cli/bin/postern.js');
let a: Instance | null = null;
let pf: Postfix | null = null;
let sink: FakeRemote | null = null;

afterEach(async () => {
  await a?.stop();
  await pf?.stop();
  await sink?.close();
  a = pf = sink = null;
});

/** Queues one message for someone@remote.test with `postern sendmail` and waits for the sink. */
async function relayOne(subject: string): Promise<string> {
  const r = spawnSync(process.execPath, [driver, '--config', a!.configFile, 'sendmail', '-f', 'alice@a.test', 'someone@remote.test'], {
    input: `From: alice@a.test\nTo: someone@remote.test\nSubject: ${subject}\n\nrelayed body\n`,
    encoding: 'utf8',
  });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  const got = await waitFor(
    () => sink!.received.find((m) => m.data.includes(`Subject: ${subject}`)) ?? null,
    30_000,
    `"${subject}" at the sink: ${a!.logs('transfer').slice(-1500)}\n${pf!.log().slice(-1500)}`,
  );
  expect(got.to).toEqual(['someone@remote.test']);
  expect(got.data).toMatch(/\r\n\r\nrelayed body\r\n$/);
  return got.data;
}

/**
 * A sink, a Postfix relaying to it, and our instance with `transfer` settings that
 * `settings(instanceDir, postfixPort)` returns (it may write files there first).
 */
async function setUp(
  postfix: (port: number, relayhost: string) => Promise<Postfix>,
  settings: (dir: string, port: number) => Record<string, unknown>,
): Promise<void> {
  sink = await startFakeRemote();
  pf = await postfix(await freePort(), `127.0.0.1:${sink.port}`);
  a = await createInstance({ domain: 'a.test', users: { alice: 'alice-password' } });
  await a.start({ transfer: settings(a.dir, pf.port) });
}

describe.skipIf(missing)('a Postfix smarthost', () => {
  it('without STARTTLS: relays in plaintext and never sends STARTTLS that was not offered', async () => {
    await setUp(
      (port, relayhost) => startPostfix({ port, relayhost }),
      (_dir, port) => ({ smarthost: `127.0.0.1:${port}` }),
    );
    const data = await relayOne('plain relay');
    expect(data).toMatch(/^Received: from mail\.a\.test \(localhost \[127\.0\.0\.1\]\)\r\n\tby relay\.test \(Postfix\) with ESMTP /m);
    expect(pf!.log()).not.toMatch(/STARTTLS/i);
  });

  it('with STARTTLS and a private CA: verified TLS (smarthost_ca), required', async () => {
    const pki = privateCa(mkdtempSync(join(tmpdir(), 'postern-ca-')), 'localhost');
    await setUp(
      (port, relayhost) => startPostfix({ port, relayhost, tls: { cert: pki.cert, key: pki.key } }),
      (_dir, port) => ({ smarthost: `localhost:${port}`, smarthost_tls: 'starttls', smarthost_ca: pki.ca }),
    );
    const data = await relayOne('tls relay');
    expect(data).toMatch(/\(using TLSv1\.[23] /);
  });

  it('with AUTH: credentials from smarthost_auth_file', async () => {
    const user = 'relayuser';
    const password = 'relay secret: with a colon';
    await setUp(
      (port, relayhost) => startPostfix({ port, relayhost, auth: { user, password } }),
      (dir, port) => {
        writeFileSync(join(dir, 'smarthost.auth'), `${user}:${password}\n`, { mode: 0o600 });
        return { smarthost: `127.0.0.1:${port}`, smarthost_auth_file: 'smarthost.auth' };
      },
    );
    const data = await relayOne('auth relay');
    expect(data).toMatch(/\(Authenticated sender: relayuser@relay\.test\)\r\n\tby relay\.test \(Postfix\) with ESMTPA /);
  });
});
