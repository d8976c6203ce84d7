/**
 * docs/rfc.md stays true to the tree: every path it names exists (a rename must update it), and
 * every RFC a source comment cites has a row (a comment's "RFC 5321 §4.4" leads somewhere).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const index = readFileSync(join(root, 'docs', 'rfc.md'), 'utf8');

/** Every `backticked` token that looks like a path in the tree. */
function namedPaths(text: string): string[] {
  const out = new Set<string>();
  for (const m of text.matchAll(/`([^`\s]+)`/g)) {
    const p = m[1]!;
    if (/^(apps|packages|test|docs|bench|scripts)\//.test(p) && !p.includes('*')) out.add(p);
  }
  return [...out];
}

/** The RFC numbers of the table rows (first column; "2087 / 9208" names two). */
function listedRfcs(text: string): Set<number> {
  const out = new Set<number>();
  for (const line of text.split('\n')) {
    const first = /^\|\s*([0-9][0-9 /]*)\|/.exec(line)?.[1];
    if (first) for (const n of first.split('/')) out.add(Number(n.trim()));
  }
  return out;
}

describe('docs/rfc.md', () => {
  it('names only paths that exist', () => {
    const paths = namedPaths(index);
    expect(paths.length).toBeGreaterThan(50);
    expect(paths.filter((p) => !existsSync(join(root, p)))).toEqual([]);
  });

  it('has a row for every RFC that a source comment cites', () => {
    const grep = execFileSync('git', ['grep', '-ohE', 'RFC ?[0-9]{3,4}', '--', 'packages/*/src/**', 'apps/*/src/**', ':!*.test.ts', ':!**/__tests__/**'], {
      cwd: root,
      encoding: 'utf8',
    });
    const cited = new Set(
      grep
        .split('\n')
        .filter((l) => l !== '' && !l.startsWith('RFC822')) // RFC822, RFC822.SIZE: IMAP FETCH items, not citations
        .map((l) => Number(l.replace(/^RFC ?/, ''))),
    );
    const listed = listedRfcs(index);
    expect([...cited].filter((n) => !listed.has(n)).sort((a, b) => a - b)).toEqual([]);
  });
});
