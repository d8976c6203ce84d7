/**
 * SEARCH keys (RFC 9051 §6.4.4, RFC 7162 MODSEQ, RFC 5032 OLDER/YOUNGER) as the store's search
 * criteria: sequence numbers and `$` (RFC 5182) become UID ranges of this session's view, dates
 * become instants (RFC 9051 §6.4.4: dates "disregarding time and timezone", taken in UTC), and
 * what IMAP keeps no state for is decided here: \Recent is not kept, so RECENT and NEW match
 * nothing and OLD everything. How the criteria are matched (indexes, substrings) is the store's
 * business (packages/core/src/store/search.ts).
 */
import type { SearchCriteria, SystemFlagName } from '@postern/core';
import { resolveSequenceSet, sequenceSetFromNumbers, type ImapDate, type SearchKey, type SequenceSet } from '@postern/imap';
import { bad } from './reply.js';
import type { SelectedMailbox } from './selected.js';

const DAY_MS = 86_400_000;

const FLAG_KEYS: Record<string, [SystemFlagName, boolean]> = {
  answered: ['\\Answered', true],
  deleted: ['\\Deleted', true],
  draft: ['\\Draft', true],
  flagged: ['\\Flagged', true],
  seen: ['\\Seen', true],
  unanswered: ['\\Answered', false],
  undeleted: ['\\Deleted', false],
  undraft: ['\\Draft', false],
  unflagged: ['\\Flagged', false],
  unseen: ['\\Seen', false],
};

function dayStart(d: ImapDate): number {
  return Date.UTC(d.year, d.month - 1, d.day);
}

export interface CriteriaContext {
  readonly sel: SelectedMailbox;
  readonly saved: readonly number[];
  readonly now: number;
}

export interface Translated {
  readonly criteria: SearchCriteria;
  /** A MODSEQ key was used: the response carries the highest modseq (RFC 7162 §3.1.5). */
  readonly usesModseq: boolean;
}

/** Keys in a search (NOT and OR count; the parenthesised lists that group them do not). */
export function countSearchKeys(key: SearchKey): number {
  let n = 0;
  const stack: SearchKey[] = [key];
  while (stack.length > 0) {
    const k = stack.pop()!;
    if (k.type === 'and') stack.push(...k.keys);
    else {
      n++;
      if (k.type === 'not') stack.push(k.key);
      else if (k.type === 'or') stack.push(k.left, k.right);
    }
  }
  return n;
}

function setRanges(ctx: CriteriaContext, set: SequenceSet, uid: boolean): Array<[number, number]> {
  let s = set;
  let asUid = uid;
  if (s.kind === 'saved') {
    s = sequenceSetFromNumbers(ctx.saved);
    asUid = true;
  }
  if (s.kind === 'saved') return [];
  if (asUid) return resolveSequenceSet(s, ctx.sel.maxUid);
  return resolveSequenceSet(s, ctx.sel.count).map(([lo, hi]) => [ctx.sel.uidAt(lo), ctx.sel.uidAt(hi)]);
}

export function searchCriteria(key: SearchKey, ctx: CriteriaContext): Translated {
  let usesModseq = false;
  const walk = (k: SearchKey): SearchCriteria => {
    switch (k.type) {
      case 'all':
      case 'old':
        return { type: 'all' };
      case 'recent':
      case 'new':
        return { type: 'none' };
      case 'answered':
      case 'deleted':
      case 'draft':
      case 'flagged':
      case 'seen':
      case 'unanswered':
      case 'undeleted':
      case 'undraft':
      case 'unflagged':
      case 'unseen': {
        const [flag, set] = FLAG_KEYS[k.type]!;
        return { type: 'flag', flag, set };
      }
      case 'keyword':
      case 'unkeyword':
        return { type: 'keyword', keyword: k.flag, set: k.type === 'keyword' };
      case 'bcc':
      case 'cc':
      case 'from':
      case 'subject':
      case 'to':
        return { type: 'field', field: k.type, value: k.value };
      case 'header':
        return { type: 'header', field: k.field, value: k.value };
      case 'body':
      case 'text':
        return { type: k.type, value: k.value };
      case 'before':
        return { type: 'date', of: 'internal', before: dayStart(k.date) };
      case 'on':
        return { type: 'date', of: 'internal', from: dayStart(k.date), before: dayStart(k.date) + DAY_MS };
      case 'since':
        return { type: 'date', of: 'internal', from: dayStart(k.date) };
      case 'sentbefore':
        return { type: 'date', of: 'sent', before: dayStart(k.date) };
      case 'senton':
        return { type: 'date', of: 'sent', from: dayStart(k.date), before: dayStart(k.date) + DAY_MS };
      case 'sentsince':
        return { type: 'date', of: 'sent', from: dayStart(k.date) };
      case 'larger':
        return { type: 'larger', size: k.size };
      case 'smaller':
        return { type: 'smaller', size: k.size };
      // RFC 5032: OLDER n is internal date <= now - n seconds, YOUNGER n is >= (ms are integers)
      case 'older':
        return { type: 'date', of: 'internal', before: ctx.now - k.seconds * 1000 + 1 };
      case 'younger':
        return { type: 'date', of: 'internal', from: ctx.now - k.seconds * 1000 };
      case 'uid':
        return { type: 'uids', ranges: setRanges(ctx, k.set, true) };
      case 'seq':
        return { type: 'uids', ranges: setRanges(ctx, k.set, false) };
      case 'modseq':
        usesModseq = true;
        return { type: 'modseq', min: k.modseq };
      case 'not':
        return { type: 'not', criteria: walk(k.key) };
      case 'or':
        return { type: 'or', left: walk(k.left), right: walk(k.right) };
      case 'and':
        return { type: 'and', criteria: k.keys.map(walk) };
    }
  };
  let criteria: SearchCriteria;
  try {
    criteria = walk(key);
  } catch (e) {
    throw e instanceof Error && e.message.includes('saved') ? bad('no saved search result') : e;
  }
  return { criteria, usesModseq };
}
