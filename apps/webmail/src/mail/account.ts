/**
 * One user's mailbox as the webmail sees it: an IMAP client (imapflow) logged in with the
 * user's own credentials, exactly as Thunderbird would be. Every operation takes the mailbox
 * lock (SELECT once, then reuse), so concurrent requests of one session queue instead of
 * interleaving. A dropped connection is re-opened on the next request.
 *
 * Paging never fetches a whole mailbox: page N newest-first is the sequence range
 * `exists-50N-49 : exists-50N`, which the server answers from its index.
 */
import type { Readable } from 'node:stream';
import { ImapFlow, type FetchMessageObject, type ListResponse, type MessageAddressObject, type MessageStructureObject, type SearchObject } from 'imapflow';
import type { Logger } from '@postern/core';
import { headerFields, unfoldedValue } from '@postern/header';
import type { Endpoint } from '../endpoints.js';
import { hasAttachment, messageParts, type MessageParts } from './structure.js';

export class LoginError extends Error {
  constructor(
    /** auth: the server said no to these credentials; refused: it refused the login for now
     * whatever the credentials (too many connections, locked out: RFC 5530 LIMIT, UNAVAILABLE);
     * unavailable: it could not be asked. */
    readonly kind: 'auth' | 'refused' | 'unavailable',
    message: string,
    /** The server's response code (RFC 5530), when it gave one. */
    readonly code?: string,
  ) {
    super(message);
    this.name = 'LoginError';
  }
}

/** The server has no such folder (RFC 5530 NONEXISTENT): the page asked for one that is not there. */
export class NoSuchFolder extends Error {
  constructor(readonly folder: string) {
    super(`no folder ${folder}`);
    this.name = 'NoSuchFolder';
  }
}

/** Opens (selects) a folder, telling a folder that does not exist apart from any other failure. */
export async function openFolder<T>(path: string, open: () => Promise<T>): Promise<T> {
  try {
    return await open();
  } catch (err) {
    const e = err as { serverResponseCode?: string; responseText?: string };
    // RFC 5530 §3; a server that gives no code says so in words (Dovecot: "Mailbox doesn't exist")
    if (
      e.serverResponseCode?.toUpperCase() === 'NONEXISTENT' ||
      (e.serverResponseCode === undefined && /\b(?:doesn't|does not|not) exist|no such mailbox|unknown mailbox/i.test(e.responseText ?? ''))
    ) {
      throw new NoSuchFolder(path);
    }
    throw err;
  }
}

export interface Address {
  name: string;
  address: string;
}

export interface Folder {
  path: string;
  name: string;
  depth: number;
  specialUse: string | null;
  unseen: number;
  messages: number;
  selectable: boolean;
}

export interface MessageSummary {
  uid: number;
  seq: number;
  flags: string[];
  from: Address[];
  to: Address[];
  subject: string;
  date: Date | null;
  size: number;
  hasAttachment: boolean;
}

export interface MessagePage {
  folder: string;
  /** Messages in the folder (or matches of the search). */
  total: number;
  page: number;
  pageSize: number;
  messages: MessageSummary[];
}

export interface MessageDetail extends MessageSummary {
  cc: Address[];
  bcc: Address[];
  replyTo: Address[];
  messageId: string;
  inReplyTo: string;
  references: string;
  parts: MessageParts;
}

export type SearchField = 'all' | 'from' | 'subject' | 'text';

export const PAGE_SIZE = 50;
/** A text part larger than this is cut (a reader shows the start, the download has it all). */
const TEXT_LIMIT = 2 * 1024 * 1024;

function addresses(list: MessageAddressObject[] | undefined): Address[] {
  return (list ?? []).map((a) => ({ name: a.name ?? '', address: a.address ?? '' })).filter((a) => a.address !== '' || a.name !== '');
}

function toDate(value: Date | string | undefined): Date | null {
  if (!value) return null;
  const d = value instanceof Date ? value : new Date(value);
  return Number.isNaN(d.getTime()) ? null : d;
}

function summary(m: FetchMessageObject): MessageSummary {
  const env = m.envelope;
  return {
    uid: m.uid,
    seq: m.seq,
    flags: [...(m.flags ?? [])],
    from: addresses(env?.from),
    to: addresses(env?.to),
    subject: env?.subject ?? '',
    date: toDate(env?.date) ?? toDate(m.internalDate),
    size: m.size ?? 0,
    hasAttachment: hasAttachment(m.bodyStructure),
  };
}

/** The first field named `name` (lowercase) in a `headers` fetch (raw lines), unfolded. */
export function headerValue(raw: Buffer | undefined, name: string): string {
  const field = raw ? headerFields(raw, new Set([name]))[0] : undefined;
  return field ? unfoldedValue(field) : '';
}

const SUMMARY_QUERY = { uid: true, flags: true, envelope: true, size: true, bodyStructure: true, internalDate: true } as const;

export interface SpecialFolders {
  sent: string;
  drafts: string;
  trash: string;
}

export class MailAccount {
  private client: ImapFlow | null = null;
  private connecting: Promise<ImapFlow> | null = null;
  private special: SpecialFolders | null = null;

  private constructor(
    private readonly endpoint: Endpoint,
    readonly user: string,
    private readonly password: string,
    private readonly logger: Logger,
    /** The browser's address at login: every later connection of the session names it, so a
     * server that throttles by source lets the session back in as the source that logged in. */
    readonly clientIp: string | undefined,
  ) {}

  /** Logs in (the webmail's password check); resolves to a connected account. */
  static async login(endpoint: Endpoint, user: string, password: string, logger: Logger, clientIp?: string): Promise<MailAccount> {
    const account = new MailAccount(endpoint, user, password, logger, clientIp);
    account.client = await MailAccount.connect(endpoint, user, password, logger, false, clientIp);
    account.watchClose(account.client);
    return account;
  }

  private watchClose(c: ImapFlow): void {
    c.on('close', () => {
      if (this.client === c) this.client = null;
    });
  }

  /** A new, separate connection with the same credentials (for IDLE on one folder). */
  static async connect(endpoint: Endpoint, user: string, password: string, logger: Logger, watcher: boolean, clientIp?: string): Promise<ImapFlow> {
    const client = new ImapFlow({
      host: endpoint.host,
      port: endpoint.port,
      secure: endpoint.implicitTls,
      doSTARTTLS: endpoint.implicitTls ? undefined : endpoint.requireTls ? true : undefined,
      tls: endpoint.tls,
      auth: { user, pass: password },
      // imapflow's own logger would see protocol lines; ours records errors only.
      logger: false,
      // The command connection never idles; a watcher re-issues IDLE every few minutes so that
      // neither side's inactivity timer (RFC 9051 §5.4: at least 30 minutes) ends it.
      disableAutoIdle: true,
      ...(watcher ? { maxIdleTime: 4 * 60_000 } : {}),
      // x-originating-ip (the Dovecot convention for proxies and webmails, RFC 2971 ID) lets a
      // server that trusts us throttle by the browser's address instead of ours.
      clientInfo: { name: 'Postern webmail', ...(clientIp ? { 'x-originating-ip': clientIp } : {}) },
      connectionTimeout: 15_000,
      greetingTimeout: 15_000,
      socketTimeout: 10 * 60_000,
    });
    client.on('error', (err: Error) => logger.warn({ err: err.message, user }, 'imap connection error'));
    try {
      await client.connect();
    } catch (err) {
      client.close();
      const e = err as { authenticationFailed?: boolean; serverResponseCode?: string; response?: string; message?: string };
      // imapflow marks every NO to LOGIN authenticationFailed; only AUTHENTICATIONFAILED, or a NO
      // without a response code (servers that give none), says the credentials are wrong.
      const code = e.serverResponseCode?.toUpperCase();
      if (code === 'AUTHENTICATIONFAILED' || (e.authenticationFailed && code === undefined)) throw new LoginError('auth', 'wrong address or password');
      if (e.authenticationFailed)
        throw new LoginError('refused', (e.response ?? e.message ?? code ?? '').replace(/^.*?\bNO\s+(\[[^\]]*\]\s*)?/i, '').trim(), code);
      throw new LoginError('unavailable', e.message ?? String(err));
    }
    return client;
  }

  private async connection(): Promise<ImapFlow> {
    if (this.client?.usable) return this.client;
    if (this.connecting) return this.connecting;
    this.connecting = MailAccount.connect(this.endpoint, this.user, this.password, this.logger, false, this.clientIp)
      .then((c) => {
        this.client = c;
        this.watchClose(c);
        return c;
      })
      .finally(() => {
        this.connecting = null;
      });
    return this.connecting;
  }

  /** Runs `fn` with `path` selected and locked. */
  private async inFolder<T>(path: string, fn: (c: ImapFlow) => Promise<T>): Promise<T> {
    const c = await this.connection();
    const lock = await openFolder(path, () => c.getMailboxLock(path));
    try {
      return await fn(c);
    } finally {
      lock.release();
    }
  }

  async close(): Promise<void> {
    const c = this.client;
    this.client = null;
    if (c?.usable) await c.logout().catch(() => c.close());
    else c?.close();
  }

  async folders(): Promise<Folder[]> {
    const c = await this.connection();
    const list = await c.list({ statusQuery: { messages: true, unseen: true } });
    this.special = specialFolders(list, this.special);
    const order = ['\\Inbox', '\\Drafts', '\\Sent', '\\Archive', '\\Junk', '\\Trash'];
    const rank = (f: ListResponse): number => {
      if (f.path.toUpperCase() === 'INBOX') return 0;
      const i = f.specialUse ? order.indexOf(f.specialUse) : -1;
      return i >= 0 ? i : order.length;
    };
    return list
      .slice()
      .sort((a, b) => rank(a) - rank(b) || a.path.localeCompare(b.path))
      .map((f) => ({
        path: f.path,
        name: f.path.toUpperCase() === 'INBOX' ? 'Inbox' : f.name,
        depth: f.parent.length,
        specialUse: f.path.toUpperCase() === 'INBOX' ? '\\Inbox' : (f.specialUse ?? null),
        unseen: f.status?.unseen ?? 0,
        messages: f.status?.messages ?? 0,
        selectable: !f.flags.has('\\Noselect') && !f.flags.has('\\NonExistent'),
      }));
  }

  /** Sent, Drafts and Trash: by SPECIAL-USE (RFC 6154), else by name; created when missing. */
  async specialFolders(): Promise<SpecialFolders> {
    if (this.special) return this.special;
    const c = await this.connection();
    const list = await c.list();
    const special = specialFolders(list, null);
    for (const path of Object.values(special)) {
      if (!list.some((f) => f.path === path)) await c.mailboxCreate(path).catch(() => undefined); // a race: fine
    }
    this.special = special;
    return special;
  }

  /** Page `page` (0 = newest) of a folder, newest first, by sequence number. */
  async page(folder: string, page: number, pageSize = PAGE_SIZE): Promise<MessagePage> {
    return this.inFolder(folder, async (c) => {
      await c.noop(); // learn of messages that arrived since the last command
      const exists = c.mailbox ? c.mailbox.exists : 0;
      const hi = exists - page * pageSize;
      const messages: MessageSummary[] = [];
      if (hi >= 1) {
        const lo = Math.max(1, hi - pageSize + 1);
        for await (const m of c.fetch(`${lo}:${hi}`, SUMMARY_QUERY)) messages.push(summary(m));
      }
      messages.sort((a, b) => b.seq - a.seq);
      return { folder, total: exists, page, pageSize, messages };
    });
  }

  /** Messages with a UID above `afterUid`, newest first (what IDLE told the page about). */
  async newerThan(folder: string, afterUid: number, max = PAGE_SIZE): Promise<MessageSummary[]> {
    return this.inFolder(folder, async (c) => {
      await c.noop();
      const out: MessageSummary[] = [];
      // `n:*` also returns the last message when n is past the end (RFC 9051 §6.4.8): filter.
      for await (const m of c.fetch(`${afterUid + 1}:*`, SUMMARY_QUERY, { uid: true })) if (m.uid > afterUid) out.push(summary(m));
      return out.sort((a, b) => b.uid - a.uid).slice(0, max);
    });
  }

  async search(folder: string, query: string, field: SearchField, page: number, pageSize = PAGE_SIZE): Promise<MessagePage> {
    const criteria: SearchObject =
      field === 'from'
        ? { from: query }
        : field === 'subject'
          ? { subject: query }
          : field === 'text'
            ? { text: query }
            : { or: [{ from: query }, { subject: query }, { body: query }] };
    return this.inFolder(folder, async (c) => {
      const uids = ((await c.search(criteria, { uid: true })) || []).slice().sort((a, b) => b - a);
      const slice = uids.slice(page * pageSize, (page + 1) * pageSize);
      const messages: MessageSummary[] = [];
      if (slice.length > 0) for await (const m of c.fetch(slice.join(','), SUMMARY_QUERY, { uid: true })) messages.push(summary(m));
      messages.sort((a, b) => b.uid - a.uid);
      return { folder, total: uids.length, page, pageSize, messages };
    });
  }

  /** Headers and structure of one message; null when there is no such UID. */
  async message(folder: string, uid: number): Promise<MessageDetail | null> {
    return this.inFolder(folder, async (c) => {
      const m = await c.fetchOne(String(uid), { ...SUMMARY_QUERY, headers: ['references', 'in-reply-to', 'message-id'] }, { uid: true });
      if (!m || m.uid !== uid) return null;
      const env = m.envelope;
      return {
        ...summary(m),
        cc: addresses(env?.cc),
        bcc: addresses(env?.bcc),
        replyTo: addresses(env?.replyTo),
        messageId: env?.messageId ?? headerValue(m.headers, 'message-id'),
        inReplyTo: env?.inReplyTo ?? headerValue(m.headers, 'in-reply-to'),
        references: headerValue(m.headers, 'references'),
        parts: m.bodyStructure ? messageParts(m.bodyStructure) : { text: null, html: null, attachments: [], related: new Map() },
      };
    });
  }

  /** A text part decoded to a string (transfer encoding and charset removed), at most 2 MB. */
  async text(folder: string, uid: number, part: string): Promise<string> {
    return this.inFolder(folder, async (c) => {
      const d = await c.download(String(uid), part, { uid: true, maxBytes: TEXT_LIMIT });
      if (!d.content) return '';
      const chunks: Buffer[] = [];
      for await (const chunk of d.content) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    });
  }

  /** A part's bytes (transfer encoding removed), whole: for forwarding and re-sending drafts. */
  async partBytes(folder: string, uid: number, part: string, maxBytes: number): Promise<Buffer | null> {
    return this.inFolder(folder, async (c) => {
      const d = await c.download(String(uid), part, { uid: true, decodeText: false, maxBytes });
      if (!d.content) return null;
      const chunks: Buffer[] = [];
      for await (const chunk of d.content) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    });
  }

  /**
   * Streams a part (or the whole message when `part` is null). The folder stays locked until
   * the stream ends, as imapflow requires.
   */
  async download(folder: string, uid: number, part: string | null): Promise<Readable | null> {
    const c = await this.connection();
    const lock = await openFolder(folder, () => c.getMailboxLock(folder));
    try {
      const d = await c.download(String(uid), part ?? undefined, { uid: true, decodeText: false });
      if (!d.content) {
        lock.release();
        return null;
      }
      let released = false;
      const release = (): void => {
        if (!released) {
          released = true;
          lock.release();
        }
      };
      d.content.once('end', release).once('close', release).once('error', release);
      return d.content;
    } catch (err) {
      lock.release();
      throw err;
    }
  }

  /** The raw message (for `View source` and for re-opening a draft). */
  async source(folder: string, uid: number, maxBytes: number): Promise<Buffer | null> {
    return this.inFolder(folder, async (c) => {
      const m = await c.fetchOne(String(uid), { uid: true, source: { maxLength: maxBytes } }, { uid: true });
      return m && m.source ? m.source : null;
    });
  }

  async setFlag(folder: string, uids: number[], flag: string, on: boolean): Promise<void> {
    if (uids.length === 0) return;
    await this.inFolder(folder, async (c) => {
      if (on) await c.messageFlagsAdd(uids.join(','), [flag], { uid: true });
      else await c.messageFlagsRemove(uids.join(','), [flag], { uid: true });
    });
  }

  async move(folder: string, uids: number[], destination: string): Promise<void> {
    if (uids.length === 0 || destination === folder) return;
    await this.inFolder(folder, async (c) => {
      await c.messageMove(uids.join(','), destination, { uid: true });
    });
  }

  /** Delete: to Trash, or for good when already in Trash (or Drafts being replaced). */
  async delete(folder: string, uids: number[], forGood = false): Promise<void> {
    if (uids.length === 0) return;
    const { trash } = await this.specialFolders();
    if (forGood || folder === trash) {
      await this.inFolder(folder, async (c) => {
        // imapflow uses UID EXPUNGE (UIDPLUS) so only these messages go.
        await c.messageDelete(uids.join(','), { uid: true });
      });
      return;
    }
    await this.move(folder, uids, trash);
  }

  /** Removes every message of a folder (Empty Trash). */
  async empty(folder: string): Promise<void> {
    await this.inFolder(folder, async (c) => {
      if (c.mailbox && c.mailbox.exists > 0) await c.messageDelete('1:*');
    });
  }

  /** Stores a message (Sent copy, draft); returns its UID when the server says (UIDPLUS). */
  async append(folder: string, raw: Buffer, flags: string[]): Promise<number | null> {
    const c = await this.connection();
    const r = await c.append(folder, raw, flags, new Date());
    return r && r.uid ? r.uid : null;
  }

  /** Addresses of recent correspondents: senders in INBOX and recipients in Sent. */
  async correspondents(limit = 300): Promise<Address[]> {
    const seen = new Map<string, Address>();
    const { sent } = await this.specialFolders();
    for (const [folder, pick] of [
      ['INBOX', (m: FetchMessageObject) => addresses(m.envelope?.from)],
      [sent, (m: FetchMessageObject) => [...addresses(m.envelope?.to), ...addresses(m.envelope?.cc)]],
    ] as const) {
      await this.inFolder(folder, async (c) => {
        const exists = c.mailbox ? c.mailbox.exists : 0;
        if (exists === 0) return;
        for await (const m of c.fetch(`${Math.max(1, exists - limit + 1)}:${exists}`, { envelope: true })) {
          for (const a of pick(m)) if (a.address && !seen.has(a.address.toLowerCase())) seen.set(a.address.toLowerCase(), a);
        }
      }).catch((err: Error) => this.logger.warn({ err: err.message, folder }, 'correspondents: folder not read'));
    }
    return [...seen.values()].filter((a) => a.address.toLowerCase() !== this.user.toLowerCase());
  }
}

function specialFolders(list: ListResponse[], known: SpecialFolders | null): SpecialFolders {
  const find = (use: string, names: string[]): string =>
    list.find((f) => f.specialUse === use)?.path ??
    list.find((f) => names.includes(f.path.toLowerCase()))?.path ??
    names[0]!.replace(/^./, (c) => c.toUpperCase());
  return (
    known ?? {
      sent: find('\\Sent', ['sent', 'sent messages', 'sent items']),
      drafts: find('\\Drafts', ['drafts']),
      trash: find('\\Trash', ['trash', 'deleted messages', 'deleted items']),
    }
  );
}

export type { MessageStructureObject };
