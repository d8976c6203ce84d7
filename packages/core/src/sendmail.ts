/**
 * Local injection, as sendmail(8) does it: who the sender is, what a bare name means, the
 * header fields a local program leaves out, and the maildrop file through which an ordinary
 * user (no write access to queue.db) hands a message to the transfer app.
 *
 * Invariants:
 * - A local user who is not trusted (root, or the account that runs Postern) sends as
 *   themselves only: the identity is the uid that owns the maildrop file (the kernel says so,
 *   not the file's content), and an envelope sender naming anyone else is refused by the
 *   command and rewritten by the pickup.
 * - Bare names get `sendmail.origin` (Postfix's myorigin), which defaults to the host name, in
 *   the envelope and in the address fields of the header, as Postfix's cleanup rewrites local
 *   mail (append_at_myorigin); nothing else in the message changes.
 */
import { formatAddress, parseAddress } from './address.js';
import { headerFields, splitFields } from '@postern/header';
import { receivedHeader, rfc5322Date } from './queue/headers.js';

/** Completes a bare name ("root") with `origin` and normalises the address. Throws AddressError. */
export function completeAddress(text: string, origin: string): string {
  const t = text.trim().replace(/^<(.*)>$/, '$1');
  return formatAddress(parseAddress(t.includes('@') ? t : `${t}@${origin}`));
}

/** The header fields whose addresses a bare name is completed in (RFC 5322 §3.6.2, §3.6.3, §3.6.6). */
const ADDRESS_FIELDS = new Set(['from', 'sender', 'reply-to', 'to', 'cc', 'bcc', 'resent-from', 'resent-sender', 'resent-to', 'resent-cc', 'resent-bcc']);

/** A dot-atom local part without a domain (RFC 5322 §3.2.3, §3.4.1). */
const BARE_NAME = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;

/**
 * Completes bare names in one address-list field value with `@origin`, byte for byte otherwise:
 * `root`, `root (Cron Daemon)` and `Cron <root>` get the domain; quoted strings, comments and
 * groups (`undisclosed-recipients:;`) are left as they are.
 */
export function completeHeaderAddresses(value: string, origin: string): string {
  let out = '';
  let item = '';
  let depth = 0; // comment nesting (RFC 5322 §3.2.2)
  let quoted = false;
  let angle = -1; // where the current item's '<' is, or -1
  let group = false;
  const finish = (): void => {
    out += group ? item : completeItem(item, angle, origin);
    item = '';
    angle = -1;
  };
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (quoted) {
      item += c;
      if (c === '\\' && i + 1 < value.length) item += value[++i];
      else if (c === '"') quoted = false;
      continue;
    }
    if (depth > 0) {
      item += c;
      if (c === '\\' && i + 1 < value.length) item += value[++i];
      else if (c === '(') depth++;
      else if (c === ')') depth--;
      continue;
    }
    if (c === '"') quoted = true;
    else if (c === '(') depth = 1;
    else if (c === '<') angle = item.length;
    else if (c === ':' && angle < 0) group = true;
    else if (c === ';' && group) {
      item += c;
      out += item;
      item = '';
      group = false;
      continue;
    } else if (c === ',' && !group) {
      finish();
      out += c;
      continue;
    }
    item += c;
  }
  finish();
  return out;
}

function completeItem(item: string, angle: number, origin: string): string {
  if (angle >= 0) {
    const close = item.indexOf('>', angle);
    if (close < 0) return item;
    const inner = item.slice(angle + 1, close).trim();
    return BARE_NAME.test(inner) ? `${item.slice(0, close)}@${origin}${item.slice(close)}` : item;
  }
  // the address is the item without its comments and folding white space
  const m = /^(\s*)([^\s(]+)/.exec(item);
  if (!m || !BARE_NAME.test(m[2]!)) return item;
  const at = m[1]!.length + m[2]!.length;
  return `${item.slice(0, at)}@${origin}${item.slice(at)}`;
}

/** The fields localMessage adds when a program left them out. */
const ORIGINATOR_FIELDS: ReadonlySet<string> = new Set(['from', 'date', 'message-id']);

/** Who runs the command: a login name, its uid, and whether it may name any sender. */
export interface LocalIdentity {
  username: string;
  uid: number;
  trusted: boolean;
}

export type SenderDecision = { ok: true; sender: string } | { ok: false; own: string; reason: string };

/**
 * The envelope sender for a local submission: `requested` (-f / -r) for a trusted caller; for
 * anyone else only their own name at the origin or the host name (with or without +detail).
 * "<>" (the null sender) is for trusted callers only.
 */
export function localSender(requested: string | null, who: LocalIdentity, config: { origin: string; hostname: string }): SenderDecision {
  const own = completeAddress(who.username, config.origin);
  if (requested === null || requested === '') return { ok: true, sender: own };
  const nullSender = requested === '<>';
  if (who.trusted) return { ok: true, sender: nullSender ? '' : completeAddress(requested, config.origin) };
  if (!nullSender) {
    const a = parseAddress(completeAddress(requested, config.origin));
    const base = a.local.split('+')[0];
    const ours = [config.origin, config.hostname.toLowerCase()].includes(a.domain);
    if (ours && base === who.username) return { ok: true, sender: formatAddress(a) };
  }
  return { ok: false, own, reason: `${who.username} may not send as ${requested} (only as ${own})` };
}

/**
 * The message as queued: a Received: field, and From:, Date: and Message-ID: where the program
 * left them out (RFC 5322 §3.6: From: and Date: are required). `fullName` is -F / $NAME.
 */
export function localMessage(o: {
  data: Buffer;
  id: string;
  sender: string;
  recipients: readonly string[];
  hostname: string;
  /** sendmail.origin: completes bare names in the address fields (absent: left as they are). */
  origin?: string;
  fullName?: string | null;
}): Buffer {
  const data = o.origin ? completeAddressFields(o.data, o.origin) : o.data;
  const names = new Set(headerFields(data, ORIGINATOR_FIELDS).map((f) => f.name.toLowerCase()));
  let added = receivedHeader({ by: o.hostname, with: 'local', id: o.id, ...(o.recipients.length === 1 ? { for: o.recipients[0]! } : {}) });
  if (!names.has('from')) {
    const phrase = o.fullName ? o.fullName.replace(/[\r\n"\\]/g, '').slice(0, 200) : '';
    const sender = o.sender || `MAILER-DAEMON@${o.hostname}`;
    added += phrase ? `From: "${phrase}" <${sender}>\r\n` : `From: <${sender}>\r\n`;
  }
  if (!names.has('date')) added += `Date: ${rfc5322Date()}\r\n`;
  if (!names.has('message-id')) added += `Message-ID: <${o.id}@${o.hostname}>\r\n`;
  return Buffer.concat([Buffer.from(added, 'latin1'), data]);
}

/** The message with bare names completed in its header's address fields; the body untouched. */
function completeAddressFields(data: Buffer, origin: string): Buffer {
  const kept: Buffer[] = [];
  let at = 0;
  for (const f of splitFields(data, 0, data.length)) {
    if (!ADDRESS_FIELDS.has(f.key)) continue;
    // latin1: one code unit per octet, so 8-bit header bytes survive the round trip
    const value = data.toString('latin1', f.valueStart, f.valueEnd);
    const completed = completeHeaderAddresses(value, origin);
    if (completed === value) continue;
    kept.push(data.subarray(at, f.valueStart), Buffer.from(completed, 'latin1'));
    at = f.valueEnd;
  }
  if (kept.length === 0) return data;
  kept.push(data.subarray(at));
  return Buffer.concat(kept);
}

/** What a maildrop file carries before the message: the choices made on the command line. */
export interface DropEnvelope {
  /** -f / -r as given (checked again at pickup against the file's owner), or null. */
  sender: string | null;
  recipients: string[];
  fullName: string | null;
  notify: string[] | null;
  ret: 'FULL' | 'HDRS' | null;
  envid: string | null;
}

const DROP_MAGIC = 'postern-maildrop 1 ';
/** The envelope line's own limit (recipients are counted against limits.recipients as well). */
export const DROP_ENVELOPE_MAX = 1_048_576;

export function encodeDrop(env: DropEnvelope, message: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${DROP_MAGIC}${JSON.stringify(env)}\n`, 'utf8'), message]);
}

/** Parses a maildrop file; throws an Error saying what is malformed. */
export function decodeDrop(file: Buffer): { envelope: DropEnvelope; message: Buffer } {
  const nl = file.indexOf(0x0a);
  if (nl < 0 || nl > DROP_ENVELOPE_MAX) throw new Error('no envelope line');
  const line = file.subarray(0, nl).toString('utf8');
  if (!line.startsWith(DROP_MAGIC)) throw new Error('not a maildrop file');
  const raw: unknown = JSON.parse(line.slice(DROP_MAGIC.length));
  const r = raw as Record<string, unknown>;
  const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
  const strs = (v: unknown): string[] | null => (Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : null);
  const recipients = strs(r['recipients']);
  if (raw === null || typeof raw !== 'object' || !recipients) throw new Error('bad envelope');
  const ret = r['ret'] === 'FULL' || r['ret'] === 'HDRS' ? r['ret'] : null;
  return {
    envelope: { sender: str(r['sender']), recipients, fullName: str(r['fullName']), notify: strs(r['notify']), ret, envid: str(r['envid']) },
    message: file.subarray(nl + 1),
  };
}
