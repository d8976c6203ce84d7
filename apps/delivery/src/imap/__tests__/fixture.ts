/**
 * Test fixture for the IMAP server: a temp data dir with mail.db, a self-signed certificate,
 * users, servers on 127.0.0.1 port 0, deliveries indexed by @postern/mime as LMTP does, and a
 * raw-socket client for exact conversations.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { configFromObject, createLogger, ensureCertificate, openMailDb, TlsMaterial, type Config, type MailDb } from '@postern/core';
import { indexMessage } from '@postern/mime';
import { ImapFlow } from 'imapflow';
import { startImapServer, type ImapServer, type ImapServerOptions } from '../index.js';

export const PASSWORD = 'correct horse battery';
const WAIT_MS = 5000;

export interface Fixture {
  dir: string;
  config: Config;
  mail: MailDb;
  userId(address: string): number;
  deliver(address: string, content: string | Buffer, mailbox?: string, prefix?: string): number;
  start(extra?: Partial<ImapServerOptions> & { configOverrides?: Record<string, unknown> }): Promise<ImapServer>;
  cleanup(): Promise<void>;
}

export async function createFixture(users: readonly string[], rawConfig: Record<string, unknown> = {}): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), 'postern-imap-'));
  const make = (overrides: Record<string, unknown>): Config =>
    configFromObject(
      {
        hostname: 'mail.example.test',
        data_dir: dir,
        auth: { failure_delay: '1ms', max_failures_per_account: 3, max_failures_per_ip: 1000 },
        ...rawConfig,
        ...overrides,
      },
      join(dir, 'postern.toml'),
    );
  const config = make({});
  await ensureCertificate(config.tlsCert, config.tlsKey, 'localhost');
  const mail = openMailDb(config);
  mail.accounts.addDomain('example.test');
  for (const u of users) await mail.accounts.addUser(u, PASSWORD);
  const tls = new TlsMaterial(config.tlsCert, config.tlsKey);
  const servers: ImapServer[] = [];
  const userId = (address: string): number => {
    const u = mail.accounts.findUser(address);
    if (!u) throw new Error(`no user ${address}`);
    return u.id;
  };
  return {
    dir,
    config,
    mail,
    userId,
    deliver(address, content, mailbox, prefix = '') {
      const buf = Buffer.isBuffer(content) ? content : Buffer.from(content);
      const [out] = mail.store.deliver([
        { userId: userId(address), prefix: Buffer.from(prefix), content: buf, index: indexMessage(buf), ...(mailbox ? { mailbox } : {}) },
      ]);
      if (!out?.ok) throw new Error('delivery failed');
      return out.uid;
    },
    async start(extra = {}) {
      const { configOverrides, ...rest } = extra;
      const server = await startImapServer({
        config: configOverrides ? make(configOverrides) : config,
        accounts: mail.accounts,
        store: mail.store,
        tls,
        logger: createLogger('imap-test', 'silent'),
        listen: '127.0.0.1:0',
        implicitTls: false,
        ...rest,
      });
      servers.push(server);
      return server;
    },
    async cleanup() {
      for (const s of servers) await s.close();
      mail.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** imapflow over STARTTLS with our self-signed certificate. */
export async function flow(port: number, user: string, password = PASSWORD): Promise<ImapFlow> {
  const client = new ImapFlow({
    host: '127.0.0.1',
    port,
    secure: false,
    tls: { rejectUnauthorized: false },
    auth: { user, pass: password },
    logger: false,
    connectionTimeout: WAIT_MS,
  });
  await client.connect();
  return client;
}

/** A message as a client would write it. */
export function message(n: number, extra: { subject?: string; body?: string; from?: string; headers?: string } = {}): string {
  return (
    `From: ${extra.from ?? `Sender ${n} <sender${n}@example.org>`}\r\n` +
    `To: Alice <alice@example.test>\r\n` +
    `Subject: ${extra.subject ?? `Message ${n}`}\r\n` +
    `Date: Mon, 1 Jan 2024 10:00:${String(n % 60).padStart(2, '0')} +0000\r\n` +
    `Message-ID: <m${n}@example.org>\r\n` +
    (extra.headers ?? '') +
    `\r\n` +
    `${extra.body ?? `Body of message ${n}.`}\r\n`
  );
}

/** A raw IMAP conversation: send lines, read response lines (literals included in the line text). */
export class RawClient {
  private buf = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  closed = false;

  private constructor(private socket: Socket) {
    this.attach(socket);
  }

  static async connect(port: number, implicitTls = false): Promise<RawClient> {
    const socket = implicitTls ? tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false }) : netConnect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      socket.once(implicitTls ? 'secureConnect' : 'connect', () => resolve());
      socket.once('error', reject);
    });
    return new RawClient(socket);
  }

  private attach(socket: Socket): void {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on('close', () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on('error', () => undefined);
  }

  private async waitFor<T>(take: () => T | null, what: string): Promise<T> {
    for (;;) {
      const got = take();
      if (got !== null) return got;
      if (this.closed) throw new Error(`connection closed while waiting for ${what}; have ${JSON.stringify(this.buf.toString().slice(0, 500))}`);
      const timedOut = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(true), WAIT_MS);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve(false);
        });
      });
      if (timedOut) throw new Error(`no ${what} within ${WAIT_MS} ms; have ${JSON.stringify(this.buf.toString().slice(0, 500))}`);
    }
  }

  send(data: string | Buffer): void {
    this.socket.write(typeof data === 'string' ? `${data}\r\n` : data);
  }

  /** The next response line without CRLF; a literal `{n}` is read whole and kept inline. */
  line(): Promise<string> {
    return this.waitFor(() => {
      let pos = 0;
      for (;;) {
        const i = this.buf.indexOf('\r\n', pos);
        if (i < 0) return null;
        const m = /\{(\d+)\}$/.exec(this.buf.subarray(pos, i).toString('latin1'));
        if (m) {
          const end = i + 2 + Number(m[1]);
          if (this.buf.length < end) return null;
          pos = end;
          continue;
        }
        const l = this.buf.subarray(0, i).toString('utf8');
        this.buf = this.buf.subarray(i + 2);
        return l;
      }
    }, 'a line');
  }

  /** Sends a tagged command and returns every line up to and including the tagged one. */
  async cmd(line: string, tag = line.split(' ')[0] as string): Promise<string[]> {
    this.send(line);
    return this.until(tag);
  }

  async until(tag: string): Promise<string[]> {
    const out: string[] = [];
    for (;;) {
      const l = await this.line();
      out.push(l);
      if (l.startsWith(`${tag} `)) return out;
    }
  }

  async startTls(): Promise<void> {
    this.socket.removeAllListeners('data');
    const secure = tlsConnect({ socket: this.socket, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    this.socket = secure;
    this.attach(secure);
  }

  async waitClosed(): Promise<void> {
    await this.waitFor(() => (this.closed ? true : null), 'close').catch(() => undefined);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Connects over STARTTLS and logs in; returns the client after the tagged OK. */
export async function login(port: number, user: string, password = PASSWORD): Promise<RawClient> {
  const c = await RawClient.connect(port);
  await c.line();
  const st = await c.cmd('s1 STARTTLS');
  if (!st.at(-1)?.startsWith('s1 OK')) throw new Error(st.join('\n'));
  await c.startTls();
  const r = await c.cmd(`l1 LOGIN "${user}" "${password}"`);
  if (!r.at(-1)?.startsWith('l1 OK')) throw new Error(r.join('\n'));
  return c;
}
