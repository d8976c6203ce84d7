/** Reading what the clients fetched: header fields (RFC 5322 §2.2, unfolded) and the body. */

/** The header section (up to the empty line) as text; the rest is the body. */
export function split(raw: Buffer): { header: string; body: Buffer } {
  const i = raw.indexOf('\r\n\r\n');
  if (i < 0) return { header: raw.toString('utf8'), body: Buffer.alloc(0) };
  return { header: raw.subarray(0, i + 2).toString('utf8'), body: raw.subarray(i + 4) };
}

/** Every field as [name, unfolded value], top to bottom. */
export function fields(raw: Buffer): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const line of split(raw).header.split('\r\n')) {
    if (line === '') continue;
    if (/^[ \t]/.test(line) && out.length > 0) {
      out[out.length - 1]![1] += ` ${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon > 0) out.push([line.slice(0, colon).trim(), line.slice(colon + 1).trim()]);
  }
  return out;
}

/** The values of every field with that name (case-insensitive). */
export function field(raw: Buffer, name: string): string[] {
  return fields(raw)
    .filter(([n]) => n.toLowerCase() === name.toLowerCase())
    .map(([, v]) => v);
}
