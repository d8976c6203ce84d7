/**
 * IMAP ENVELOPE (RFC 9051 §7.5.2): date, subject, from, sender, reply-to, to, cc, bcc,
 * in-reply-to, message-id. Values are the raw header values (encoded-words left for the
 * client), unfolded. As in Dovecot: the last occurrence of a string field wins, the addresses of
 * repeated address fields are concatenated; Sender and Reply-To
 * default to From (RFC 9051 §7.5.2); an address field without addresses is NIL; the subject and
 * display names have white space runs collapsed and trimmed ("for humans").
 */
import { imapNString } from '@postern/imap';
import type { Address } from './address.js';
import { MAX_ADDRESSES, parseAddressList } from './address.js';
import type { RawField } from '@postern/header';
import { fieldValue, lastField } from '@postern/header';

/** Header fields of one message, decoded once and shared by ENVELOPE and the search columns. */
export interface MessageHeaders {
  date: string | null;
  subject: string | null;
  from: Address[];
  sender: Address[];
  replyTo: Address[];
  to: Address[];
  cc: Address[];
  bcc: Address[];
  inReplyTo: string | null;
  messageId: string | null;
  references: string | null;
}

export function readMessageHeaders(raw: Buffer, fields: readonly RawField[]): MessageHeaders {
  const str = (key: string): string | null => {
    const f = lastField(fields, key);
    return f === undefined ? null : fieldValue(raw, f);
  };
  // Address fields that occur more than once are concatenated (Dovecot 2.3 does the same);
  // other fields: the last occurrence wins.
  const addrs = (key: string): Address[] => {
    const out: Address[] = [];
    for (const f of fields) {
      if (f.key !== key || out.length >= MAX_ADDRESSES) continue;
      for (const a of parseAddressList(fieldValue(raw, f))) {
        if (out.length >= MAX_ADDRESSES) break;
        out.push(a);
      }
    }
    return out;
  };
  return {
    date: str('date'),
    subject: str('subject'),
    from: addrs('from'),
    sender: addrs('sender'),
    replyTo: addrs('reply-to'),
    to: addrs('to'),
    cc: addrs('cc'),
    bcc: addrs('bcc'),
    inReplyTo: str('in-reply-to'),
    messageId: str('message-id'),
    references: str('references'),
  };
}

/** Collapses runs of SP/HTAB to one space and trims: Dovecot's imap_append_string_for_humans. */
export function forHumans(s: string): string {
  return s.replace(/[ \t]+/g, ' ').replace(/^ | $/g, '');
}

function addressList(list: readonly Address[]): string {
  if (list.length === 0) return 'NIL';
  let out = '(';
  for (const a of list) {
    const name = a.name === null ? 'NIL' : imapNString(forHumans(a.name));
    out += `(${name} ${imapNString(a.route)} ${imapNString(a.mailbox)} ${imapNString(a.host)})`;
  }
  return `${out})`;
}

/** The ENVELOPE list, parentheses included, ready to send. */
export function buildEnvelope(h: MessageHeaders): string {
  const from = h.from;
  const sender = h.sender.length > 0 ? h.sender : from;
  const replyTo = h.replyTo.length > 0 ? h.replyTo : from;
  return (
    `(${imapNString(h.date)} ${h.subject === null ? 'NIL' : imapNString(forHumans(h.subject))} ` +
    `${addressList(from)} ${addressList(sender)} ${addressList(replyTo)} ` +
    `${addressList(h.to)} ${addressList(h.cc)} ${addressList(h.bcc)} ` +
    `${imapNString(h.inReplyTo)} ${imapNString(h.messageId)})`
  );
}
