/**
 * What mbox and Maildir share: line endings, and the flags Dovecot, Courier and mutt keep
 * outside the message (mbox: Status / X-Status / X-Keywords fields; Maildir: the ":2," letters
 * of the file name and dovecot-keywords).
 */

/** A message with no CRLF at all (Dovecot's and mutt's files) gets CRLF, as IMAP sends it (RFC 9051 §2.2). */
export function toCrlf(raw: Buffer): Buffer {
  if (raw.includes('\r\n')) return raw;
  if (!raw.includes('\n')) return raw;
  return Buffer.from(raw.toString('latin1').replace(/\n/g, '\r\n'), 'latin1');
}

/** Maildir info letters (cr.yp.to/proto/maildir.html) and the system flags they stand for. */
export const MAILDIR_LETTERS: ReadonlyArray<[string, string]> = [
  ['D', '\\Draft'],
  ['F', '\\Flagged'],
  ['R', '\\Answered'],
  ['S', '\\Seen'],
  ['T', '\\Deleted'],
];

/** Flags of a Maildir file name's ":2,..." info; lowercase letters are keywords (Dovecot). */
export function maildirFlags(file: string, keywords: readonly string[]): string[] {
  const at = file.lastIndexOf(':2,');
  if (at < 0) return [];
  const out: string[] = [];
  for (const ch of file.slice(at + 3)) {
    const sys = MAILDIR_LETTERS.find(([l]) => l === ch);
    if (sys) out.push(sys[1]);
    else if (ch >= 'a' && ch <= 'z') {
      const kw = keywords[ch.charCodeAt(0) - 97];
      if (kw) out.push(kw);
    }
  }
  return out;
}

/** The ":2,..." info for `flags`, keywords numbered in `keywords` (which grows; at most 26, Dovecot's limit). */
export function maildirInfo(flags: readonly string[], keywords: string[]): string {
  let letters = '';
  const kw: string[] = [];
  for (const f of flags) {
    const sys = MAILDIR_LETTERS.find(([, name]) => name.toLowerCase() === f.toLowerCase());
    if (sys) letters += sys[0];
    else if (!f.startsWith('\\')) {
      let i = keywords.indexOf(f);
      if (i < 0 && keywords.length < 26) i = keywords.push(f) - 1;
      if (i >= 0) kw.push(String.fromCharCode(97 + i));
    }
  }
  return `:2,${[...letters].sort().join('')}${kw.sort().join('')}`;
}

/** dovecot-keywords: "N name" per line. */
export function parseDovecotKeywords(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\d+) (.+)$/.exec(line.trim());
    if (m) out[Number(m[1])] = m[2]!;
  }
  return out;
}

/** mbox status fields: Status (R seen, O old), X-Status (A answered, F flagged, T draft, D deleted), X-Keywords. */
export const MBOX_FLAG_FIELDS = ['status', 'x-status', 'x-keywords', 'x-uid', 'x-imap', 'x-imapbase'];

export function mboxFlags(fields: ReadonlyMap<string, string>): string[] {
  const out: string[] = [];
  const status = fields.get('status') ?? '';
  const x = fields.get('x-status') ?? '';
  if (status.includes('R')) out.push('\\Seen');
  if (x.includes('A')) out.push('\\Answered');
  if (x.includes('F')) out.push('\\Flagged');
  if (x.includes('T')) out.push('\\Draft');
  if (x.includes('D')) out.push('\\Deleted');
  for (const k of (fields.get('x-keywords') ?? '').split(/[\s,]+/)) if (k) out.push(k);
  return out;
}

/** The fields mboxFlags reads, for `flags`, each ending in `eol`. */
export function mboxFlagFields(flags: readonly string[], eol: string): string {
  const has = (f: string): boolean => flags.some((x) => x.toLowerCase() === f.toLowerCase());
  let x = '';
  if (has('\\Answered')) x += 'A';
  if (has('\\Flagged')) x += 'F';
  if (has('\\Draft')) x += 'T';
  if (has('\\Deleted')) x += 'D';
  const kw = flags.filter((f) => !f.startsWith('\\'));
  return `Status: ${has('\\Seen') ? 'RO' : 'O'}${eol}${x ? `X-Status: ${x}${eol}` : ''}${kw.length ? `X-Keywords: ${kw.join(' ')}${eol}` : ''}`;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** The From_ line's date: asctime(3) in UTC, "Tue Mar  3 12:00:00 2026". */
export function asctime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} ${d.getUTCFullYear()}`;
}

/** The date of a From_ line ("From sender Tue Mar  3 12:00:00 2026"), or null. */
export function fromLineDate(line: string): number | null {
  const m = /([A-Z][a-z]{2}) +(\d{1,2}) +(\d{1,2}):(\d{2})(?::(\d{2}))?(?: +[A-Z]{3,5})? +(\d{4})/.exec(line);
  if (!m) return null;
  const month = MONTHS.indexOf(m[1]!);
  if (month < 0) return null;
  return Date.UTC(Number(m[6]), month, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5] ?? 0));
}
