import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeModifiedUtf7, encodeModifiedUtf7, ModifiedUtf7Error } from './utf7.js';

describe('modified UTF-7 (RFC 3501 §5.1.3)', () => {
  const vectors: Array<[string, string]> = [
    ['INBOX', 'INBOX'],
    ['~peter/mail/台北/日本語', '~peter/mail/&U,BTFw-/&ZeVnLIqe-'],
    ['Tom & Jerry', 'Tom &- Jerry'],
    ['Entwürfe', 'Entw&APw-rfe'],
    ['Gelöschte Elemente', 'Gel&APY-schte Elemente'],
    ['Отправленные', '&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-'],
    ['📬', '&2D3c7A-'],
    ['', ''],
  ];
  for (const [unicode, wire] of vectors) {
    it(`${JSON.stringify(unicode)} <-> ${wire}`, () => {
      expect(encodeModifiedUtf7(unicode)).toBe(wire);
      expect(decodeModifiedUtf7(wire)).toBe(unicode);
    });
  }

  it('rejects what no conforming client sends', () => {
    for (const bad of ['&', 'a&b', '&U,BTFw', '&U/BTFw-', '&Jjo!-', 'caf\u00e9', '&AGE', '&2D0-', '&3Ew-', '&AB-', 'x\ty']) {
      expect(() => decodeModifiedUtf7(bad), bad).toThrow(ModifiedUtf7Error);
    }
  });

  it('round-trips any well-formed Unicode name, and encodes to printable ASCII (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), (name) => {
        const wire = encodeModifiedUtf7(name);
        expect(wire).toMatch(/^[\x20-\x7e]*$/);
        expect(decodeModifiedUtf7(wire)).toBe(name);
      }),
      { numRuns: 500 },
    );
  });

  it('decoding arbitrary ASCII either fails cleanly or re-encodes to a name that decodes the same (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'&-AZaz09+,/ .~'.split('')), maxLength: 30 }), (text) => {
        let name: string;
        try {
          name = decodeModifiedUtf7(text);
        } catch (err) {
          expect(err).toBeInstanceOf(ModifiedUtf7Error);
          return;
        }
        expect(decodeModifiedUtf7(encodeModifiedUtf7(name))).toBe(name);
      }),
      { numRuns: 1000 },
    );
  });
});
