/**
 * The corpus: real-shaped and broken messages (test/corpus/*.eml, byte-exact) with the ENVELOPE,
 * BODYSTRUCTURE, BODY and part offsets we send for them (*.json). The expectations were checked
 * against Dovecot 2.3.19 on the same bytes (see dovecot-interop.test.ts for the deliberate
 * differences). Every input that ever broke the indexer is kept here.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { indexMessage } from './index.js';
import { checkInvariants } from './__tests__/helpers.js';

const corpusDir = fileURLToPath(new URL('../test/corpus/', import.meta.url));
const files = readdirSync(corpusDir)
  .filter((f) => f.endsWith('.eml'))
  .sort();

interface Expectation {
  envelope: string;
  bodyStructure: string;
  body: string;
  parts: string[];
  subject: string;
  from: string;
  to: string;
  cc: string;
  fromAddress: string | null;
  messageId: string | null;
  date: string | null;
  hasAttachments: boolean;
}

describe('corpus', () => {
  it('has messages', () => {
    expect(files.length).toBeGreaterThan(30);
  });

  for (const file of files) {
    it(file, () => {
      const raw = readFileSync(join(corpusDir, file));
      const exp = JSON.parse(readFileSync(join(corpusDir, file.replace(/\.eml$/, '.json')), 'utf8')) as Expectation;
      const m = indexMessage(raw);
      checkInvariants(raw, m);
      expect(m.envelope).toBe(exp.envelope);
      expect(m.bodyStructure).toBe(exp.bodyStructure);
      expect(m.body).toBe(exp.body);
      expect(m.parts.map((p) => `${p.path === '' ? '(root)' : p.path} ${p.type}/${p.subtype} ${p.headerStart} ${p.bodyStart} ${p.bodyEnd}`)).toEqual(exp.parts);
      expect({
        subject: m.subject,
        from: m.from,
        to: m.to,
        cc: m.cc,
        fromAddress: m.fromAddress,
        messageId: m.messageId,
        date: m.date === null ? null : m.date.toISOString(),
        hasAttachments: m.hasAttachments,
      }).toEqual({
        subject: exp.subject,
        from: exp.from,
        to: exp.to,
        cc: exp.cc,
        fromAddress: exp.fromAddress,
        messageId: exp.messageId,
        date: exp.date,
        hasAttachments: exp.hasAttachments,
      });
      // a part's MIME header is a header: it is empty or it ends where the body begins
      for (const p of m.parts) {
        const header = raw.subarray(p.headerStart, p.bodyStart).toString('latin1');
        if (p.bodyStart < p.bodyEnd && header.length > 0) expect(header.endsWith('\n')).toBe(true);
      }
    });
  }
});
