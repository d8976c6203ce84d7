/**
 * SCRAM-SHA-256 and SCRAM-SHA-256-PLUS over IMAP (issue 23; RFC 5802, RFC 7677), with GNU
 * SASL's client (`gsasl`, Debian's package gsasl) as the real client implementation: plain
 * SCRAM and -PLUS after STARTTLS (its channel binding: tls-exporter on TLS 1.3), a wrong
 * password refused, and no SCRAM for the account password once two-factor login is on. A client of the test's own, right in every other way, shows that a wrong
 * channel binding (the binding of another TLS connection: what a man in the middle would
 * relay) is refused while the right one is taken, and that `y` (a stripped -PLUS) is refused.
 */
import { spawnSync } from 'node:child_process';
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { generateSync } from 'otplib';
import { requirement, Talk } from '@postern/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFullInstance, type FullInstance } from '../attacks/lib/full-instance.js';

const gsasl = spawnSync('gsasl', ['--version'], { encoding: 'utf8' }).status === 0;
const gsaslMissing = requirement('SCRAM with a real client', [{ what: 'GNU SASL (gsasl)', ok: gsasl, install: 'apt-get install gsasl' }]);

let a: FullInstance;
const user = 'alice@a.test';
const password = 'alice-password';

beforeAll(async () => {
  a = await createFullInstance({ domain: 'a.test', users: { alice: password } });
  await a.start({ auth: { failure_delay: '1ms' } });
});
afterAll(async () => {
  await a?.stop();
});

function runGsasl(mechanism: string, pass: string, ...extra: string[]): { ok: boolean; out: string } {
  const r = spawnSync(
    'gsasl',
    [`--connect=127.0.0.1:${a.retrieval.imap}`, '--imap', '--starttls', '--x509-ca-file=', '-m', mechanism, '-a', user, '-p', pass, '--verbose', ...extra],
    {
      encoding: 'utf8',
      timeout: 30_000,
      input: '',
    },
  );
  return { ok: r.status === 0, out: `${r.stdout}\n${r.stderr}` };
}

describe.skipIf(gsaslMissing)('SCRAM over IMAP with GNU SASL', () => {
  it('logs in with SCRAM-SHA-256 and SCRAM-SHA-256-PLUS, and refuses a wrong password', () => {
    // without -PLUS, gsasl must be told not to bind: seeing -PLUS offered, it refuses to go
    // without it (its own downgrade check, RFC 5802 §6)
    const plain = runGsasl('SCRAM-SHA-256', password, '--no-cb');
    expect(plain.ok, plain.out).toBe(true);
    const plus = runGsasl('SCRAM-SHA-256-PLUS', password);
    expect(plus.ok, plus.out).toBe(true);
    expect(runGsasl('SCRAM-SHA-256-PLUS', 'wrong-password').ok).toBe(false);
  });

  it('refuses the account password by SCRAM once two-factor login is on', async () => {
    const m = a.db();
    const id = m.accounts.findUser(user)!.id;
    const { secret } = m.accounts.credentials.beginTotp(id, user, 'Postern');
    expect(await m.accounts.credentials.confirmTotp(id, generateSync({ secret }))).toHaveLength(10);
    try {
      expect(runGsasl('SCRAM-SHA-256-PLUS', password).ok).toBe(false);
    } finally {
      m.accounts.credentials.disableTotp(id);
    }
  });
});

/** The test's own SCRAM client over IMAP after STARTTLS, binding `binding` (tls-exporter) or not. */
class Client {
  private buffer = '';
  private constructor(private socket: Socket | TLSSocket) {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (this.buffer += d));
  }

  static async open(): Promise<Client> {
    const raw = netConnect(a.retrieval.imap, '127.0.0.1');
    const c = new Client(raw);
    await c.until(/^\* OK.*\r\n/m);
    await c.send('s STARTTLS');
    await c.until(/^s OK.*\r\n/m);
    raw.removeAllListeners('data');
    const secure = tlsConnect({ socket: raw, rejectUnauthorized: false, minVersion: 'TLSv1.3' });
    await new Promise((r) => secure.once('secureConnect', r));
    c.socket = secure;
    c.buffer = '';
    secure.setEncoding('utf8');
    secure.on('data', (d: string) => (c.buffer += d));
    return c;
  }

  get tls(): TLSSocket {
    return this.socket as TLSSocket;
  }

  async send(line: string): Promise<void> {
    this.socket.write(`${line}\r\n`);
  }

  async until(re: RegExp): Promise<string> {
    for (let i = 0; i < 400; i++) {
      const m = re.exec(this.buffer);
      if (m) {
        this.buffer = this.buffer.slice(m.index + m[0].length);
        return m[0];
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`no ${re} in ${this.buffer}`);
  }

  /** Runs the exchange; returns the tagged reply. */
  async scram(gs2: string, mechanism: string, binding: Buffer): Promise<string> {
    const cnonce = randomBytes(18).toString('base64');
    const bare = `n=${user},r=${cnonce}`;
    await this.send(`x AUTHENTICATE ${mechanism} ${Buffer.from(gs2 + bare).toString('base64')}`);
    const challenge = await this.until(/^(\+ [^\r\n]*|x (?:NO|BAD)[^\r\n]*)\r\n/m);
    if (challenge.startsWith('x ')) return challenge;
    const serverFirst = Buffer.from(challenge.slice(2).trim(), 'base64').toString('utf8');
    const attrs = new Map(serverFirst.split(',').map((p) => [p[0]!, p.slice(2)] as [string, string]));
    const salted = pbkdf2Sync(password, Buffer.from(attrs.get('s')!, 'base64'), Number(attrs.get('i')), 32, 'sha256');
    const clientKey = createHmac('sha256', salted).update('Client Key').digest();
    const storedKey = createHash('sha256').update(clientKey).digest();
    const withoutProof = `c=${Buffer.concat([Buffer.from(gs2), binding]).toString('base64')},r=${attrs.get('r')}`;
    const authMessage = `${bare},${serverFirst},${withoutProof}`;
    const signature = createHmac('sha256', storedKey).update(authMessage).digest();
    const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]!));
    await this.send(Buffer.from(`${withoutProof},p=${proof.toString('base64')}`).toString('base64'));
    const next = await this.until(/^(\+ [^\r\n]*|x (?:OK|NO|BAD)[^\r\n]*)\r\n/m);
    if (next.startsWith('x ')) return next;
    await this.send('');
    return this.until(/^x (?:OK|NO|BAD)[^\r\n]*\r\n/m);
  }

  close(): void {
    this.socket.destroy();
  }
}

/** client-final-message for `serverFirst` (RFC 5802 §3), the proof made from `pass`. */
function clientFinal(gs2: string, bare: string, serverFirst: string, binding: Buffer, pass: string): string {
  const attrs = new Map(serverFirst.split(',').map((p) => [p[0]!, p.slice(2)] as [string, string]));
  const salted = pbkdf2Sync(pass, Buffer.from(attrs.get('s')!, 'base64'), Number(attrs.get('i')), 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const withoutProof = `c=${Buffer.concat([Buffer.from(gs2), binding]).toString('base64')},r=${attrs.get('r')}`;
  const signature = createHmac('sha256', storedKey).update(`${bare},${serverFirst},${withoutProof}`).digest();
  return `${withoutProof},p=${Buffer.from(clientKey.map((b, i) => b ^ signature[i]!)).toString('base64')}`;
}

describe('SCRAM over POP3 (RFC 5034 AUTH)', () => {
  async function pop3Scram(pass: string): Promise<string> {
    const t = await Talk.open(a.retrieval.pop3);
    try {
      await t.until(/^\+OK.*\r\n/m);
      await t.write('CAPA\r\n');
      expect(await t.until(/^\.\r\n/m)).toMatch(/^SASL SCRAM-SHA-256 PLAIN\r$/m);
      const bare = `n=${user},r=${randomBytes(12).toString('base64')}`;
      await t.write(`AUTH SCRAM-SHA-256 ${Buffer.from(`n,,${bare}`).toString('base64')}\r\n`);
      const first = Buffer.from((await t.until(/^\+ (\S+)\r\n/m)).slice(2).trim(), 'base64').toString('utf8');
      await t.write(`${Buffer.from(clientFinal('n,,', bare, first, Buffer.alloc(0), pass)).toString('base64')}\r\n`);
      const reply = await t.until(/^(\+ \S+|-ERR[^\r\n]*)\r\n/m);
      if (reply.startsWith('-ERR')) return reply;
      await t.write('\r\n');
      return await t.until(/^[+-][^\r\n]*\r\n/m);
    } finally {
      t.close();
    }
  }

  it('logs in with the right password and refuses a wrong one', async () => {
    expect(await pop3Scram(password)).toMatch(/^\+OK maildrop/);
    expect(await pop3Scram('wrong-password')).toMatch(/^-ERR \[AUTH\]/);
  });
});

describe('SCRAM-SHA-256-PLUS channel binding', () => {
  it('takes the binding of this TLS connection and refuses that of another', async () => {
    const other = await Client.open();
    const c = await Client.open();
    try {
      const wrong = other.tls.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0));
      expect(await c.scram('p=tls-exporter,,', 'SCRAM-SHA-256-PLUS', wrong)).toMatch(/^x NO \[AUTHENTICATIONFAILED\]/);
      const right = c.tls.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0));
      expect(await c.scram('p=tls-exporter,,', 'SCRAM-SHA-256-PLUS', right)).toMatch(/^x OK/);
    } finally {
      c.close();
      other.close();
    }
  });

  it('takes tls-server-end-point, and refuses "y" (a client told -PLUS was not offered) over TLS', async () => {
    const c = await Client.open();
    try {
      const cert = c.tls.getPeerCertificate().raw;
      expect(await c.scram('y,,', 'SCRAM-SHA-256', Buffer.alloc(0))).toMatch(/^x NO/);
      expect(await c.scram('p=tls-server-end-point,,', 'SCRAM-SHA-256-PLUS', createHash('sha256').update(cert).digest())).toMatch(/^x OK/);
    } finally {
      c.close();
    }
  });
});
