/**
 * The message submission agent (RFC 6409) on `listen.submission` (STARTTLS) and
 * `listen.submissions` (implicit TLS, RFC 8314).
 *
 * Policy, in the order a session meets it:
 * - the greeting after `submission.greeting_delay` (default at once);
 * - connection limits per IP and in total (421);
 * - AUTH PLAIN/LOGIN only after TLS (development profile: also on loopback); failed logins are
 *   throttled per IP and per account (growing delay, then `454 4.7.0`) and logged without the
 *   password; MAIL before AUTH gets `530 5.7.0`;
 * - the envelope sender and the From:/Sender: addresses must be the user's own or their
 *   aliases (`553 5.7.1`); at most `limits.recipients` recipients (`452 4.5.3`);
 * - size (`552 5.3.4`) and line length limits; `limits.command_timeout` per command;
 * - a client's Return-Path: and Authentication-Results: naming us are dropped; Message-ID:/Date:
 *   added when missing, our Received:, the DKIM seam, then queued durably
 *   before `250`.
 */
import type { SMTPServer, SMTPServerSession } from 'smtp-server';
import {
  countMailEvent,
  metrics,
  deadlinesOf,
  formatAddress,
  has8bit,
  needsSmtpUtf8,
  newId,
  parseAddress,
  type Accounts,
  type ByteBudget,
  type Config,
  type Logger,
  type LoginThrottle,
  type QueueStore,
  type TlsMaterial,
  type User,
  plainIp,
} from '@postern/core';
import { completeSubmission, withoutForgedTrace } from './message.js';
import { signMessage } from './sign.js';
import {
  type ConnectionLimits,
  createSmtpServer,
  installEnhancedCodes,
  logMail,
  queuedEnvelope,
  receive,
  receivedField,
  sharedServerOptions,
  SmtpReply,
} from '@postern/smtp';

export interface SubmissionDeps {
  config: Config;
  accounts: Accounts;
  queue: QueueStore;
  tls: TlsMaterial;
  throttle: LoginThrottle;
  limits: ConnectionLimits;
  /** The process's bytes in flight (limits.data_in_flight), both listeners together. */
  inFlight: ByteBudget;
  log: Logger;
}

const userOf = (session: SMTPServerSession): User => session.user as User;

export function createSubmissionServer(deps: SubmissionDeps, implicitTls: boolean): SMTPServer {
  installEnhancedCodes();
  const { config, accounts, queue, log } = deps;

  const server = createSmtpServer(
    {
      ...sharedServerOptions({ ...deps, auth: true }),
      banner: 'Postern ESMTP submission',
      secure: implicitTls,
      authOptional: false,
      authRequiredMessage: 'Authentication required',
      onMailFrom(address, session, cb) {
        // smtp-server asks for AUTH itself only while AUTH is offered (not before STARTTLS)
        if (!session.user) return cb(new SmtpReply(530, '5.7.0', 'Authentication required'));
        const user = userOf(session);
        if (address.address === '' || !accounts.maySendAs(user, address.address)) {
          log.info({ cid: session.id, user: user.address, from: address.address }, 'sender refused');
          return cb(new SmtpReply(553, '5.7.1', `<${address.address}>: Sender address not owned by ${user.address}`));
        }
        cb();
      },
      onRcptTo(address, session, cb) {
        if (session.envelope.rcptTo.length >= config.limits.recipients) {
          return cb(new SmtpReply(452, '4.5.3', 'Too many recipients'));
        }
        if (address.address.startsWith('@') || address.address.includes(':')) {
          return cb(new SmtpReply(553, '5.1.3', 'Source routes are not accepted'));
        }
        let rcpt: ReturnType<typeof parseAddress>;
        try {
          rcpt = parseAddress(address.address);
        } catch {
          return cb(new SmtpReply(553, '5.1.3', 'Bad recipient address syntax'));
        }
        // An unknown user of one of our own domains is refused now, while the client can still
        // tell its user, instead of a bounce later (as Postfix does with local_recipient_maps).
        if (deps.accounts.resolve(rcpt).kind === 'unknown-user') {
          return cb(new SmtpReply(550, '5.1.1', `<${address.address}>: no such user here`));
        }
        cb();
      },
      onData: receive(deps, async (data, session) => `2.6.0 Ok: queued as ${await enqueue(withoutForgedTrace(data, config.hostname), session)}`),
    },
    config.submission.greeting_delay,
    deadlinesOf(config.limits),
  );
  deps.limits.serve(server);

  return server;

  async function enqueue(data: Buffer, session: SMTPServerSession): Promise<string> {
    const user = userOf(session);
    const id = newId();
    const added = completeSubmission(data, user, accounts, config.hostname, id);
    // no `for`: a submission's recipients are the sender's business alone
    const received = receivedField(session, config.hostname, id, false);
    const sender = formatAddress(parseAddress((session.envelope.mailFrom || { address: user.address }).address));
    const unsigned = Buffer.concat([Buffer.from(received + added), data]);
    const message = await signMessage(unsigned, { domain: parseAddress(sender).domain, selector: config.dkim.selector, dataDir: config.dataDir });
    const { recipients, envid, ret, smtputf8 } = queuedEnvelope(session);
    await queue.enqueue({
      id,
      sender,
      recipients,
      data: message,
      origin: 'submission',
      client: `${user.address} ${plainIp(session.remoteAddress)}`,
      envid,
      ret,
      smtputf8: smtputf8 || needsSmtpUtf8(parseAddress(sender)),
      body8bit: has8bit(message),
    });
    metrics.received.inc({ via: 'submission' });
    countMailEvent('queued', recipients.length);
    logMail(log, session, 'queued', id, { user: user.address, from: sender, to: recipients.map((r) => r.address), size: message.length });
    return id;
  }
}
