/**
 * Sending through the submission service (RFC 6409) with the user's own credentials, as any mail
 * client does, and the server's refusals put into words a person can act on.
 */
import nodemailer from 'nodemailer';
import type { NodemailerError } from 'nodemailer/lib/errors';
import type { Endpoint } from '../endpoints.js';

export interface SendResult {
  accepted: string[];
  /** Recipients the server refused while taking the message for the others, with the reason. */
  refused: Array<{ address: string; reason: string }>;
}

/** A send that failed as a whole; `message` is for the user. */
export class SendError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SendError';
  }
}

function mb(n: number): string {
  return `${(n / (1024 * 1024)).toFixed(1)} MB`;
}

/** Strips the status code off a server reply: "550 5.1.1 <x@y>: no such user" → "<x@y>: no such user". */
function replyText(response: string | undefined): string {
  return (response ?? '').replace(/^\d{3}[ -](?:\d\.\d{1,3}\.\d{1,3} )?/, '').trim();
}

export function describeSendError(err: NodemailerError, size: number): string {
  const code = err.responseCode ?? 0;
  const said = replyText(err.response);
  if (err.code === 'EAUTH') return 'The mail server did not accept your password for sending. Log out and in again, or ask your administrator.';
  if (err.code === 'EENVELOPE' && err.rejectedErrors && err.rejectedErrors.length > 0) {
    const who = err.rejectedErrors.map((e) => `${e.recipient ?? '?'} (${replyText(e.response) || 'refused'})`).join('; ');
    return `The mail server refused the recipient${err.rejectedErrors.length > 1 ? 's' : ''} ${who}. Nothing was sent.`;
  }
  if (code === 552 || code === 523 || /size|too (big|large)/i.test(said)) {
    return `The message is too big for the mail server (${mb(size)}${said ? `: ${said}` : ''}). Remove or shrink an attachment and send again.`;
  }
  if (['ECONNECTION', 'ESOCKET', 'ETIMEDOUT', 'EDNS', 'ETLS'].includes(err.code ?? '')) {
    return 'The mail server could not be reached to send the message. Try again in a moment.';
  }
  if (code >= 400 && code < 500) return `The mail server cannot take the message right now (${said || code}). Try again later.`;
  if (code >= 500) return `The mail server refused the message: ${said || code}.`;
  return `The message could not be sent: ${err.message}`;
}

export async function submit(endpoint: Endpoint, user: string, password: string, from: string, to: string[], raw: Buffer): Promise<SendResult> {
  const transport = nodemailer.createTransport({
    host: endpoint.host,
    port: endpoint.port,
    secure: endpoint.implicitTls,
    requireTLS: !endpoint.implicitTls && endpoint.requireTls,
    auth: { user, pass: password },
    tls: endpoint.tls,
    name: 'webmail.localhost',
    connectionTimeout: 15_000,
    greetingTimeout: 15_000,
    socketTimeout: 120_000,
    logger: false,
  });
  try {
    const info = await transport.sendMail({ envelope: { from, to }, raw });
    const rejected = (info.rejected ?? []).map(String);
    const errors = (info as { rejectedErrors?: NodemailerError[] }).rejectedErrors ?? [];
    return {
      accepted: (info.accepted ?? []).map(String),
      refused: rejected.map((address) => ({ address, reason: replyText(errors.find((e) => e.recipient === address)?.response) || 'refused' })),
    };
  } catch (err) {
    throw new SendError(describeSendError(err as NodemailerError, raw.length));
  } finally {
    transport.close();
  }
}
