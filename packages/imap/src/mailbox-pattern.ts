/**
 * LIST / LSUB mailbox patterns (RFC 9051 §6.3.9): `*` matches any characters, `%` any but the
 * hierarchy delimiter, INBOX in any case is INBOX. Matched by a simulation of every pattern
 * position at once (no backtracking): the cost is at most name length x pattern length, where a
 * regular expression of 50 `%` took 30 s (issue 14). Runs of wildcards collapse first (`%*` is
 * `*`, `%%` is `%`), and a pattern with more literal characters than the name cannot match.
 */

/** Longest reference + pattern a server should match: twice the longest mailbox name we keep. */
export const MAX_MAILBOX_PATTERN = 1024;

const STAR = -1;
const PERCENT = -2;

/** Pattern positions: a UTF-16 code unit, or STAR / PERCENT (never two wildcards in a row). */
function compile(pattern: string, delimiter: string): { tokens: Int32Array; literals: number } {
  let p = pattern;
  // RFC 9051 §5.1: INBOX is case-insensitive, also as the first level of a pattern
  if (p.slice(0, 5).toUpperCase() === 'INBOX' && (p.length === 5 || p[5] === delimiter || p[5] === '*' || p[5] === '%')) p = 'INBOX' + p.slice(5);
  const tokens: number[] = [];
  let literals = 0;
  for (let i = 0; i < p.length; i++) {
    const c = p.charCodeAt(i);
    const wild = c === 0x2a ? STAR : c === 0x25 ? PERCENT : 0;
    if (wild === 0) {
      tokens.push(c);
      literals++;
      continue;
    }
    const last = tokens.length - 1;
    if (last >= 0 && tokens[last]! < 0) {
      if (wild === STAR) tokens[last] = STAR;
    } else {
      tokens.push(wild);
    }
  }
  return { tokens: Int32Array.from(tokens), literals };
}

/**
 * A predicate for one pattern (reference + pattern, already joined) with `delimiter` as the
 * hierarchy separator. The caller bounds the pattern by MAX_MAILBOX_PATTERN.
 */
export function mailboxPatternMatcher(pattern: string, delimiter = '/'): (name: string) => boolean {
  const { tokens, literals } = compile(pattern, delimiter);
  const n = tokens.length;
  const delim = delimiter.charCodeAt(0);
  // positions reached; a wildcard position also reaches the next one (it may match nothing)
  let cur = new Uint8Array(n + 1);
  let next = new Uint8Array(n + 1);
  const close = (s: Uint8Array): void => {
    for (let k = 0; k < n; k++) if (s[k] === 1 && tokens[k]! < 0) s[k + 1] = 1;
  };
  return (name: string): boolean => {
    if (name.length < literals) return false;
    cur.fill(0);
    cur[0] = 1;
    close(cur);
    for (let i = 0; i < name.length; i++) {
      const c = name.charCodeAt(i);
      next.fill(0);
      let any = false;
      for (let k = 0; k < n; k++) {
        if (cur[k] !== 1) continue;
        const t = tokens[k]!;
        if (t === STAR || (t === PERCENT && c !== delim)) {
          next[k] = 1;
          any = true;
        } else if (t === c) {
          next[k + 1] = 1;
          any = true;
        }
      }
      if (!any) return false;
      close(next);
      [cur, next] = [next, cur];
    }
    return cur[n] === 1;
  };
}
