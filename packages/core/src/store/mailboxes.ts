/**
 * Mailboxes of a user. Every user has INBOX, Sent, Drafts, Trash, Junk and Archive with their
 * special-use attributes (RFC 6154). Names are UTF-8 with "/" as the hierarchy separator; INBOX is
 * case-insensitive (RFC 9051 §5.1).
 */
export const HIERARCHY_SEPARATOR = '/';

export const DEFAULT_MAILBOXES: ReadonlyArray<{ name: string; specialUse: string | null }> = [
  { name: 'INBOX', specialUse: null },
  { name: 'Sent', specialUse: '\\Sent' },
  { name: 'Drafts', specialUse: '\\Drafts' },
  { name: 'Trash', specialUse: '\\Trash' },
  { name: 'Junk', specialUse: '\\Junk' },
  { name: 'Archive', specialUse: '\\Archive' },
];

export const SPECIAL_USES = ['\\All', '\\Archive', '\\Drafts', '\\Flagged', '\\Junk', '\\Sent', '\\Trash'] as const;

/** UIDVALIDITY for a new mailbox: seconds since the epoch, as Dovecot does, mixed with a counter
 * so two mailboxes made in the same second (or a mailbox deleted and re-created) differ. */
let lastUidValidity = 0;
export function newUidValidity(): number {
  const now = Math.floor(Date.now() / 1000) >>> 0;
  lastUidValidity = now > lastUidValidity ? now : lastUidValidity + 1;
  return lastUidValidity >>> 0;
}

/** Canonical form of a mailbox name: "INBOX" in any case is INBOX (also as a parent: "inbox/x"). */
export function canonicalMailboxName(name: string): string {
  if (name.toUpperCase() === 'INBOX') return 'INBOX';
  if (name.slice(0, 6).toUpperCase() === `INBOX${HIERARCHY_SEPARATOR}`) return `INBOX${name.slice(5)}`;
  return name.normalize('NFC');
}

/** A name we accept: not empty, no empty levels, no control characters, not too long. */
export function validMailboxName(name: string): boolean {
  if (name.length === 0 || name.length > 512) return false;
  if (/[\x00-\x1f\x7f]/.test(name)) return false;
  if (/[*%]/.test(name)) return false; // LIST wildcards (RFC 9051 §5.1)
  return name.split(HIERARCHY_SEPARATOR).every((level) => level.length > 0);
}
