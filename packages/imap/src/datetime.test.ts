import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatImapDate, formatImapDateTime, parseImapDate, parseImapDateTime } from './datetime.js';

describe('IMAP dates', () => {
  it('parses SEARCH dates, case-insensitive months, one or two day digits', () => {
    expect(parseImapDate('1-Feb-2024')).toEqual({ year: 2024, month: 2, day: 1 });
    expect(parseImapDate('01-feb-2024')).toEqual({ year: 2024, month: 2, day: 1 });
    expect(parseImapDate('29-Feb-2024')).toEqual({ year: 2024, month: 2, day: 29 });
    for (const bad of ['29-Feb-2023', '0-Jan-2024', '1-Foo-2024', '1-Feb-24', '2024-02-01', '1 Feb 2024', '']) {
      expect(parseImapDate(bad), bad).toBeNull();
    }
    expect(formatImapDate({ year: 2024, month: 2, day: 1 })).toBe('1-Feb-2024');
  });

  it('parses and formats date-time with its zone (INTERNALDATE)', () => {
    const p = parseImapDateTime('17-Jul-1996 02:44:25 -0700');
    expect(p?.date.toISOString()).toBe('1996-07-17T09:44:25.000Z');
    expect(p?.offsetMinutes).toBe(-420);
    expect(parseImapDateTime(' 7-Jul-1996 02:44:25 +0000')?.date.toISOString()).toBe('1996-07-07T02:44:25.000Z');
    expect(formatImapDateTime(new Date('1996-07-17T09:44:25Z'), -420)).toBe('17-Jul-1996 02:44:25 -0700');
    expect(formatImapDateTime(new Date('2024-03-01T00:30:00Z'), 330)).toBe('01-Mar-2024 06:00:00 +0530');
    expect(formatImapDateTime(new Date('2024-03-01T00:30:00Z'))).toBe('01-Mar-2024 00:30:00 +0000');
    for (const bad of ['17-Jul-1996 24:00:00 +0000', '17-Jul-1996 02:44:25', '17-Jul-1996 2:44:25 +0000', '17-Jul-1996 02:44:25 +07']) {
      expect(parseImapDateTime(bad), bad).toBeNull();
    }
  });

  it('round-trips date-time to the second in any zone (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: Date.UTC(1970, 0, 1) / 1000, max: Date.UTC(2200, 0, 1) / 1000 }),
        fc.integer({ min: -12 * 60, max: 14 * 60 }),
        (seconds, offset) => {
          const date = new Date(seconds * 1000);
          const text = formatImapDateTime(date, offset);
          const back = parseImapDateTime(text);
          expect(back?.date.getTime()).toBe(date.getTime());
          expect(back?.offsetMinutes).toBe(offset);
        },
      ),
    );
  });
});
