/**
 * The one way our SMTP handlers refuse something: throw or return a `SmtpReply` carrying the
 * basic code and the RFC 3463 enhanced status code. smtp-server derives the enhanced code from
 * the basic code alone (553 always becomes 5.1.3), so `installEnhancedCodes` teaches its single
 * write site to keep an enhanced code that the text already starts with: "553 5.7.1 ...".
 *
 * (apps/transfer has the same small file: apps never import each other.)
 */
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';

export class SmtpReply extends Error {
  readonly responseCode: number;
  constructor(code: number, enhanced: string, text: string) {
    super(`${enhanced} ${text}`);
    this.name = 'SmtpReply';
    this.responseCode = code;
  }
}

const ENHANCED = /^[245]\.\d{1,3}\.\d{1,3} /;
let installed = false;

export function installEnhancedCodes(): void {
  if (installed) return;
  installed = true;
  const proto = SMTPConnection.prototype as unknown as {
    send(this: unknown, code: number, data?: string | string[], context?: string | false): void;
  };
  const original = proto.send;
  proto.send = function (this: unknown, code: number, data?: string | string[], context?: string | false): void {
    if (typeof data === 'string' && ENHANCED.test(data)) return original.call(this, code, data, false);
    return original.call(this, code, data, context);
  };
}
