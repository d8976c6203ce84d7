/**
 * The one path a message takes through the MX and submission once DATA is complete: read it
 * within the limits and the bytes-in-flight budget (readMessage), hand it on, answer with what the
 * handler says (a refusal as its SmtpReply; anything else as a logged storage failure, 4xx, so
 * nothing already accepted is lost); our Received: field (RFC 5321 §4.4) and the mail event line
 * written the same way by both.
 */
import type { SMTPServerDataStream, SMTPServerOptions, SMTPServerSession } from 'smtp-server';
import { plainIp, receivedHeader, type ByteBudget, type Config, type Logger } from '@postern/core';
import { readMessage } from './read-message.js';
import { SmtpReply, storageFailure } from './reply.js';

export interface ReceiveDeps {
  config: Pick<Config, 'limits' | 'dataDir'>;
  /** The process's bytes in flight (limits.data_in_flight). */
  inFlight: ByteBudget;
  log: Logger;
}

/**
 * smtp-server's onData: `handle` gets the whole message and returns the text of the 250 reply.
 * The message's bytes count in flight until `handle` settles.
 */
export function receive(deps: ReceiveDeps, handle: (data: Buffer, session: SMTPServerSession) => Promise<string>): NonNullable<SMTPServerOptions['onData']> {
  const { config, inFlight, log } = deps;
  async function accept(stream: SMTPServerDataStream, session: SMTPServerSession): Promise<string> {
    const message = await readMessage(stream, config.limits.message_size, config.limits.line_length, { budget: inFlight, dataDir: config.dataDir });
    try {
      return await handle(message.data, session);
    } finally {
      message.release();
    }
  }
  return (stream, session, cb) => {
    void accept(stream, session).then(
      (text) => cb(null, text),
      (err: unknown) => {
        if (err instanceof SmtpReply) return cb(err);
        log.error({ cid: session.id, err }, 'queueing failed');
        cb(storageFailure(err));
      },
    );
  };
}

/**
 * Our Received: field for a message that came in this session: the client's HELO and address,
 * the RFC 3848 protocol type (UTF8SMTP* under SMTPUTF8, RFC 6531 §3.7.3), the TLS version and
 * cipher, our queue id. `forRecipient`: name the recipient when there is exactly one (the MX
 * does; RFC 5321 §4.4 warns that naming more would leak Bcc recipients).
 */
export function receivedField(session: SMTPServerSession, hostname: string, id: string, forRecipient: boolean): string {
  const rcpts = session.envelope.rcptTo;
  const tls = session.tlsOptions ? `${session.tlsOptions.version ?? ''} ${session.tlsOptions.name}`.trim() : undefined;
  return receivedHeader({
    helo: session.hostNameAppearsAs,
    ip: plainIp(session.remoteAddress),
    by: hostname,
    with: session.transmissionType,
    smtpUtf8: session.envelope.smtpUtf8 === true,
    id,
    ...(forRecipient && rcpts.length === 1 ? { for: rcpts[0]!.address } : {}),
    ...(tls ? { tls } : {}),
  });
}

/**
 * The mail event line (STYLE: its own kind of line, as chasquid's maillog) for a message this
 * session handed on: `mail` names the event and is the message, the queue id (also in our
 * Received: field) and the connection id follow, then what the server adds.
 */
export function logMail(log: Logger, session: SMTPServerSession, mail: 'received' | 'queued', id: string, fields: Record<string, unknown>): void {
  log.info({ mail, id, cid: session.id, ...fields }, mail);
}
