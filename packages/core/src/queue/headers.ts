/**
 * The header fields the mail path writes: trace fields (RFC 5321 §4.4) and dates (RFC 5322
 * §3.3); and whether a message needs 8BITMIME. Prepending a field needs no parser: it is written
 * before the message bytes. Reading a header is @postern/header's.
 */
import { isAscii } from 'node:buffer';

/** True when the bytes hold anything outside 7-bit ASCII (8BITMIME / SMTPUTF8 needed). */
export function has8bit(data: Buffer): boolean {
  // Native and vectorized: the byte loop it replaces was 1.5 % of the MX's CPU on 100 KB mail.
  return !isAscii(data);
}

/** RFC 5322 §3.3 date-time, e.g. "Tue, 1 Jul 2025 10:00:00 +0000". */
export function rfc5322Date(d: Date = new Date()): string {
  return d.toUTCString().replace(/GMT$/, '+0000');
}

export interface ReceivedInfo {
  /** What the client said in HELO/EHLO. */
  helo?: string;
  /** The client's IP address; absent for local injection. */
  ip?: string;
  /** Reverse DNS name of the client, when known. */
  clientHostname?: string;
  /** Our host name. */
  by: string;
  /** RFC 3848 protocol type: SMTP, ESMTP, ESMTPS, ESMTPSA, LMTP, or "local". */
  with: string;
  id: string;
  /** The single recipient, only when there is exactly one (RFC 5321 §4.4: avoid leaking Bcc). */
  for?: string;
  /** TLS version and cipher, e.g. "TLSv1.3 TLS_AES_256_GCM_SHA384". */
  tls?: string;
  /** The transaction used SMTPUTF8: the protocol type becomes UTF8SMTP[S][A] (RFC 6531 §3.7.3). */
  smtpUtf8?: boolean;
  date?: Date;
}

/** A Received: field (RFC 5321 §4.4), folded, ending in CRLF. */
export function receivedHeader(r: ReceivedInfo): string {
  const clean = (s: string): string => s.replace(/[\r\n()]/g, '').slice(0, 200);
  const parts: string[] = [];
  if (r.ip !== undefined || r.helo !== undefined) {
    const from = clean(r.helo ?? r.ip ?? 'unknown');
    const detail = [r.clientHostname ? clean(r.clientHostname) : '', r.ip ? `[${r.ip}]` : ''].filter(Boolean).join(' ');
    parts.push(`from ${from}${detail ? ` (${detail})` : ''}`);
  }
  parts.push(`by ${r.by}`);
  const protocol = r.smtpUtf8 && r.with.startsWith('ESMTP') ? `UTF8SMTP${r.with.slice(5)}` : r.with;
  parts.push(`with ${protocol}${r.tls ? ` (${clean(r.tls)})` : ''}`);
  parts.push(`id ${r.id}`);
  if (r.for) parts.push(`for <${clean(r.for)}>`);
  return `Received: ${parts.join('\r\n\t')};\r\n\t${rfc5322Date(r.date)}\r\n`;
}
