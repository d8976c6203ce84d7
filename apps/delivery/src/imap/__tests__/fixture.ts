/**
 * Test fixture for the IMAP server: a temp data dir with mail.db, a self-signed certificate,
 * users, servers on 127.0.0.1 port 0, deliveries indexed by @postern/mime as LMTP does, and a
 * raw-socket client for exact conversations.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configFromObject, createLogger, ensureCertificate, openMailDb, TlsMaterial, type Config, type MailDb } from '@postern/core';
import { indexMessage } from '@postern/mime';
import { Talk } from '@postern/testkit';
import { ImapFlow } from 'imapflow';
import { startImapServer, type ImapServer, type ImapServerOptions } from '../index.js';

export const PASSWORD = 'correct horse battery';
const WAIT_MS = 5000;

export interface Fixture {
  dir: string;
  config: Config;
  mail: MailDb;
  userId(address: string): number;
  deliver(address: string, content: string | Buffer, mailbox?: string, prefix?: string): Promise<number>;
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
    async deliver(address, content, mailbox, prefix = '') {
      const buf = Buffer.isBuffer(content) ? content : Buffer.from(content);
      const [out] = await mail.store.deliver([
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

/** A raw IMAP conversation (@postern/testkit's Talk, UTF-8, literals inline in `imapLine`). */
export function connect(port: number, implicitTls = false): Promise<Talk> {
  // keep: a whole large message (the raw clients these tests had kept everything)
  return Talk.open(port, { tls: implicitTls, encoding: 'utf8', timeoutMs: WAIT_MS, keep: 256 * 1024 * 1024 });
}

/** Connects over STARTTLS and logs in; returns the client after the tagged OK. */
export async function login(port: number, user: string, password = PASSWORD): Promise<Talk> {
  const c = await connect(port);
  await c.imapLine();
  const st = await c.imap('s1 STARTTLS');
  if (!st.at(-1)?.startsWith('s1 OK')) throw new Error(st.join('\n'));
  await c.upgrade();
  const r = await c.imap(`l1 LOGIN "${user}" "${password}"`);
  if (!r.at(-1)?.startsWith('l1 OK')) throw new Error(r.join('\n'));
  return c;
}
