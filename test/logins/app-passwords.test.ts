/**
 * App passwords (issue 23) with real clients: made with `postern user app-password add`, used by
 * imapflow (IMAP), nodemailer (SMTP submission) and curl (IMAP and POP3); a password limited to
 * IMAP is refused by POP3 and SMTP; a revoked one stops working; with two-factor login on, the
 * account password no longer works for any of them while app passwords do; the logins show in
 * `postern user logins`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { generateSync } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFullInstance, type FullInstance } from '../attacks/lib/full-instance.js';

const bin = fileURLToPath(new URL('../../apps/cli/bin/postern.js', import.meta.url));
let a: FullInstance;
const alice = 'alice@a.test';

beforeAll(async () => {
  a = await createFullInstance({ domain: 'a.test', users: { alice: 'alice-password', bob: 'bob-password' } });
  await a.start({ auth: { failure_delay: '1ms' } });
});
afterAll(async () => {
  await a?.stop();
});

function postern(...args: string[]): string {
  const r = spawnSync(process.execPath, [bin, '--config', a.configFile, ...args], { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`postern ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

function addAppPassword(name: string, protocols?: string): string {
  const out = postern('user', 'app-password', 'add', alice, name, ...(protocols ? ['--protocols', protocols] : []));
  const secret = /^ {2}([a-z]{4} [a-z]{4} [a-z]{4} [a-z]{4})$/m.exec(out)?.[1];
  if (!secret) throw new Error(`no app password in ${out}`);
  return secret;
}

async function imapflow(user: string, pass: string): Promise<boolean> {
  const client = new ImapFlow({
    host: '127.0.0.1',
    port: a.retrieval.imap,
    secure: false,
    auth: { user, pass },
    logger: false,
    tls: { rejectUnauthorized: false },
  });
  try {
    await client.connect();
    await client.logout();
    return true;
  } catch (err) {
    if ((err as { authenticationFailed?: boolean }).authenticationFailed) return false;
    throw err;
  }
}

async function nodemailerSend(user: string, pass: string): Promise<boolean> {
  const t = nodemailer.createTransport({
    host: '127.0.0.1',
    port: a.ports.submission,
    secure: false,
    auth: { user, pass },
    tls: { rejectUnauthorized: false },
  });
  try {
    await t.sendMail({ from: alice, to: 'bob@a.test', subject: 'from a device', text: 'hello' });
    return true;
  } catch (err) {
    if ((err as { code?: string }).code === 'EAUTH') return false;
    throw err;
  } finally {
    t.close();
  }
}

/** curl's exit status: 0 logged in, 67 (CURLE_LOGIN_DENIED) refused. */
function curl(url: string, user: string, pass: string): Promise<number> {
  return new Promise((resolve, reject) => {
    // the credentials through a config on stdin, not argv (where ps would show them)
    const child = spawn('curl', ['--silent', '--max-time', '20', '--ssl', '--insecure', '--config', '-', url], { stdio: ['pipe', 'ignore', 'ignore'] });
    child.stdin.end(`user = "${user}:${pass}"\n`);
    child.once('error', reject);
    child.once('exit', (code) => resolve(code ?? -1));
  });
}
const curlImap = (user: string, pass: string): Promise<number> => curl(`imap://127.0.0.1:${a.retrieval.imap}/INBOX`, user, pass);
const curlPop3 = (user: string, pass: string): Promise<number> => curl(`pop3://127.0.0.1:${a.retrieval.pop3}/`, user, pass);

describe('app passwords', () => {
  it('log in with imapflow, nodemailer and curl, for the protocols they name', async () => {
    const all = addAppPassword('laptop');
    expect(await imapflow(alice, all)).toBe(true);
    expect(await nodemailerSend(alice, all.replace(/ /g, ''))).toBe(true);
    expect(await curlImap(alice, all)).toBe(0);
    expect(await curlPop3(alice, all.toUpperCase())).toBe(0);
    const imapOnly = addAppPassword('tablet', 'imap');
    expect(await curlImap(alice, imapOnly)).toBe(0);
    expect(await curlPop3(alice, imapOnly)).toBe(67);
    expect(await nodemailerSend(alice, imapOnly)).toBe(false);
    // bob cannot use alice's
    expect(await imapflow('bob@a.test', all)).toBe(false);
    const listed = JSON.parse(postern('user', 'app-password', 'list', alice, '--json')) as Array<{ name: string; protocols: string[] }>;
    expect(listed.map((p) => [p.name, p.protocols])).toEqual([
      ['laptop', ['all']],
      ['tablet', ['imap']],
    ]);
    expect(JSON.stringify(listed)).not.toContain(all.slice(5));
    postern('user', 'app-password', 'revoke', alice, 'tablet');
    expect(await curlImap(alice, imapOnly)).toBe(67);
    expect(await imapflow(alice, all)).toBe(true);
  });

  it('are the only passwords devices can use once two-factor login is on', async () => {
    const phone = addAppPassword('phone');
    expect(await imapflow(alice, 'alice-password')).toBe(true);
    const m = a.db();
    const user = m.accounts.findUser(alice)!;
    const { secret } = m.accounts.credentials.beginTotp(user.id, alice, 'Postern');
    expect(await m.accounts.credentials.confirmTotp(user.id, generateSync({ secret }))).toHaveLength(10);
    expect(await imapflow(alice, 'alice-password')).toBe(false);
    expect(await nodemailerSend(alice, 'alice-password')).toBe(false);
    expect(await curlPop3(alice, 'alice-password')).toBe(67);
    expect(await imapflow(alice, phone)).toBe(true);
    expect(await nodemailerSend(alice, phone)).toBe(true);
    expect(await curlPop3(alice, phone)).toBe(0);
    postern('user', 'two-factor-off', alice);
    expect(await imapflow(alice, 'alice-password')).toBe(true);
  });

  it('shows the last logins per protocol', () => {
    const logins = JSON.parse(postern('user', 'logins', alice, '--json')) as Array<{ protocol: string; from: string }>;
    expect(new Set(logins.map((l) => l.protocol))).toEqual(new Set(['imap', 'pop3', 'smtp']));
    expect(logins.every((l) => l.from === '127.0.0.1')).toBe(true);
  });
});
