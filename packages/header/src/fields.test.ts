import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bodyStart, headerEnd, headerFields, headerSection, headerText, scanFields, splitFields, unfoldedValue, withoutFields } from './index.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

describe('headerSection', () => {
  it('splits fields byte for byte, folded lines included, CRLF or bare LF', () => {
    const raw = b('Subject: a\r\n  b\r\nFrom: x@y\nno colon\r\n\r\nbody\r\n');
    const s = headerSection(raw);
    expect(s.fields.map((f) => [f.name, f.raw.toString('latin1')])).toEqual([
      ['Subject', 'Subject: a\r\n  b\r\n'],
      ['From', 'From: x@y\n'],
      ['', 'no colon\r\n'],
    ]);
    expect(raw.subarray(s.bodyStart).toString()).toBe('body\r\n');
    expect(s.fieldsEnd).toBe(raw.indexOf('\r\n\r\n') + 2);
  });

  it('ends the header at an empty first line, or at the end without one', () => {
    expect(headerSection(b('\r\nbody'))).toMatchObject({ fields: [], fieldsEnd: 0, bodyStart: 2 });
    expect(headerSection(b('A: 1\r\n'))).toMatchObject({ fieldsEnd: 6, bodyStart: 6 });
    expect(bodyStart(b('A: 1\n\r\nbody'))).toBe(7);
  });

  it('gives the unfolded value and the header as text', () => {
    const raw = b('Subject:  a\r\n\tb \r\nX: 1\r\n\r\nbody');
    expect(unfoldedValue(headerFields(raw)[0]!)).toBe('a\tb');
    expect(headerText(raw)).toBe('Subject:  a\r\n\tb \r\nX: 1');
    expect(headerText(b('A: 1\r\n'))).toBe('A: 1');
    expect(unfoldedValue(headerFields(b('no colon\r\n x: y\r\n\r\n'))[0]!)).toBe('');
  });

  it('reads only the fields asked for', () => {
    const raw = b('Received: a\r\nTo: x\r\nreceived : b\r\n\r\nReceived: body');
    expect(headerFields(raw, new Set(['received'])).map((f) => f.name)).toEqual(['Received', 'received']);
  });

  it('finds the same end with native searches as the scanner does, on any header', () => {
    const line = fc.constantFrom('A: 1', ' fold', '\tfold', 'no colon', ':', '', 'B:x', '\r');
    const eol = fc.constantFrom('\r\n', '\n');
    fc.assert(
      fc.property(fc.array(fc.tuple(line, eol), { maxLength: 12 }), fc.string({ maxLength: 4 }), (lines, tail) => {
        const raw = b(lines.map(([l, e]) => l + e).join('') + tail);
        // the scanner takes a lone CR at the very end for an empty line; headerEnd does not
        const text = raw.toString('latin1');
        fc.pre(!(text === '\r' || text.endsWith('\n\r')));
        const stop = scanFields(raw, 0, raw.length, undefined, () => undefined);
        expect(headerEnd(raw)).toBe(stop);
        expect(headerSection(raw).fields.map((f) => f.name)).toEqual(splitFields(raw, 0, raw.length).map((f) => f.name));
      }),
    );
  });

  it('reads a header of a million short lines (test/attacks times it on port 25)', () => {
    const raw = Buffer.alloc(2_000_000, 'a\n');
    expect(headerEnd(raw)).toBe(raw.length);
    expect(headerFields(raw, new Set(['received']))).toEqual([]);
  });
});

describe('withoutFields', () => {
  it('drops the named fields with their folded lines, every other byte kept', () => {
    const raw = b('To: a\r\nBcc: x,\r\n y\r\nbcc : z\r\nSubject: s\r\n\r\nBcc: body\r\n');
    expect(withoutFields(raw, new Set(['bcc'])).toString('latin1')).toBe('To: a\r\nSubject: s\r\n\r\nBcc: body\r\n');
    expect(withoutFields(raw, new Set(['cc']))).toBe(raw);
  });
});
