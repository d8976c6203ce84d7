/**
 * Composing: a draft (what the form holds) becomes an RFC 5322 message (nodemailer's
 * MailComposer), and a message being answered or forwarded becomes a prefilled draft with the
 * threading headers of RFC 5322 §3.6.4 and the original quoted.
 */
import { randomBytes } from 'node:crypto';
import MailComposer from 'nodemailer/lib/mail-composer';
import addressparser from 'nodemailer/lib/addressparser';
import type { Address, MessageDetail } from './account.js';

export interface DraftAttachment {
  filename: string;
  contentType: string;
  content: Buffer;
}

export interface Draft {
  to: string;
  cc: string;
  bcc: string;
  subject: string;
  body: string;
  inReplyTo: string;
  references: string;
}

export class AddressListError extends Error {
  constructor(
    readonly field: string,
    readonly value: string,
  ) {
    super(`${field}: “${value}” is not an email address`);
    this.name = 'AddressListError';
  }
}

const ADDRESS = /^[^\s@<>()",;:\\[\]]+@[^\s@<>()",;:\\[\]]+\.[^\s@<>()",;:\\[\]]+$|^[^\s@<>()",;:\\[\]]+@localhost$/i;

/** Parses a To/Cc/Bcc field ("Ann <a@x.org>, b@y.org"); every entry must be an address. */
export function parseAddressList(text: string, field: string): Address[] {
  const out: Address[] = [];
  for (const a of addressparser(text, { flatten: true })) {
    const address = a.address.trim();
    if (address === '' && a.name.trim() === '') continue;
    if (!ADDRESS.test(address)) throw new AddressListError(field, address || a.name);
    out.push({ name: a.name, address });
  }
  return out;
}

export function formatAddress(a: Address): string {
  if (!a.name) return a.address;
  const quoted = /[^\w\s.'-]/.test(a.name) ? `"${a.name.replace(/["\\]/g, '\\$&')}"` : a.name;
  return `${quoted} <${a.address}>`;
}

export function formatAddressList(list: readonly Address[]): string {
  return list.map(formatAddress).join(', ');
}

/** A Message-ID in the sender's domain (RFC 5322 §3.6.4). */
export function newMessageId(from: string): string {
  const domain = from.slice(from.lastIndexOf('@') + 1) || 'localhost';
  return `<${Date.now().toString(36)}.${randomBytes(12).toString('hex')}@${domain}>`;
}

export interface BuildOptions {
  from: string;
  messageId: string;
  date: Date;
  /** true for the Sent and Drafts copies; the message on the wire never shows Bcc. */
  keepBcc: boolean;
  attachments: DraftAttachment[];
}

export async function buildMessage(d: Draft, o: BuildOptions): Promise<Buffer> {
  const composer = new MailComposer({
    from: o.from,
    to: parseAddressList(d.to, 'To'),
    cc: parseAddressList(d.cc, 'Cc'),
    bcc: parseAddressList(d.bcc, 'Bcc'),
    subject: d.subject,
    text: d.body.replace(/\r?\n/g, '\r\n'),
    messageId: o.messageId,
    date: o.date,
    inReplyTo: d.inReplyTo || undefined,
    references: d.references || undefined,
    attachments: o.attachments.map((a) => ({ filename: a.filename, contentType: a.contentType, content: a.content })),
    headers: { 'User-Agent': 'Postern webmail' },
    disableFileAccess: true,
    disableUrlAccess: true,
  });
  const node = composer.compile();
  node.keepBcc = o.keepBcc;
  return node.build();
}

/** Every recipient (the SMTP envelope: To, Cc and Bcc). */
export function recipients(d: Draft): string[] {
  const all = [...parseAddressList(d.to, 'To'), ...parseAddressList(d.cc, 'Cc'), ...parseAddressList(d.bcc, 'Bcc')];
  return [...new Set(all.map((a) => a.address))];
}

function prefixed(subject: string, prefix: 'Re' | 'Fwd'): string {
  const s = subject.trim();
  const re = prefix === 'Re' ? /^re:/i : /^(fwd?|fw):/i;
  return re.test(s) ? s : `${prefix}: ${s}`;
}

/** RFC 5322 §3.6.4: References = parent's References (or In-Reply-To) + parent's Message-ID. */
export function threadHeaders(orig: Pick<MessageDetail, 'messageId' | 'references' | 'inReplyTo'>): { inReplyTo: string; references: string } {
  const ids = (text: string): string[] => text.match(/<[^<>\s]+>/g) ?? [];
  const parent = ids(orig.messageId)[0] ?? '';
  const chain = ids(orig.references).length > 0 ? ids(orig.references) : ids(orig.inReplyTo).slice(0, 1);
  // Keep the chain short enough for one header line per id, as RFC 5322 suggests trimming the middle.
  const refs = [...chain, parent].filter((v, i, a) => v !== '' && a.indexOf(v) === i);
  const trimmed = refs.length > 20 ? [refs[0]!, ...refs.slice(-19)] : refs;
  return { inReplyTo: parent, references: trimmed.join(' ') };
}

export function quote(text: string): string {
  return text
    .replace(/\r\n/g, '\n')
    .replace(/\n+$/, '')
    .split('\n')
    .map((l) => (l.startsWith('>') ? `>${l}` : `> ${l}`))
    .join('\n');
}

function who(list: readonly Address[]): string {
  const a = list[0];
  return a ? a.name || a.address : 'someone';
}

export function replyDraft(orig: MessageDetail, originalText: string, all: boolean, self: string): Draft {
  const me = self.toLowerCase();
  const primary = orig.replyTo.length > 0 ? orig.replyTo : orig.from;
  let to = primary;
  let cc: Address[] = [];
  if (all) {
    const seen = new Set(primary.map((a) => a.address.toLowerCase()));
    const rest = (list: Address[]): Address[] =>
      list.filter((a) => {
        const k = a.address.toLowerCase();
        if (k === me || seen.has(k)) return false;
        seen.add(k);
        return true;
      });
    // A reply to one's own message goes to its recipients, not back to oneself.
    if (primary.every((a) => a.address.toLowerCase() === me)) to = rest(orig.to);
    else to = [...primary, ...rest(orig.to)];
    cc = rest(orig.cc);
  } else if (primary.every((a) => a.address.toLowerCase() === me) && orig.to.length > 0) {
    to = orig.to;
  }
  const date = orig.date ? orig.date.toUTCString() : 'an earlier date';
  return {
    to: formatAddressList(to),
    cc: formatAddressList(cc),
    bcc: '',
    subject: prefixed(orig.subject, 'Re'),
    body: `\n\nOn ${date}, ${who(orig.from)} wrote:\n${quote(originalText)}\n`,
    ...threadHeaders(orig),
  };
}

export function forwardDraft(orig: MessageDetail, originalText: string): Draft {
  const lines = [
    '',
    '',
    '---------- Forwarded message ----------',
    `From: ${formatAddressList(orig.from)}`,
    `Date: ${orig.date ? orig.date.toUTCString() : ''}`,
    `Subject: ${orig.subject}`,
    `To: ${formatAddressList(orig.to)}`,
    ...(orig.cc.length > 0 ? [`Cc: ${formatAddressList(orig.cc)}`] : []),
    '',
    originalText.replace(/\r\n/g, '\n'),
  ];
  // A forward starts a new thread but says where it came from (RFC 5322 §3.6.4 allows it).
  return { to: '', cc: '', bcc: '', subject: prefixed(orig.subject, 'Fwd'), body: lines.join('\n'), inReplyTo: '', references: threadHeaders(orig).references };
}
