import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mailboxPatternMatcher } from './mailbox-pattern.js';

/** The reference semantics: the regular expression the server used before (fine on short input). */
function regexOf(pattern: string): RegExp {
  let p = pattern;
  if (p.slice(0, 5).toUpperCase() === 'INBOX' && (p.length === 5 || p[5] === '/' || p[5] === '*' || p[5] === '%')) p = 'INBOX' + p.slice(5);
  let re = '';
  for (const ch of p) {
    if (ch === '*') re += '.*';
    else if (ch === '%') re += '[^/]*';
    else re += ch.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 's');
}

describe('mailboxPatternMatcher', () => {
  it('RFC 9051 §6.3.9 examples', () => {
    const m = (p: string, name: string): boolean => mailboxPatternMatcher(p)(name);
    expect(m('*', 'a/b/c')).toBe(true);
    expect(m('%', 'a/b')).toBe(false);
    expect(m('%', 'Sent')).toBe(true);
    expect(m('a/%', 'a/b')).toBe(true);
    expect(m('a/%', 'a/b/c')).toBe(false);
    expect(m('a/*', 'a/b/c')).toBe(true);
    expect(m('inbox', 'INBOX')).toBe(true);
    expect(m('Inbox/%', 'INBOX/x')).toBe(true);
    expect(m('inboxes', 'INBOXes')).toBe(false);
    expect(m('*a/%b', 'a/a/b')).toBe(true);
    expect(m('', '')).toBe(true);
    expect(m('', 'x')).toBe(false);
  });

  it('agrees with the regular expression on random patterns and names', () => {
    const ch = fc.constantFrom('a', 'b', '/', '*', '%', 'I', 'N', 'B', 'O', 'X', '.');
    const nameCh = fc.constantFrom('a', 'b', '/', 'I', 'N', 'B', 'O', 'X', 'n', '.');
    fc.assert(
      fc.property(fc.array(ch, { maxLength: 10 }), fc.array(fc.array(nameCh, { maxLength: 10 }), { maxLength: 8 }), (pat, names) => {
        const pattern = pat.join('');
        const match = mailboxPatternMatcher(pattern);
        const re = regexOf(pattern);
        for (const n of names.map((x) => x.join(''))) expect(match(n), `${pattern} ~ ${n}`).toBe(re.test(n));
      }),
      { numRuns: 3000 },
    );
  });

  it('50 wildcards and a literal that never matches: no backtracking', () => {
    const names = ['INBOX', 'Sent', 'Drafts', 'Trash', 'Junk', 'Archive', 'x'.repeat(512)];
    for (const wild of ['%', '*', '%*']) {
      const pattern = `${wild.repeat(500)}Z`;
      const t = performance.now();
      const match = mailboxPatternMatcher(pattern);
      expect(names.filter(match)).toEqual([]);
      console.log(`pattern ${JSON.stringify(wild)} x 500 + "Z" over ${names.length} names: ${(performance.now() - t).toFixed(1)} ms`);
    }
  });
});
