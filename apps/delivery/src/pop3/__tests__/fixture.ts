/**
 * Test fixture for the POP3 server: a temp data dir with mail.db, a self-signed certificate,
 * users, and servers on 127.0.0.1 port 0; a raw-socket client that can switch to TLS.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import {
  configFromObject,
  createLogger,
  ensureCertificate,
  openMailDb,
  TlsMaterial,
  type Config,
  type MailDb,
  type MessageIndex,
} from '@postern/core';
import { startPop3Server, type Pop3Server, type Pop3ServerOptions } from '../index.js';

export const PASSWORD = 'correct horse battery';
const WAIT_MS = 4000;

export function index(content: Buffer): MessageIndex {
  return {
    size: content.length,
    headerEnd: 0,
    envelope: 'NIL',
    bodyStructure: '("text" "plain" NIL NIL NIL "7bit" 0 0)',
    body: '("text" "plain" NIL NIL NIL "7bit" 0 0)',
    parts: [],
    subject: 's',
    from: 'a@b.c',
    to: 'd@e.f',
    cc: '',
    bcc: '',
    fromAddress: 'a@b.c',
    messageId: null,
    inReplyTo: null,
    date: null,
    text: '',
    hasAttachments: false,
  };
}

export interface Fixture {
  dir: string;
  config: Config;
  mail: MailDb;
  tls: TlsMaterial;
  /** Delivers to a user's INBOX; returns the UID. */
  deliver(address: string, content: string | Buffer, prefix?: string): number;
  inboxUids(address: string): number[];
  start(extra?: Partial<Pop3ServerOptions> & { configOverrides?: Record<string, unknown> }): Promise<Pop3Server>;
  cleanup(): Promise<void>;
}

export async function createFixture(users: readonly string[], rawConfig: Record<string, unknown> = {}): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), 'postern-pop3-'));
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
  const servers: Pop3Server[] = [];
  const userId = (address: string): number => {
    const u = mail.accounts.findUser(address);
    if (!u) throw new Error(`no user ${address}`);
    return u.id;
  };
  return {
    dir,
    config,
    mail,
    tls,
    deliver(address, content, prefix = '') {
      const buf = Buffer.isBuffer(content) ? content : Buffer.from(content);
      const [out] = mail.store.deliver([{ userId: userId(address), prefix: Buffer.from(prefix), content: buf, index: index(buf) }]);
      if (!out?.ok) throw new Error('delivery failed');
      return out.uid;
    },
    inboxUids(address) {
      const mb = mail.store.mailbox(userId(address), 'INBOX')!;
      return [...mail.store.uids(mb.id)];
    },
    async start(extra = {}) {
      const { configOverrides, ...rest } = extra;
      const server = await startPop3Server({
        config: configOverrides ? make(configOverrides) : config,
        accounts: mail.accounts,
        store: mail.store,
        tls,
        logger: createLogger('pop3-test', 'silent'),
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

/** A raw POP3 conversation: send lines, read status lines and multi-line bodies as bytes. */
export class RawClient {
  private buf = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  closed = false;

  private constructor(private socket: Socket) {
    this.attach(socket);
  }

  static async connect(port: number, implicitTls = false): Promise<RawClient> {
    const socket = implicitTls
      ? tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false })
      : netConnect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      socket.once(implicitTls ? 'secureConnect' : 'connect', () => resolve());
      socket.once('error', reject);
    });
    return new RawClient(socket);
  }

  private attach(socket: Socket): void {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private async waitFor<T>(take: () => T | null, what: string): Promise<T> {
    for (;;) {
      const got = take();
      if (got !== null) return got;
      if (this.closed) throw new Error(`connection closed while waiting for ${what}; have ${JSON.stringify(this.buf.toString())}`);
      // Bounded: a reply that never comes fails the test with what did come, instead of hanging.
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

  /** The next reply line, without CRLF. */
  line(): Promise<string> {
    return this.waitFor(() => {
      const i = this.buf.indexOf('\r\n');
      if (i < 0) return null;
      const l = this.buf.subarray(0, i).toString('utf8');
      this.buf = this.buf.subarray(i + 2);
      return l;
    }, 'a line');
  }

  /** Sends a command and returns its status line. */
  async cmd(line: string): Promise<string> {
    this.send(line);
    return this.line();
  }

  /** The raw bytes of a multi-line body, up to and including the ".\r\n" terminator. */
  multiline(): Promise<Buffer> {
    return this.waitFor(() => {
      const atStart = this.buf.subarray(0, 3).equals(Buffer.from('.\r\n'));
      const i = atStart ? 0 : this.buf.indexOf('\r\n.\r\n');
      if (i < 0) return null;
      const end = atStart ? 3 : i + 5;
      const body = this.buf.subarray(0, end);
      this.buf = this.buf.subarray(end);
      return Buffer.from(body);
    }, 'a multi-line body');
  }

  /** Lines of a multi-line body, terminator dropped. */
  async lines(): Promise<string[]> {
    const body = (await this.multiline()).toString('utf8');
    return body.split('\r\n').slice(0, -2);
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

/** Connects over STLS and logs in with USER/PASS; returns the client after `+OK`. */
export async function login(port: number, user: string, password = PASSWORD): Promise<RawClient> {
  const c = await RawClient.connect(port);
  await c.line();
  const stls = await c.cmd('STLS');
  if (!stls.startsWith('+OK')) throw new Error(stls);
  await c.startTls();
  await c.cmd(`USER ${user}`);
  const pass = await c.cmd(`PASS ${password}`);
  if (!pass.startsWith('+OK')) throw new Error(pass);
  return c;
}
