/**
 * What submission (RFC 6409 §8) checks and completes in a message before queueing it: every
 * From: and Sender: address must belong to the authenticated user (`553 5.7.1` otherwise), and a
 * missing Date: or Message-ID: is added (§8.2, §8.3).
 */
import { randomBytes } from 'node:crypto';
import addressparser from 'nodemailer/lib/addressparser';
import { headerSection, headerValues, rfc5322Date, type Accounts, type User } from '@postern/core';
import { SmtpReply } from '@postern/smtp';

/** Every mailbox address in header values (groups flattened). */
export function mailboxesOf(values: readonly string[]): string[] {
  const out: string[] = [];
  for (const v of values) {
    for (const a of addressparser(v, { flatten: true })) if (a.address) out.push(a.address);
  }
  return out;
}

/** Checks the author fields and returns the header fields to add (each ending in CRLF). */
export function completeSubmission(data: Buffer, user: User, accounts: Accounts, hostname: string, queueId: string): string {
  const { header } = headerSection(data);
  for (const field of ['From', 'Sender']) {
    const values = headerValues(header, field);
    for (const address of mailboxesOf(values)) {
      if (!accounts.maySendAs(user, address)) {
        throw new SmtpReply(553, '5.7.1', `${field}: <${address}> is not an address of ${user.address}`);
      }
    }
  }
  let add = '';
  if (headerValues(header, 'From').length === 0) add += `From: <${user.address}>\r\n`;
  if (headerValues(header, 'Date').length === 0) add += `Date: ${rfc5322Date()}\r\n`;
  if (headerValues(header, 'Message-ID').length === 0) {
    add += `Message-ID: <${queueId}.${randomBytes(6).toString('hex')}@${hostname}>\r\n`;
  }
  return add;
}
