/**
 * RFC 5322 §3.3 date-time, with the obsolete forms of §4.3 (two- and three-digit years,
 * alphabetic zones, missing seconds, comments) and, as a last resort, ISO 8601 as some broken
 * mailers write it. Anything else is null: never "now" (unlike mailparser), so a bad Date: header
 * cannot pass for a fresh message.
 */

const MONTHS: Record<string, number> = {
  jan: 0,
  feb: 1,
  mar: 2,
  apr: 3,
  may: 4,
  jun: 5,
  jul: 6,
  aug: 7,
  sep: 8,
  oct: 9,
  nov: 10,
  dec: 11,
};

// obs-zone (§4.3): offsets in minutes east of UTC. Military letters are treated as -0000 (unknown).
const ZONES: Record<string, number> = {
  ut: 0,
  utc: 0,
  gmt: 0,
  z: 0,
  edt: -240,
  est: -300,
  cdt: -300,
  cst: -360,
  mdt: -360,
  mst: -420,
  pdt: -420,
  pst: -480,
};

const RFC5322 =
  /^\s*(?:[a-z]+\s*,?\s*)?(\d{1,2})\s*[-\s]\s*([a-z]{3})[a-z]*\.?\s*[-\s]\s*(\d{2,4})\s+(\d{1,2})\s*:\s*(\d{1,2})(?:\s*:\s*(\d{1,2}))?\s*([+-]\d{4}|[a-z]{1,5})?/i;

const ISO8601 = /^\s*(\d{4})-(\d{2})-(\d{2})[t\s](\d{2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?\s*(z|[+-]\d{2}:?\d{2})?\s*$/i;

function stripComments(s: string): string {
  if (!s.includes('(')) return s;
  let out = '';
  let depth = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\' && depth > 0) i++;
    else if (c === '(') depth++;
    else if (c === ')' && depth > 0) depth--;
    else if (depth === 0) out += c;
  }
  return out;
}

function build(year: number, month: number, day: number, h: number, m: number, sec: number, offsetMin: number): Date | null {
  if (month < 0 || month > 11 || day < 1 || h > 23 || m > 59 || sec > 60) return null;
  const daysInMonth = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  if (day > daysInMonth) return null;
  const t = Date.UTC(year, month, day, h, m, Math.min(sec, 59)) - offsetMin * 60_000;
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? null : d;
}

function zoneOffset(zone: string | undefined): number | null {
  if (zone === undefined) return 0;
  if (/^[+-]\d{4}$/.test(zone)) {
    const hh = Number(zone.slice(1, 3));
    const mm = Number(zone.slice(3, 5));
    if (mm > 59) return null;
    return (zone[0] === '-' ? -1 : 1) * (hh * 60 + mm);
  }
  const z = ZONES[zone.toLowerCase()];
  if (z !== undefined) return z;
  return zone.length === 1 ? 0 : null;
}

/** Parses a Date: header value; null when it is not a date. */
export function parseMailDate(value: string): Date | null {
  const s = stripComments(value.slice(0, 300));
  const m = RFC5322.exec(s);
  if (m !== null) {
    const month = MONTHS[m[2]!.toLowerCase()];
    if (month === undefined) return null;
    let year = Number(m[3]);
    if (m[3]!.length === 2)
      year += year < 50 ? 2000 : 1900; // §4.3
    else if (m[3]!.length === 3) year += 1900;
    const off = zoneOffset(m[7]);
    if (off === null) return null;
    return build(year, month, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0), off);
  }
  const iso = ISO8601.exec(s);
  if (iso !== null) {
    let off = 0;
    const z = iso[7];
    if (z !== undefined && z.toLowerCase() !== 'z') {
      const digits = z.replace(':', '');
      off = (digits[0] === '-' ? -1 : 1) * (Number(digits.slice(1, 3)) * 60 + Number(digits.slice(3, 5)));
    }
    return build(Number(iso[1]), Number(iso[2]) - 1, Number(iso[3]), Number(iso[4]), Number(iso[5]), Number(iso[6] ?? 0), off);
  }
  return null;
}
