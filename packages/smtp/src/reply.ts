/**
 * SMTP replies with our own enhanced status codes (RFC 3463, RFC 2034).
 *
 * smtp-server derives an enhanced code from the basic code alone (554 is always 5.6.0, 553 is
 * 5.1.3), which is wrong for "554 5.7.1 relay access denied" or "553 5.7.1 not your address".
 * Its `send` is wrapped once here: a reply text that already begins with an enhanced code is sent
 * as is, without a second, derived one.
 */
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';

export const ENHANCED_CODE = /^[245]\.\d{1,3}\.\d{1,3} /;

export interface SmtpReplyError extends Error {
  responseCode: number;
}

/** An Error for smtp-server hooks: `responseCode` and a message led by the enhanced code. */
export function replyError(code: number, enhanced: string, text: string): SmtpReplyError {
  const err = new Error(`${enhanced} ${text}`) as SmtpReplyError;
  err.responseCode = code;
  return err;
}

type Send = (code: number, data?: unknown, context?: unknown) => void;
const proto = (SMTPConnection as unknown as { prototype: { send: Send; __posternWrapped?: boolean } }).prototype;
if (!proto.__posternWrapped) {
  const original = proto.send;
  proto.send = function send(this: unknown, code: number, data?: unknown, context?: unknown): void {
    if (typeof data === 'string' && ENHANCED_CODE.test(data)) return original.call(this, code, data, false);
    return original.call(this, code, data, context);
  };
  proto.__posternWrapped = true;
}
