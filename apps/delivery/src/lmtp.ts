/**
 * The LMTP server (RFC 2033) of the delivery agent: the transfer app hands over local mail here.
 *
 * One reply per recipient after DATA: 250 stored, 550 5.1.1 unknown user, 552 5.2.2 over quota,
 * 552 5.3.4 too big, 550 5.7.1 refused by the user's Sieve script (reject/ereject), 451 4.3.0
 * when storage failed (nothing of the message is stored then, the sender retries). Each user's
 * Sieve script decides where the message goes (./sieve-delivery.ts). A message is parsed and indexed once, stored once however many local users
 * get it, and committed (group commit, synchronous=FULL) before any 250 is sent.
 */
import { rmSync } from 'node:fs';
import type { SMTPServer, SMTPServerSession } from 'smtp-server';
import { headerFields } from '@postern/mime';
import { createSmtpServer, installEnhancedCodes, readMessage, SmtpReply, storageFailure } from '@postern/smtp';
import {
  countMailEvent,
  ByteBudget,
  newId,
  nextHopMessageSize,
  parseAddress,
  formatAddress,
  type Accounts,
  type Config,
  type Logger,
  type MessageStore,
  type User,
} from '@postern/core';
import { inlineIndexer, type MessageIndexer } from './index-pool.js';
import { SieveDelivery, type TargetResult } from './sieve-delivery.js';

export interface LmtpOptions {
  config: Config;
  accounts: Accounts;
  /** Where messages are stored (its deliver group-commits concurrent deliveries). */
  store: MessageStore;
  logger: Logger;
  /** "host:port" or a unix socket path. */
  listen: string;
  /** The process's bytes in flight (shared with IMAP APPEND); one of its own otherwise. */
  inFlight?: ByteBudget;
  /** Where messages are MIME-indexed: the agent's thread pool; inline by default (tests). */
  indexer?: MessageIndexer;
  /** The users' Sieve scripts (./sieve-delivery.ts); without it every message goes to INBOX (or Junk). */
  sieve?: SieveDelivery;
}

export interface LmtpServer {
  /** Bound TCP port, or 0 for a unix socket. */
  port: number;
  close(): Promise<void>;
}

/** Per-session state: the users each accepted recipient resolved to, in RCPT order. */
interface RcptUsers {
  rcpt: string;
  users: User[];
  /** Outside addresses the alias forwards to. */
  forwards: string[];
}

const sessions = new WeakMap<SMTPServerSession, RcptUsers[]>();

const JUNK_MARK = new Set(['x-postern-junk']);
/** Header bytes in which the transfer agent's prepended fields lie. */
const JUNK_MARK_WINDOW = 64 * 1024;

export async function startLmtpServer(opts: LmtpOptions): Promise<LmtpServer> {
  const { config, accounts, store, logger } = opts;
  const indexer = opts.indexer ?? inlineIndexer;
  const sieve = opts.sieve ?? new SieveDelivery({ config, logger, indexer });
  const limits = config.limits;
  const inFlight = opts.inFlight ?? new ByteBudget(limits.data_in_flight);
  installEnhancedCodes();

  const server = createSmtpServer(
    {
      lmtp: true,
      name: config.hostname,
      banner: 'Postern LMTP',
      authOptional: true,
      disabledCommands: ['AUTH', 'STARTTLS'],
      hideENHANCEDSTATUSCODES: false,
      hideDSN: false,
      hide8BITMIME: false,
      hideSMTPUTF8: false,
      // what the MX or submission accepted (limits.message_size) plus the fields they prepended
      size: nextHopMessageSize(limits),
      rejectOversized: true,
      maxRecipients: limits.recipients,
      socketTimeout: limits.command_timeout,
      // a transfer app keeps idle LMTP connections open: on shutdown, end them after 5 s instead of
      // smtp-server's 30 s default (runApp gives up and exits 1 after 10 s)
      closeTimeout: 5_000,
      logger: false,
      onConnect(session, cb) {
        sessions.set(session, []);
        cb();
      },
      onMailFrom(_address, session, cb) {
        sessions.set(session, []);
        cb();
      },
      onRcptTo(address, session, cb) {
        let users: User[];
        let forwards: string[];
        try {
          const resolution = accounts.resolve(parseAddress(address.address));
          if (resolution.kind !== 'local') return cb(new SmtpReply(550, '5.1.1', `<${address.address}>: no such user here`));
          users = resolution.users;
          forwards = resolution.forwards ?? [];
        } catch {
          return cb(new SmtpReply(550, '5.1.3', `<${address.address}>: bad recipient address syntax`));
        }
        sessions.get(session)?.push({ rcpt: address.address, users, forwards });
        cb();
      },
      onData(stream, session, cb) {
        // No line-length limit here: the MX and submission enforced theirs, and mail injected by
        // `postern sendmail` must not bounce at the last hop for a long line.
        void readMessage(stream, nextHopMessageSize(limits), Number.POSITIVE_INFINITY, { budget: inFlight, dataDir: config.dataDir }).then(
          async ({ data, release }) => {
            try {
              cb(null, await deliver(data, session, sessions.get(session) ?? []));
            } finally {
              release();
            }
          },
          (err: unknown) => {
            if (err instanceof SmtpReply) return cb(err); // 552 5.3.4 or 452 4.3.1, answered for every recipient
            logger.error({ cid: session.id, err }, 'reading message failed');
            cb(new SmtpReply(451, '4.3.0', 'error reading message'));
          },
        );
      },
      // The transfer app's pool waits for no early-talker test on its own last hop.
    },
    0,
  );

  /**
   * The transfer agent's inbound policy (SPF/DKIM/DMARC, @postern/trust) marks what goes to Junk
   * with `X-Postern-Junk:`, after removing any such field that came from outside.
   */
  function markedJunk(content: Buffer, headerEnd: number): boolean {
    // The field is prepended (with Received:): only the start of the header is read, so a
    // header of 24 MB costs no scan of it here (issue 14).
    return headerFields(content.subarray(0, Math.min(headerEnd, JUNK_MARK_WINDOW)), JUNK_MARK).length > 0;
  }

  /** Stores the message for every recipient; returns one reply (string or Error) per RCPT. */
  async function deliver(received: Buffer, session: SMTPServerSession, rcpts: RcptUsers[]): Promise<Array<string | Error>> {
    const qid = newId();
    let index: Awaited<ReturnType<MessageIndexer['index']>>['index'];
    let content: Buffer;
    try {
      // `received` may be handed to an index thread: `content` is what comes back
      ({ index, raw: content } = await indexer.index(received));
    } catch (err) {
      logger.error({ cid: session.id, qid, err }, 'indexing failed');
      return rcpts.map(() => new SmtpReply(451, '4.3.0', 'temporary failure indexing the message, try again later'));
    }
    const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
    // Postern's transfer app sends its queue id as ENVID: the key that makes a repeated hand-over
    // (transfer killed after our 250, before its own commit) a no-op instead of a duplicate.
    const envid = session.envelope.dsn?.envid ?? undefined;
    // One delivery per distinct user, however many recipients lead to them (alias + direct).
    const byUser = new Map<number, { user: User; rcpt: string }>();
    for (const r of rcpts) for (const u of r.users) if (!byUser.has(u.id)) byUser.set(u.id, { user: u, rcpt: r.rcpt });
    const targets = [...byUser.values()];
    const junk = markedJunk(content, index.headerEnd);
    let results: TargetResult[];
    const aliases = rcpts.filter((r) => r.forwards.length > 0).map((r) => ({ rcpt: r.rcpt, forwards: r.forwards }));
    let forwarded: Map<string, string | null>;
    try {
      const arrival = {
        qid,
        cid: session.id,
        content,
        index,
        from,
        junk,
        ...(envid ? { envid } : {}),
        prefix: (rcpt: string) => Buffer.from(`Return-Path: <${from}>\r\nDelivered-To: ${deliveredTo(rcpt)}\r\n`),
      };
      const done = await sieve.deliver(arrival, targets, (requests) => store.deliver(requests), aliases);
      results = done.targets;
      forwarded = new Map(aliases.map((al, i) => [al.rcpt, done.aliases[i] ?? null]));
    } catch (err) {
      logger.error({ cid: session.id, qid, err }, 'store failed');
      return rcpts.map(() => storageFailure(err, 'temporary storage failure, try again later'));
    }
    const okUsers = new Set<number>();
    const rejected = new Map<number, string>();
    targets.forEach((t, i) => {
      const r = results[i]!;
      if (r.rejected !== null) {
        rejected.set(t.user.id, r.rejected);
        logger.info({ mail: 'refused', cid: session.id, qid, to: t.user.address, reason: 'sieve reject' }, "rejected by the recipient's filter");
        return;
      }
      // a script that discarded or only forwarded stored nothing, and that is its success
      if (r.outcomes.length === 0) okUsers.add(t.user.id);
      for (const o of r.outcomes) {
        if (o.ok && o.duplicate) {
          okUsers.add(t.user.id);
          countMailEvent('duplicate');
          logger.info({ mail: 'duplicate', cid: session.id, qid, envid, to: t.user.address }, 'already delivered, not stored again');
        } else if (o.ok) {
          okUsers.add(t.user.id);
          countMailEvent('delivered');
          logger.info({ mail: 'delivered', cid: session.id, qid, to: t.user.address, uid: o.uid, size: content.length }, 'delivered');
        } else {
          countMailEvent('refused');
          logger.warn({ mail: 'refused', cid: session.id, qid, to: t.user.address, reason: o.reason }, 'not delivered');
        }
      }
    });
    // A recipient succeeds when at least one of its users got the message (an alias to several
    // users, one of them over quota, is not retried for the others: that would duplicate).
    return rcpts.map((r) => {
      if (r.users.some((u) => okUsers.has(u.id))) return `2.0.0 <${r.rcpt}> delivered as ${qid}`;
      if (r.forwards.length > 0) {
        const refused = forwarded.get(r.rcpt);
        if (refused === null) return `2.0.0 <${r.rcpt}> forwarded as ${qid}`;
        if (r.users.length === 0) return new SmtpReply(550, '5.7.1', `<${r.rcpt}>: ${refused}`);
      }
      const reason = r.users.map((u) => rejected.get(u.id)).find((x) => x !== undefined);
      // RFC 5429 §2.1: refused in the protocol, the sender's MTA writes the bounce
      if (reason !== undefined) return new SmtpReply(550, '5.7.1', `<${r.rcpt}>: ${reason}`);
      return new SmtpReply(552, '5.2.2', `<${r.rcpt}>: mailbox full`);
    });
  }

  server.on('error', (err) => logger.error({ err }, 'LMTP server error'));
  const port = await listen(server, opts.listen);
  logger.info({ listen: opts.listen, port }, 'LMTP listening');
  return {
    port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function deliveredTo(rcpt: string): string {
  try {
    return formatAddress(parseAddress(rcpt));
  } catch {
    return rcpt.replace(/[\r\n]/g, '');
  }
}

/** Listens on "host:port" or a unix socket path; resolves with the bound port (0 for a socket). */
function listen(server: SMTPServer, where: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.server.once('error', reject);
    const done = (): void => {
      server.server.off('error', reject);
      const addr = server.server.address();
      resolve(addr && typeof addr === 'object' ? addr.port : 0);
    };
    if (where.startsWith('/') || where.startsWith('.')) {
      rmSync(where, { force: true }); // a stale socket from a killed process
      server.listen(where, done);
    } else {
      const i = where.lastIndexOf(':');
      let host = where.slice(0, i);
      if (host.startsWith('[')) host = host.slice(1, -1);
      server.listen(Number(where.slice(i + 1)), host, done);
    }
  });
}
