/**
 * Mailbox management: CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE (RFC 9051 §6.3), LIST with
 * LIST-EXTENDED selection/return options (RFC 5258), LIST-STATUS (RFC 5819) and special-use
 * attributes (RFC 6154), LSUB (RFC 3501), STATUS (with SIZE, RFC 8438; HIGHESTMODSEQ, RFC 7162).
 */
import { listResponse, mailboxPatternMatcher, MAX_MAILBOX_PATTERN, statusResponse, type CommandOf, type StatusItem, type StatusValues } from '@postern/imap';
import { SPECIAL_USES, type Mailbox } from '@postern/core';
import { no, ok, type Reply } from '../reply.js';
import type { ImapSession } from '../session.js';
import { storeCall } from '../store-errors.js';

const DELIMITER = '/';

function userId(s: ImapSession): number {
  if (!s.user) throw new Error('no user in the authenticated state');
  return s.user.id;
}

export async function cmdCreate(s: ImapSession, c: CommandOf<'CREATE'>): Promise<Reply> {
  const use = c.specialUse[0] ?? null;
  if (c.specialUse.length > 1) throw no('one special use per mailbox', 'USEATTR');
  const known = use === null ? null : SPECIAL_USES.find((u) => u.toLowerCase() === use.toLowerCase());
  if (use !== null && !known) throw no(`unsupported special use ${use}`, 'USEATTR');
  if (c.mailbox === 'INBOX') throw no('INBOX exists already', 'ALREADYEXISTS');
  await storeCall(() => s.store.createMailbox(userId(s), c.mailbox, known ?? null));
  return ok('CREATE completed');
}

export async function cmdDelete(s: ImapSession, c: CommandOf<'DELETE'>): Promise<Reply> {
  const uid = userId(s);
  const mb = await s.store.mailbox(uid, c.mailbox);
  const all = await s.store.listMailboxes(uid);
  // RFC 9051 §6.3.5: deleting a \Noselect name that has inferiors is an error
  if (!mb) throw hasChildren(all, c.mailbox) ? no('mailbox has children', 'HASCHILDREN') : no('no such mailbox', 'NONEXISTENT');
  if (hasChildren(all, mb.name)) throw no('mailbox has children', 'HASCHILDREN');
  if (s.selected?.id === mb.id) {
    // RFC 9051 §6.3.5 leaves it open; we close it first so this session never reads a deleted mailbox.
    s.selected = null;
    s.state = 'authenticated';
  }
  await storeCall(() => s.store.deleteMailbox(uid, c.mailbox));
  return ok('DELETE completed');
}

export async function cmdRename(s: ImapSession, c: CommandOf<'RENAME'>): Promise<Reply> {
  await storeCall(() => s.store.renameMailbox(userId(s), c.mailbox, c.newName));
  return ok('RENAME completed');
}

export async function cmdSubscribe(s: ImapSession, c: CommandOf<'SUBSCRIBE' | 'UNSUBSCRIBE'>): Promise<Reply> {
  await storeCall(() => s.store.setSubscribed(userId(s), c.mailbox, c.name === 'SUBSCRIBE'));
  return ok(`${c.name} completed`);
}

/**
 * The matcher of LIST/LSUB patterns (each joined to the reference). Matching costs name length x
 * pattern length per mailbox, so the patterns of one command together are bounded: longer than
 * two mailbox names is refused rather than matched (issue 14).
 */
function patternMatcher(reference: string, patterns: readonly string[]): (name: string) => boolean {
  const full = patterns.map((p) => reference + p);
  if (full.reduce((n, p) => n + p.length, 0) > MAX_MAILBOX_PATTERN) throw no(`mailbox patterns longer than ${MAX_MAILBOX_PATTERN} characters`, 'LIMIT');
  const matchers = full.map((p) => mailboxPatternMatcher(p, DELIMITER));
  return (name) => matchers.some((match) => match(name));
}

async function statusValues(s: ImapSession, mb: Mailbox, items: readonly StatusItem[]): Promise<StatusValues> {
  const v: StatusValues = {};
  for (const item of items) {
    switch (item) {
      case 'MESSAGES':
        v.MESSAGES = mb.messages;
        break;
      case 'UIDNEXT':
        v.UIDNEXT = mb.uidNext;
        break;
      case 'UIDVALIDITY':
        v.UIDVALIDITY = mb.uidValidity;
        break;
      case 'UNSEEN':
        v.UNSEEN = mb.unseen;
        break;
      case 'DELETED':
        v.DELETED = await s.store.deletedCount(mb.id);
        break;
      case 'SIZE':
        v.SIZE = mb.size;
        break;
      case 'RECENT':
        // \Recent is not kept (IMAP4rev2 dropped it): always 0.
        v.RECENT = 0;
        break;
      case 'HIGHESTMODSEQ':
        v.HIGHESTMODSEQ = mb.highestModseq;
        break;
      case 'APPENDLIMIT':
        v.APPENDLIMIT = s.opts.appendLimit;
        break;
      case 'MAILBOXID':
        v.MAILBOXID = `M${mb.id}`;
        break;
    }
  }
  return v;
}

export async function cmdStatus(s: ImapSession, c: CommandOf<'STATUS'>): Promise<Reply> {
  const mb = await s.store.mailbox(userId(s), c.mailbox);
  if (!mb) throw no('no such mailbox', 'NONEXISTENT');
  if (c.items.includes('HIGHESTMODSEQ')) s.condstore = true; // RFC 7162 §3.1: a CONDSTORE-enabling command
  await s.io.send(statusResponse(mb.name, await statusValues(s, mb, c.items), s.wire));
  return ok('STATUS completed');
}

function hasChildren(all: readonly Mailbox[], name: string): boolean {
  const prefix = name + DELIMITER;
  return all.some((m) => m.name.startsWith(prefix));
}

/**
 * Every mailbox, with the parents that only exist as part of a child's name ("Projekte" for
 * "Projekte/Berichte 2024") as placeholders (`mb: null`), listed \Noselect as Dovecot lists
 * them: CREATE makes no selectable parent, and the placeholder is gone with its last child.
 */
function withPlaceholders(all: readonly Mailbox[]): Array<{ name: string; mb: Mailbox | null }> {
  const real = new Set(all.map((m) => m.name));
  const seen = new Set<string>();
  const out: Array<{ name: string; mb: Mailbox | null }> = [];
  for (const mb of all) {
    const levels = mb.name.split(DELIMITER);
    for (let i = 1; i < levels.length; i++) {
      const parent = levels.slice(0, i).join(DELIMITER);
      if (real.has(parent) || seen.has(parent)) continue;
      seen.add(parent);
      out.push({ name: parent, mb: null });
    }
    out.push({ name: mb.name, mb });
  }
  return out;
}

export async function cmdList(s: ImapSession, c: CommandOf<'LIST'>): Promise<Reply> {
  // RFC 9051 §6.3.9: an empty pattern asks for the delimiter and the root.
  if (c.patterns.length === 1 && c.patterns[0] === '' && !c.extended) {
    await s.io.send(listResponse({ attributes: ['\\Noselect'], delimiter: DELIMITER, name: '' }, s.wire));
    return ok('LIST completed');
  }
  const all = await s.store.listMailboxes(userId(s));
  const match = patternMatcher(c.reference, c.patterns);
  const selSubscribed = c.selectOptions.includes('SUBSCRIBED');
  const selSpecial = c.selectOptions.includes('SPECIAL-USE');
  const recursive = c.selectOptions.includes('RECURSIVEMATCH');
  const retSubscribed = c.returnOptions.subscribed || selSubscribed;
  const out: Buffer[] = [];
  for (const { name, mb } of withPlaceholders(all)) {
    if (!match(name)) continue;
    let childInfo: string[] | undefined;
    if (selSubscribed && !mb?.subscribed) {
      // RFC 5258 §3.5: RECURSIVEMATCH reports a parent of subscribed children with CHILDINFO.
      const sub = recursive && all.some((m) => m.subscribed && m.name.startsWith(name + DELIMITER));
      if (!sub) continue;
      childInfo = ['SUBSCRIBED'];
    }
    if (selSpecial && !mb?.specialUse) continue;
    const attributes: string[] = mb ? [hasChildren(all, name) ? '\\HasChildren' : '\\HasNoChildren'] : ['\\Noselect', '\\HasChildren'];
    // Special-use attributes in every LIST, as Dovecot does (clients look for them without asking).
    if (mb?.specialUse) attributes.push(mb.specialUse);
    if (retSubscribed && mb?.subscribed) attributes.push('\\Subscribed');
    out.push(listResponse({ attributes, delimiter: DELIMITER, name, ...(childInfo ? { childInfo } : {}) }, s.wire));
    // RFC 5819 §2: no STATUS for a mailbox that cannot be selected
    if (c.returnOptions.status && mb) out.push(statusResponse(name, await statusValues(s, mb, c.returnOptions.status), s.wire));
  }
  await s.io.send(out);
  return ok('LIST completed');
}

export async function cmdLsub(s: ImapSession, c: CommandOf<'LSUB'>): Promise<Reply> {
  const all = await s.store.listMailboxes(userId(s));
  const match = patternMatcher(c.reference, [c.pattern]);
  const out: Buffer[] = [];
  for (const mb of all) {
    if (!mb.subscribed || !match(mb.name)) continue;
    out.push(listResponse({ attributes: mb.specialUse ? [mb.specialUse] : [], delimiter: DELIMITER, name: mb.name }, { ...s.wire, command: 'LSUB' }));
  }
  await s.io.send(out);
  return ok('LSUB completed');
}
