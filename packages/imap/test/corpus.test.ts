/**
 * The corpus: inputs that once broke something (or nearly did). Each `name.imap` is raw client
 * input; `name.json` says which command tags must parse, which framing errors and which parse
 * errors (by tag) must come out. Every input is replayed whole and in several chunkings, which
 * must all agree. Add a file whenever a bug is found.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from './helpers.js';

const dir = join(import.meta.dirname, 'corpus');

interface Expectation {
  tags: string[];
  framingErrors: string[];
  parseErrors: Array<string | null>;
  fatal?: boolean;
  /** Framer limits for this input (defaults otherwise). */
  limits?: Record<string, number>;
}

describe('corpus', () => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.imap'));
  it('is not empty', () => expect(files.length).toBeGreaterThan(0));
  for (const file of files) {
    it(file, () => {
      const input = readFileSync(join(dir, file));
      const expected = JSON.parse(readFileSync(join(dir, file.replace(/\.imap$/, '.json')), 'utf8')) as Expectation;
      for (const chunkSizes of [[input.length], [1], [3], [7, 64], [100]]) {
        const r = run(input, { chunkSizes, limits: expected.limits ?? {} });
        expect(
          r.commands.map((c) => c.tag),
          `chunks ${chunkSizes}`,
        ).toEqual(expected.tags);
        expect(r.framingErrors.map((e) => e.code)).toEqual(expected.framingErrors);
        expect(r.parseErrors.map((e) => e.tag)).toEqual(expected.parseErrors);
        expect(r.framingErrors.some((e) => e.fatal)).toBe(expected.fatal === true);
      }
    });
  }
});
