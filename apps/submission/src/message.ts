/**
 * What submission (RFC 6409 §8) checks and completes in a message before queueing it: every
 * From: and Sender: address must belong to the authenticated user (`553 5.7.1` otherwise), and a
 * missing Date: or Message-ID: is added (§8.2, §8.3). Trace fields a client cannot have written
 * are dropped first (withoutForgedTrace).
 */
import { randomBytes } from 'node:crypto';
import addressparser from 'nodemailer/lib/addressparser';
import { rfc5322Date, type Accounts, type User } from '@postern/core';
import { headerFields, unfoldedValue, withoutFields } from '@postern/header';
import { SmtpReply } from '@postern/smtp';
import { stripForgedAuthResults } from '@postern/trust';

/** Every mailbox address in header values (groups flattened). */
export function mailboxesOf(values: readonly string[]): string[] {
  const out: string[] = [];
  for (const v of values) {
    for (const a of addressparser(v, { flatten: true })) if (a.address) out.push(a.address);
  }
  return out;
}

/** The fields completeSubmission reads: the author's (checked) and those it adds when missing. */
const CHECKED_FIELDS: ReadonlySet<string> = new Set(['from', 'sender', 'date', 'message-id']);

/** Checks the author fields and returns the header fields to add (each ending in CRLF). */
export function completeSubmission(data: Buffer, user: User, accounts: Accounts, hostname: string, queueId: string): string {
  const fields = headerFields(data, CHECKED_FIELDS);
  const headerValues = (name: string): string[] => fields.filter((f) => f.name.toLowerCase() === name.toLowerCase()).map(unfoldedValue);
  for (const field of ['From', 'Sender']) {
    const values = headerValues(field);
    for (const address of mailboxesOf(values)) {
      if (!accounts.maySendAs(user, address)) {
        throw new SmtpReply(553, '5.7.1', `${field}: <${address}> is not an address of ${user.address}`);
      }
    }
  }
  let add = '';
  if (headerValues('From').length === 0) add += `From: <${user.address}>\r\n`;
  if (headerValues('Date').length === 0) add += `Date: ${rfc5322Date()}\r\n`;
  if (headerValues('Message-ID').length === 0) {
    add += `Message-ID: <${queueId}.${randomBytes(6).toString('hex')}@${hostname}>\r\n`;
  }
  return add;
}

const RETURN_PATH: ReadonlySet<string> = new Set(['return-path']);

/**
 * The submitted message without the fields only our own servers may write: an
 * Authentication-Results naming our host (RFC 8601 §5; the MX does the same) and any
 * Return-Path (RFC 5321 §4.4: added once, at final delivery, where the delivery agent adds ours).
 * Every other byte is kept.
 */
export function withoutForgedTrace(data: Buffer, hostname: string): Buffer {
  return withoutFields(stripForgedAuthResults(data, hostname), RETURN_PATH);
}
