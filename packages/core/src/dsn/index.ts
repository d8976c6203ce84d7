/**
 * Delivery status notifications (RFC 3464): the bounce, the delay notice and the success report
 * (NOTIFY=SUCCESS, RFC 3461) the queue sends to an envelope sender. A DSN is multipart/report;
 * report-type=delivery-status with three parts: a human explanation, the machine-readable
 * message/delivery-status, and the original header (text/rfc822-headers), or the whole message
 * when the sender asked for RET=FULL (RFC 3461 §4.3). It is sent from the null reverse-path
 * (RFC 5321 §4.5.5), so a DSN never causes another.
 */
import { randomBytes } from 'node:crypto';
import { headerText } from '@postern/header';
import { rfc5322Date } from '../queue/headers.js';

export interface DsnRecipient {
  /** The final recipient address. */
  address: string;
  /** RFC 3461 ORCPT as received ("rfc822;bob@example.org"). */
  orcpt?: string | null;
  action: 'failed' | 'delayed' | 'delivered';
  /** The next hop's reply ("550 5.1.1 <bob@b.test>: unknown user"), or our own explanation. */
  reply: string;
  /** The host that gave the reply, when it came from one. */
  remoteMta?: string;
  /** Status code to report; by default taken from the reply. */
  status?: string;
  lastAttempt?: Date;
  willRetryUntil?: Date;
}

export interface DsnInput {
  /** Our host name (Reporting-MTA, and MAILER-DAEMON@hostname). */
  reportingMta: string;
  /** The envelope sender of the original message: the DSN goes there. */
  to: string;
  queueId: string;
  envid?: string | null;
  arrival: Date;
  recipients: readonly DsnRecipient[];
  /** The original message, as queued. */
  original: Buffer;
  /** RET=FULL: include the whole original message. */
  returnFull?: boolean;
  now?: Date;
}

export interface Dsn {
  /** '' : a DSN's reverse-path is null. */
  sender: '';
  recipient: string;
  data: Buffer;
}

/** The enhanced status code (RFC 3463) in an SMTP reply, or one derived from its class. */
export function statusOfReply(reply: string, fallbackClass: 2 | 4 | 5): string {
  const m = /^([245])\d\d[ -]([245]\.\d{1,3}\.\d{1,3})\b/.exec(reply.trim());
  if (m) return m[2]!;
  const bare = /^([245]\.\d{1,3}\.\d{1,3})\b/.exec(reply.trim());
  if (bare) return bare[1]!;
  const c = /^([245])\d\d\b/.exec(reply.trim());
  if (c) return `${c[1]}.0.0`;
  return `${fallbackClass}.0.0`;
}

/** RFC 3461 §4.2 xtext decoding of ORCPT's address part, for the Original-Recipient field. */
function orcptField(orcpt: string): string | null {
  const i = orcpt.indexOf(';');
  if (i <= 0) return null;
  const addr = orcpt.slice(i + 1).replace(/\+([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
  return `${orcpt.slice(0, i)};${addr}`;
}

const oneLine = (s: string): string => s.replace(/[\r\n]+/g, ' ').trim();

export function buildDsn(input: DsnInput): Dsn {
  const now = input.now ?? new Date();
  const boundary = `dsn-${randomBytes(9).toString('hex')}`;
  const failed = input.recipients.filter((r) => r.action === 'failed');
  const delayed = input.recipients.filter((r) => r.action === 'delayed');
  const delivered = input.recipients.filter((r) => r.action === 'delivered');
  const subject =
    failed.length > 0 ? 'Undelivered Mail Returned to Sender' : delayed.length > 0 ? 'Delivery delayed: still trying' : 'Successful Mail Delivery Report';
  const header = headerText(input.original);

  const human: string[] = [];
  human.push(`This is the mail system at host ${input.reportingMta}.`, '');
  if (failed.length > 0) {
    human.push(
      'I am sorry to inform you that your message could not be delivered to one or more',
      'recipients. It is attached below. The reason each recipient failed:',
      '',
    );
    for (const r of failed) human.push(`<${r.address}>: ${oneLine(r.reply)}`);
    human.push('');
  }
  if (delayed.length > 0) {
    human.push('Your message could not be delivered yet to the recipients below. The mail system will keep', 'trying; you do not need to send it again.', '');
    for (const r of delayed) {
      const until = r.willRetryUntil ? ` (trying until ${rfc5322Date(r.willRetryUntil)})` : '';
      human.push(`<${r.address}>: ${oneLine(r.reply)}${until}`);
    }
    human.push('');
  }
  if (delivered.length > 0) {
    // RFC 3461 NOTIFY=SUCCESS (sendmail -v, -N success)
    human.push('Your message was delivered to the mailboxes of the recipients below.', '');
    for (const r of delivered) human.push(`<${r.address}>: ${oneLine(r.reply)}`);
    human.push('');
  }

  // RFC 3464 §2.2: per-message fields, then one block per recipient (§2.3)
  const status: string[] = [];
  status.push(`Reporting-MTA: dns; ${input.reportingMta}`);
  status.push(`X-Postern-Queue-ID: ${input.queueId}`);
  if (input.envid) status.push(`Original-Envelope-Id: ${oneLine(input.envid)}`);
  status.push(`Arrival-Date: ${rfc5322Date(input.arrival)}`);
  for (const r of input.recipients) {
    status.push('');
    const orig = r.orcpt ? orcptField(r.orcpt) : null;
    if (orig) status.push(`Original-Recipient: ${oneLine(orig)}`);
    status.push(`Final-Recipient: rfc822; ${r.address}`);
    status.push(`Action: ${r.action}`);
    status.push(`Status: ${r.status ?? statusOfReply(r.reply, r.action === 'failed' ? 5 : r.action === 'delayed' ? 4 : 2)}`);
    if (r.remoteMta) status.push(`Remote-MTA: dns; ${oneLine(r.remoteMta)}`);
    if (/^[245]\d\d\b/.test(r.reply.trim())) status.push(`Diagnostic-Code: smtp; ${oneLine(r.reply)}`);
    else status.push(`Diagnostic-Code: X-Postern; ${oneLine(r.reply)}`);
    if (r.lastAttempt) status.push(`Last-Attempt-Date: ${rfc5322Date(r.lastAttempt)}`);
    if (r.willRetryUntil) status.push(`Will-Retry-Until: ${rfc5322Date(r.willRetryUntil)}`);
  }

  const messageId = `<${input.queueId}.${randomBytes(6).toString('hex')}@${input.reportingMta}>`;
  const head = [
    `From: Mail Delivery System <MAILER-DAEMON@${input.reportingMta}>`,
    `To: <${input.to}>`,
    `Subject: ${subject}`,
    `Date: ${rfc5322Date(now)}`,
    `Message-ID: ${messageId}`,
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary="${boundary}"`,
    '',
    'This is a MIME-encapsulated message.',
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    'Content-Description: Notification',
    '',
    ...human,
    `--${boundary}`,
    'Content-Type: message/delivery-status',
    'Content-Description: Delivery report',
    '',
    ...status,
    '',
    `--${boundary}`,
  ].join('\r\n');
  const which = failed.length > 0 || delayed.length > 0 ? 'Undelivered Message' : 'Delivered Message';
  const original = input.returnFull
    ? Buffer.concat([Buffer.from(`Content-Type: message/rfc822\r\nContent-Description: ${which}\r\n\r\n`), input.original])
    : Buffer.from(`Content-Type: text/rfc822-headers\r\nContent-Description: ${which} Headers\r\n\r\n${header.replace(/\r?\n/g, '\r\n')}\r\n`);
  const tail = Buffer.from(`${original.subarray(-2).toString() === '\r\n' ? '' : '\r\n'}--${boundary}--\r\n`);
  return { sender: '', recipient: input.to, data: Buffer.concat([Buffer.from(`${head}\r\n`), original, tail]) };
}
