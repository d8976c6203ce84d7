/**
 * Vacation replies as RFC 5230 and RFC 3834 say: when not to answer at all (§4.5, §4.6; RFC 3834
 * §2), and the reply itself (§5: Subject "Auto: ", In-Reply-To/References, Auto-Submitted:
 * auto-replied, sent to the return path with the null envelope sender). How often one sender is
 * answered (:days / :seconds) is the caller's store; the key is `vacationKey`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { addressList } from './address.js';
import { decodeHeader } from './header.js';
import type { SieveAction, SieveHeaderField } from './execute.js';

type Vacation = Extract<SieveAction, { type: 'vacation' }>;

/** RFC 5230 §4.6: local parts that are lists' and daemons' own. */
const NO_REPLY_LOCAL = /^(mailer-daemon|listserv|majordomo|owner-.*|.*-request|.*-owner|postmaster|noreply|no-reply|do-not-reply)$/i;
/** RFC 2369 / RFC 2919 list fields. */
const LIST_FIELDS = ['list-id', 'list-help', 'list-unsubscribe', 'list-subscribe', 'list-post', 'list-owner', 'list-archive'];
const RECIPIENT_FIELDS = new Set(['to', 'cc', 'bcc', 'resent-to', 'resent-cc', 'resent-bcc']);

/** Why no reply is sent; null when one may be. `own`: the user's addresses, :addresses included. */
export function vacationRefusal(headers: readonly SieveHeaderField[], sender: string, own: readonly string[], junk: boolean): string | null {
  if (sender === '') return 'the message has the null return path';
  const lc = sender.toLowerCase();
  const local = lc.slice(0, Math.max(0, lc.lastIndexOf('@')));
  if (NO_REPLY_LOCAL.test(local)) return `the sender ${sender} is a daemon or a list`;
  const ownSet = new Set(own.map((a) => a.toLowerCase()));
  if (ownSet.has(lc)) return 'the sender is the user';
  if (junk) return 'the message was judged junk';
  const field = (n: string): string[] => headers.filter((h) => h.name.toLowerCase() === n).map((h) => h.value.trim());
  const auto = field('auto-submitted');
  if (auto.some((v) => !/^no\b/i.test(v))) return 'the message was sent automatically (Auto-Submitted)';
  if (LIST_FIELDS.some((f) => field(f).length > 0)) return 'the message came from a mailing list';
  if (field('precedence').some((v) => /^(bulk|list|junk)\b/i.test(v))) return 'the message is bulk mail (Precedence)';
  if (field('x-auto-response-suppress').some((v) => /\b(all|oof|autoreply)\b/i.test(v))) return 'the sender asked for no automatic replies';
  // §4.5: only when the user is named as a recipient (not Bcc'd through a list or alias)
  const named = headers.filter((h) => RECIPIENT_FIELDS.has(h.name.toLowerCase())).flatMap((h) => addressList(decodeHeader(h.value)));
  if (!named.some((a) => ownSet.has(a.toLowerCase()))) return 'the user is not among the recipients in the header';
  return null;
}

/** The dedup key for "one reply per sender per period" (RFC 5230 §4.2: per handle). */
export function vacationKey(action: Vacation, sender: string): string {
  return createHash('sha256').update(action.handle).update('\0').update(sender.toLowerCase()).digest('hex');
}

function encodeWord(s: string): string {
  if (/^[\x20-\x7e]*$/.test(s)) return s;
  return `=?UTF-8?B?${Buffer.from(s).toString('base64')}?=`;
}

function wrap64(b: Buffer): string {
  return (b.toString('base64').match(/.{1,76}/g) ?? []).join('\r\n');
}

export interface VacationReplyOptions {
  action: Vacation;
  /** The original message's header. */
  headers: readonly SieveHeaderField[];
  /** Who is answering: the recipient's address (used when the script gives no :from). */
  recipient: string;
  /** Where the reply goes: the original return path. */
  sender: string;
  /** The domain of the Message-ID. */
  hostname: string;
  now?: Date;
}

/** The reply as RFC 5322 bytes, to be queued with the null envelope sender (RFC 3834 §3.3). */
export function vacationReply(o: VacationReplyOptions): Buffer {
  const field = (n: string): string | undefined => o.headers.find((h) => h.name.toLowerCase() === n)?.value.trim();
  const subject = o.action.subject ?? `Auto: ${decodeHeader(field('subject') ?? '')}`.trimEnd();
  const mid = field('message-id');
  const refs = [field('references'), mid].filter((x): x is string => x !== undefined && x !== '').join(' ');
  const from = (o.action.from ?? o.recipient).replace(/[\r\n]/g, ' ');
  const lines = [
    `From: ${from.includes('<') ? from : `<${from}>`}`,
    `To: <${o.sender}>`,
    `Subject: ${encodeWord(subject.replace(/[\r\n]+/g, ' '))}`,
    `Date: ${(o.now ?? new Date()).toUTCString().replace(/GMT$/, '+0000')}`,
    `Message-ID: <${randomBytes(12).toString('hex')}@${o.hostname}>`,
    ...(mid ? [`In-Reply-To: ${mid}`] : []),
    ...(refs ? [`References: ${refs}`] : []),
    'Auto-Submitted: auto-replied (vacation)',
    'Precedence: bulk',
    'MIME-Version: 1.0',
  ];
  const reason = o.action.reason.replace(/\r?\n/g, '\r\n');
  if (o.action.mime) {
    // §5.8: with :mime the reason is a MIME entity (its own Content-* fields, a blank line, a body)
    return Buffer.from(`${lines.join('\r\n')}\r\n${reason.endsWith('\r\n') ? reason : `${reason}\r\n`}`);
  }
  lines.push('Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: base64');
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n${wrap64(Buffer.from(reason))}\r\n`);
}
