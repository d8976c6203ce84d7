/**
 * Test fixture for the POP3 server: a temp data dir with mail.db, a self-signed certificate,
 * users, and servers on 127.0.0.1 port 0; a raw-socket client that can switch to TLS.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configFromObject, createLogger, ensureCertificate, openMailDb, TlsMaterial, type Config, type MailDb, type MessageIndex } from '@postern/core';
import { Talk } from '@postern/testkit';
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
  deliver(address: string, content: string | Buffer, prefix?: string): Promise<number>;
  inboxUids(address: string): Promise<number[]>;
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
    async deliver(address, content, prefix = '') {
      const buf = Buffer.isBuffer(content) ? content : Buffer.from(content);
      const [out] = await mail.store.deliver([{ userId: userId(address), prefix: Buffer.from(prefix), content: buf, index: index(buf) }]);
      if (!out?.ok) throw new Error('delivery failed');
      return out.uid;
    },
    async inboxUids(address) {
      const snap = (await mail.store.snapshot(userId(address), 'INBOX'))!;
      return [...snap.uids];
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

/** A raw POP3 conversation (@postern/testkit's Talk, UTF-8): status lines, multi-line bodies as bytes. */
export function connect(port: number, implicitTls = false): Promise<Talk> {
  // keep: a whole large message (the raw clients these tests had kept everything)
  return Talk.open(port, { tls: implicitTls, encoding: 'utf8', timeoutMs: WAIT_MS, keep: 256 * 1024 * 1024 });
}

/** Connects over STLS and logs in with USER/PASS; returns the client after `+OK`. */
export async function login(port: number, user: string, password = PASSWORD): Promise<Talk> {
  const c = await connect(port);
  await c.line();
  const stls = await c.pop3('STLS');
  if (!stls.startsWith('+OK')) throw new Error(stls);
  await c.upgrade();
  await c.pop3(`USER ${user}`);
  const pass = await c.pop3(`PASS ${password}`);
  if (!pass.startsWith('+OK')) throw new Error(pass);
  return c;
}
