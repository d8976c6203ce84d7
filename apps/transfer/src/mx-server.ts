/**
 * The inbound MX (RFC 5321) on `listen.smtp`: mail from the internet for local domains only.
 *
 * Policy, in the order a session meets it:
 * - the greeting after `transfer.greeting_delay` (default at once); a client that talks before
 *   it gets `421` (as postscreen's pregreet test);
 * - connection limits per IP and in total (421);
 * - no AUTH at all (`503 5.5.1`, as Postfix's smtpd on 25): users send through submission, where
 *   the sender checks, signing and queueing apply. Only a `transfer.trusted_networks` address
 *   may relay; everyone else may only reach local recipients: `554 5.7.1` relay denied;
 * - recipients must exist (`550 5.1.1` at RCPT time) and are at most `limits.recipients`;
 * - after DATA: loop detection by counting Received: (`554 5.4.6`), the inbound-auth seam, our
 *   Received: with the queue id, then the message is delivered (direct delivery) or queued,
 *   durably either way, before `250`.
 */
import { BlockList, isIPv6 } from 'node:net';
import type { SMTPServer, SMTPServerAddress, SMTPServerSession } from 'smtp-server';
import {
  metrics,
  connectionCaps,
  deadlinesOf,
  formatAddress,
  has8bit,
  newId,
  parseAddress,
  type Accounts,
  type ByteBudget,
  type Config,
  type Logger,
  type LoginThrottle,
  type TlsMaterial,
  plainIp,
} from '@postern/core';
import { headerFields } from '@postern/header';
import type { DirectDelivery, Handed } from './direct-delivery.js';
import { srsBounceTarget } from './srs-bounce.js';
import { checkInbound } from './inbound-auth.js';
import {
  ConnectionLimits,
  createSmtpServer,
  installEnhancedCodes,
  logMail,
  queuedEnvelope,
  receive,
  receivedField,
  sharedServerOptions,
  SmtpReply,
} from '@postern/smtp';

export interface MxServerDeps {
  config: Config;
  accounts: Accounts;
  /** Where accepted messages go: the mailboxes, or queue.db. */
  handOver: DirectDelivery;
  tls: TlsMaterial;
  throttle: LoginThrottle;
  /** The process's bytes in flight (limits.data_in_flight). */
  inFlight: ByteBudget;
  log: Logger;
}

/** Parses CIDR strings into a BlockList (the `transfer.trusted_networks` setting). */
export function trustedNetworks(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const c of cidrs) {
    const [net, bits] = c.split('/');
    const type = isIPv6(net ?? '') ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(net!, type);
    else list.addSubnet(net!, Number(bits), type);
  }
  return list;
}

/** The trace fields counted for loop detection. */
const RECEIVED: ReadonlySet<string> = new Set(['received']);

export function createMxServer(deps: MxServerDeps): SMTPServer {
  installEnhancedCodes();
  const { config, accounts, log } = deps;
  // no one logs in on port 25: no slots to keep for sessions that did
  const limits = new ConnectionLimits(connectionCaps(config.limits, false), 'smtp');
  const trusted = trustedNetworks(config.transfer.trusted_networks);
  const mayRelay = (session: SMTPServerSession): boolean => {
    const ip = plainIp(session.remoteAddress);
    return trusted.check(ip, isIPv6(ip) ? 'ipv6' : 'ipv4');
  };

  const server = createSmtpServer(
    {
      ...sharedServerOptions({ ...deps, limits, auth: false }),
      banner: 'Postern ESMTP',
      authOptional: true,
      onMailFrom(address, _session, cb) {
        if (address.address === '') return cb();
        try {
          parseAddress(address.address);
          cb();
        } catch {
          cb(new SmtpReply(553, '5.1.7', 'Bad sender address syntax'));
        }
      },
      onRcptTo(address, session, cb) {
        try {
          checkRecipient(address, session);
          cb();
        } catch (err) {
          log.info({ cid: session.id, ip: session.remoteAddress, rcpt: address.address, reply: (err as Error).message }, 'rcpt refused');
          cb(err as Error);
        }
      },
      onData: receive(deps, async (data, session) => {
        const { id, handed } = await handOver(data, session);
        return handed === 'delivered' ? `2.0.0 Ok: delivered as ${id}` : `2.6.0 Ok: queued as ${id}`;
      }),
    },
    config.transfer.greeting_delay,
    deadlinesOf(config.limits),
  );
  limits.serve(server);

  function checkRecipient(address: SMTPServerAddress, session: SMTPServerSession): void {
    if (session.envelope.rcptTo.length >= config.limits.recipients) {
      throw new SmtpReply(452, '4.5.3', 'Too many recipients');
    }
    // RFC 5321 §4.5.1: "postmaster" without a domain must be accepted; it is our primary
    // domain's postmaster (the envelope carries the full address from here on)
    const primary = /^postmaster$/i.test(address.address) ? accounts.primaryDomain(config.hostname) : null;
    if (primary) address.address = `postmaster@${primary.name}`;
    const raw = address.address;
    // Source routes (RFC 5321 §4.1.1.3, "@a,@b:user@c") and the %-hack / bang paths are old
    // relaying tricks: refuse them outright instead of guessing what they mean.
    if (raw.startsWith('@') || raw.includes(':')) throw new SmtpReply(554, '5.7.1', 'Relay access denied (source route)');
    let rcpt: ReturnType<typeof parseAddress>;
    try {
      rcpt = parseAddress(raw);
    } catch {
      throw new SmtpReply(553, '5.1.3', 'Bad recipient address syntax');
    }
    if (/[%!]/.test(rcpt.local) && !mayRelay(session)) throw new SmtpReply(554, '5.7.1', 'Relay access denied');
    const where = accounts.resolve(rcpt);
    if (where.kind === 'local') return;
    if (where.kind === 'unknown-user') {
      // a bounce to one of our forwards (SRS): back to the original sender, or refused when forged
      const original = srsBounceTarget(rcpt.local, config.dataDir);
      if (original !== null) {
        address.address = original;
        return;
      }
    }
    if (where.kind === 'unknown-user') throw new SmtpReply(550, '5.1.1', `<${formatAddress(rcpt)}>: Recipient address rejected: no such user`);
    if (!mayRelay(session)) throw new SmtpReply(554, '5.7.1', `<${formatAddress(rcpt)}>: Relay access denied`);
  }

  async function handOver(data: Buffer, session: SMTPServerSession): Promise<{ id: string; handed: Handed }> {
    // RFC 5321 §6.3: a message with too many trace fields is looping
    if (headerFields(data, RECEIVED).length >= config.transfer.max_hops) {
      throw new SmtpReply(554, '5.4.6', 'Too many hops: mail loop detected');
    }
    const mailFrom = session.envelope.mailFrom;
    const sender = mailFrom ? mailFrom.address : '';
    const verdict = await checkInbound({
      ip: plainIp(session.remoteAddress),
      helo: session.hostNameAppearsAs,
      sender,
      hostname: config.hostname,
      message: data,
      config,
      trusted: mayRelay(session),
    });
    if (verdict.action === 'reject') throw new SmtpReply(verdict.code, verdict.enhanced, verdict.text);
    const id = newId();
    const received = receivedField(session, config.hostname, id, true);
    const full = Buffer.concat([Buffer.from(received + verdict.prepend), verdict.message]);
    const { recipients, envid, ret, smtputf8 } = queuedEnvelope(session);
    const handed = await deps.handOver.accept({
      id,
      sender: sender === '' ? '' : formatAddress(parseAddress(sender)),
      recipients,
      data: full,
      origin: 'mx',
      client: `${plainIp(session.remoteAddress)} ${session.hostNameAppearsAs}`,
      envid,
      ret,
      smtputf8,
      body8bit: has8bit(full),
    });
    metrics.received.inc({ via: 'mx' });
    if (verdict.action === 'junk') metrics.junked.inc({ cause: verdict.cause });
    logMail(log, session, 'received', id, { from: sender, to: recipients.map((r) => r.address), size: full.length, ip: session.remoteAddress, handed });
    return { id, handed };
  }

  return server;
}
