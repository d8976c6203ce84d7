/** The date extension's date parts (RFC 5260 §4.2) of an instant seen in a time zone. */
import { parseMailDate } from '@postern/mime';

/** "+hhmm"/"-hhmm" to minutes east of UTC; null when malformed. */
export function zoneMinutes(zone: string): number | null {
  const m = /^([+-])(\d{2})(\d{2})$/.exec(zone.trim());
  if (m === null || Number(m[3]) > 59) return null;
  return (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3]));
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

export function formatZone(minutes: number): string {
  const a = Math.abs(minutes);
  return `${minutes < 0 ? '-' : '+'}${pad(Math.floor(a / 60))}${pad(a % 60)}`;
}

/** A Date: header's instant and the zone it was written in. */
export function headerDate(value: string): { time: number; zone: number } | null {
  const d = parseMailDate(value);
  if (d === null) return null;
  const z = /([+-]\d{4})\s*(\([^)]*\))?\s*$/.exec(value.trim());
  const zone = z ? (zoneMinutes(z[1]!) ?? 0) : 0;
  return { time: d.getTime(), zone };
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

export const DATE_PARTS = new Set(['year', 'month', 'day', 'date', 'julian', 'hour', 'minute', 'second', 'time', 'iso8601', 'std11', 'zone', 'weekday']);

/** The date part of `time` (ms) in `zone` (minutes east); null for an unknown part. */
export function datePart(time: number, zone: number, part: string): string | null {
  const d = new Date(time + zone * 60_000);
  const Y = pad(d.getUTCFullYear(), 4);
  const M = pad(d.getUTCMonth() + 1);
  const D = pad(d.getUTCDate());
  const h = pad(d.getUTCHours());
  const m = pad(d.getUTCMinutes());
  const s = pad(d.getUTCSeconds());
  const z = formatZone(zone);
  switch (part.toLowerCase()) {
    case 'year':
      return Y;
    case 'month':
      return M;
    case 'day':
      return D;
    case 'date':
      return `${Y}-${M}-${D}`;
    case 'julian':
      // §4.2: the Modified Julian Day, days since 1858-11-17
      return String(Math.floor(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) / 86_400_000) + 40587);
    case 'hour':
      return h;
    case 'minute':
      return m;
    case 'second':
      return s;
    case 'time':
      return `${h}:${m}:${s}`;
    case 'iso8601':
      return `${Y}-${M}-${D}T${h}:${m}:${s}${z.slice(0, 3)}:${z.slice(3)}`;
    case 'std11':
      return `${DAYS[d.getUTCDay()]}, ${D} ${MONTHS[d.getUTCMonth()]} ${Y} ${h}:${m}:${s} ${z}`;
    case 'zone':
      return z;
    case 'weekday':
      return String(d.getUTCDay());
    default:
      return null;
  }
}
