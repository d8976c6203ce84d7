/**
 * The one way our SMTP and LMTP handlers refuse something: throw or return an `SmtpReply`
 * carrying the basic code and the RFC 3463 enhanced status code (`550 5.1.1`).
 *
 * smtp-server derives an enhanced code from the basic code alone (554 is always 5.6.0, 553 is
 * 5.1.3), which is wrong for "554 5.7.1 relay access denied" or "553 5.7.1 not your address".
 * `installEnhancedCodes` teaches its single write site to keep an enhanced code that the reply
 * text already starts with, instead of prepending a derived one.
 */
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';

export const ENHANCED_CODE = /^[245]\.\d{1,3}\.\d{1,3} /;

export class SmtpReply extends Error {
  readonly responseCode: number;
  constructor(code: number, enhanced: string, text: string) {
    super(`${enhanced} ${text}`);
    this.name = 'SmtpReply';
    this.responseCode = code;
  }
}

let installed = false;

/** Idempotent; every server built on smtp-server calls it before listening. */
export function installEnhancedCodes(): void {
  if (installed) return;
  installed = true;
  const proto = SMTPConnection.prototype as unknown as {
    send(this: unknown, code: number, data?: string | string[], context?: string | false): void;
  };
  const original = proto.send;
  proto.send = function send(this: unknown, code: number, data?: string | string[], context?: string | false): void {
    original.call(this, code, data, typeof data === 'string' && ENHANCED_CODE.test(data) ? false : context);
  };
}

/** Did a write fail because the disk is full? (SQLite's SQLITE_FULL, or ENOSPC from the OS.) */
export function isDiskFull(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'SQLITE_FULL' || code === 'ENOSPC';
}

/**
 * The reply when storing or queueing failed: `452 4.3.1` when the disk is full (RFC 3463
 * "mail system full"; RFC 5321 §4.2.5 452 "insufficient system storage"), `451 4.3.0`
 * otherwise. Both are temporary: the sender keeps the message and tries again.
 */
export function storageFailure(err: unknown, text = 'Local error in processing, try again later'): SmtpReply {
  if (isDiskFull(err)) return new SmtpReply(452, '4.3.1', 'Insufficient system storage, try again later');
  return new SmtpReply(451, '4.3.0', text);
}
