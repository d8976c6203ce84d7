/**
 * IMAP dates (RFC 9051 §9): `date` for SEARCH (`1-Feb-2024`, day granularity, no zone) and
 * `date-time` for APPEND and INTERNALDATE (`17-Jul-1996 02:44:25 -0700`).
 */

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;
const MONTH_INDEX = new Map<string, number>(MONTHS.map((m, i) => [m.toUpperCase(), i + 1]));

/** A calendar day as SEARCH uses it (RFC 9051 §6.4.4: dates disregard time and timezone). */
export interface ImapDate {
  readonly year: number;
  /** 1..12 */
  readonly month: number;
  /** 1..31 */
  readonly day: number;
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** Parses `date-text` (`1-Feb-2024`, `01-feb-2024`); null when it is not one. */
export function parseImapDate(text: string): ImapDate | null {
  const m = /^([0-9]{1,2})-([A-Za-z]{3})-([0-9]{4})$/.exec(text);
  if (!m) return null;
  const day = Number(m[1]);
  const month = MONTH_INDEX.get((m[2] as string).toUpperCase());
  const year = Number(m[3]);
  if (month === undefined || day < 1 || day > daysInMonth(year, month)) return null;
  return { year, month, day };
}

/** `1-Feb-2024`: the form SEARCH takes. */
export function formatImapDate(date: ImapDate): string {
  return `${date.day}-${MONTHS[date.month - 1] ?? 'Jan'}-${String(date.year).padStart(4, '0')}`;
}

/** A date-time with the zone it was written in, which INTERNALDATE may echo back. */
export interface ImapDateTime {
  readonly date: Date;
  /** Minutes east of UTC as written in the zone (`-0700` -> -420). */
  readonly offsetMinutes: number;
}

/**
 * Parses the inside of a `date-time` (without the quotes): `date-day-fixed "-" date-month "-"
 * date-year SP time SP zone`, where the day is ` 7` or `07` (and we also take `7`). Null when
 * it is not one.
 */
export function parseImapDateTime(text: string): ImapDateTime | null {
  const m = /^ ?([0-9]{1,2})-([A-Za-z]{3})-([0-9]{4}) ([0-9]{2}):([0-9]{2}):([0-9]{2}) ([+-])([0-9]{2})([0-9]{2})$/.exec(text);
  if (!m) return null;
  const day = Number(m[1]);
  const month = MONTH_INDEX.get((m[2] as string).toUpperCase());
  const year = Number(m[3]);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = Number(m[6]);
  const zh = Number(m[8]);
  const zm = Number(m[9]);
  if (month === undefined || day < 1 || day > daysInMonth(year, month)) return null;
  if (hour > 23 || minute > 59 || second > 60 || zm > 59) return null;
  const offsetMinutes = (m[7] === '-' ? -1 : 1) * (zh * 60 + zm);
  const utc = Date.UTC(year, month - 1, day, hour, minute, Math.min(second, 59)) - offsetMinutes * 60_000;
  return { date: new Date(utc), offsetMinutes };
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/**
 * Formats a `date-time` without the surrounding quotes, in the given zone (default UTC):
 * `17-Jul-1996 02:44:25 -0700`. The day is written with two digits, which `date-day-fixed`
 * allows and every client reads.
 */
export function formatImapDateTime(date: Date, offsetMinutes = 0): string {
  const local = new Date(date.getTime() + offsetMinutes * 60_000);
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  return (
    `${pad2(local.getUTCDate())}-${MONTHS[local.getUTCMonth()] as string}-${String(local.getUTCFullYear()).padStart(4, '0')} ` +
    `${pad2(local.getUTCHours())}:${pad2(local.getUTCMinutes())}:${pad2(local.getUTCSeconds())} ` +
    `${sign}${pad2(Math.floor(abs / 60))}${pad2(abs % 60)}`
  );
}
