/**
 * What the webmail tests run against: a webmail URL in front of an IMAP server and a submission
 * server, two users, and a way to send mail into the system from outside the browser (a real
 * SMTP client, as another person's mail program would).
 */
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';

export interface User {
  address: string;
  password: string;
}

export interface Backend {
  name: string;
  /** http://127.0.0.1:PORT of the webmail. */
  url: string;
  me: User;
  other: User;
  imap: { host: string; port: number };
  smtp: { host: string; port: number };
  /** The server's message size limit (bytes). */
  messageSize: number;
  /** Does submission refuse an unknown local recipient at RCPT (rather than bounce it later)? */
  refusesUnknownRecipients: boolean;
  /** A second webmail on the same servers whose sessions last `ms` (for the expiry test). */
  shortSessionWebmail(ms: number): Promise<{ url: string; close(): Promise<void> }>;
  close(): Promise<void>;
}

/** Sends a message as `from` through the backend's submission service. */
export async function sendAs(b: Backend, from: User, to: string, raw: string | Buffer): Promise<void> {
  const t = nodemailer.createTransport({
    host: b.smtp.host,
    port: b.smtp.port,
    secure: false,
    auth: { user: from.address, pass: from.password },
    tls: { rejectUnauthorized: false },
  });
  try {
    await t.sendMail({ envelope: { from: from.address, to: [to] }, raw });
  } finally {
    t.close();
  }
}

/** Runs `fn` with an IMAP connection logged in as `user` (the test's own view of the mailbox). */
export async function withImap<T>(b: Backend, user: User, fn: (c: ImapFlow) => Promise<T>): Promise<T> {
  const c = new ImapFlow({
    host: b.imap.host,
    port: b.imap.port,
    secure: false,
    auth: { user: user.address, pass: user.password },
    tls: { rejectUnauthorized: false },
    logger: false,
    disableAutoIdle: true,
  });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.logout().catch(() => c.close());
  }
}

/** Subjects in a folder, newest last. */
export async function subjects(b: Backend, user: User, folder: string): Promise<string[]> {
  return withImap(b, user, async (c) => {
    const lock = await c.getMailboxLock(folder);
    try {
      if (!c.mailbox || c.mailbox.exists === 0) return [];
      const out: string[] = [];
      for await (const m of c.fetch('1:*', { envelope: true })) out.push(m.envelope?.subject ?? '');
      return out;
    } finally {
      lock.release();
    }
  });
}

/** The raw source of the newest message in `folder` whose subject is `subject`. */
export async function sourceOf(b: Backend, user: User, folder: string, subject: string): Promise<string | null> {
  return withImap(b, user, async (c) => {
    const lock = await c.getMailboxLock(folder);
    try {
      const uids = (await c.search({ subject }, { uid: true })) || [];
      const uid = uids[uids.length - 1];
      if (uid === undefined) return null;
      const m = await c.fetchOne(String(uid), { source: true }, { uid: true });
      return m && m.source ? m.source.toString('utf8') : null;
    } finally {
      lock.release();
    }
  });
}

/** The bytes of the first attachment of the newest message with this subject (IMAP download). */
export async function attachmentOf(b: Backend, user: User, folder: string, subject: string): Promise<{ filename: string; content: Buffer } | null> {
  return withImap(b, user, async (c) => {
    const lock = await c.getMailboxLock(folder);
    try {
      const uids = (await c.search({ subject }, { uid: true })) || [];
      const uid = uids[uids.length - 1];
      if (uid === undefined) return null;
      const m = await c.fetchOne(String(uid), { bodyStructure: true }, { uid: true });
      const parts: Array<{ part?: string; disposition?: string; dispositionParameters?: Record<string, string> }> = [];
      const walk = (n: { part?: string; disposition?: string; dispositionParameters?: Record<string, string>; childNodes?: unknown[] }): void => {
        if (n.childNodes?.length) for (const child of n.childNodes) walk(child as typeof n);
        else parts.push(n);
      };
      if (m && m.bodyStructure) walk(m.bodyStructure);
      const att = parts.find((p) => p.disposition === 'attachment');
      if (!att?.part) return null;
      const d = await c.download(String(uid), att.part, { uid: true });
      if (!d.content) return null;
      const chunks: Buffer[] = [];
      for await (const chunk of d.content) chunks.push(chunk as Buffer);
      return { filename: att.dispositionParameters?.['filename'] ?? '', content: Buffer.concat(chunks) };
    } finally {
      lock.release();
    }
  });
}
