/**
 * BODY[HEADER.FIELDS (...)] and BODY[HEADER.FIELDS.NOT (...)] (RFC 9051 §6.4.5) over a chunk
 * sequence: the matching fields exactly as stored, then the blank line. Field boundaries are
 * @postern/mime's splitFields ones (RFC 5322 §2.2: a field is its first line plus continuation
 * lines starting with SP or HTAB; the header ends at the first empty line; a line without a
 * colon is a field with no name, which neither form returns).
 *
 * It streams, so a header of any size is answered without holding it: only the start of a
 * field's first line is kept until its colon shows the name. That start is bounded by
 * NAME_WINDOW: a line with no colon within it cannot name a field any client asked for (their
 * names fit in a command line), so HEADER.FIELDS skips it and HEADER.FIELDS.NOT returns it,
 * without waiting for the colon (a line that long with no colon at all is then returned by
 * .NOT, where the whole-header reading would drop it: the one difference, for a line 64 KiB
 * beyond anything RFC 5322 §2.1.1 allows).
 */
const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const TAB = 0x09;
const COLON = 0x3a;
const CRLF = Buffer.from('\r\n');

const NAME_WINDOW = 64 * 1024;

export function* selectHeaderFields(chunks: Iterable<Buffer>, fields: readonly string[], not: boolean): Generator<Buffer> {
  const names = new Set(fields.map((f) => f.toLowerCase()));
  const window = NAME_WINDOW + Math.max(0, ...fields.map((f) => f.length));
  const wanted = (name: string): boolean => name !== '' && names.has(name.toLowerCase()) !== not;
  // 'start': at the start of a line; 'name': in a field's first line, before its colon (bytes
  // kept in `pending`); 'rest': in a line whose field is decided (`include`).
  let mode: 'start' | 'name' | 'rest' = 'start';
  let haveField = false;
  let include = false;
  let pending: Buffer[] = [];
  let pendingLength = 0;
  let ended = false;

  const decide = (take: boolean): Buffer[] => {
    include = take;
    haveField = true;
    mode = 'rest';
    const out = take ? pending : [];
    pending = [];
    pendingLength = 0;
    return out;
  };

  outer: for (const chunk of chunks) {
    let i = 0;
    while (i < chunk.length) {
      if (mode === 'start') {
        const c = chunk[i] as number;
        if (c === LF) {
          ended = true; // the empty line that ends the header
          break outer;
        }
        if (c === SP || c === TAB) {
          // A continuation line belongs to the current field; before any field, a nameless one.
          if (!haveField) include = false;
          haveField = true;
          mode = 'rest';
        } else {
          mode = 'name';
        }
        continue;
      }
      if (mode === 'rest') {
        const lf = chunk.indexOf(LF, i);
        const end = lf === -1 ? chunk.length : lf + 1;
        if (include) yield chunk.subarray(i, end);
        i = end;
        if (lf !== -1) mode = 'start';
        continue;
      }
      // mode === 'name': look for the colon or the end of the line.
      let j = i;
      while (j < chunk.length && chunk[j] !== COLON && chunk[j] !== LF) j++;
      if (j === chunk.length) {
        pending.push(chunk.subarray(i));
        pendingLength += chunk.length - i;
        i = j;
        if (pendingLength > window) yield* decide(not);
        continue;
      }
      const head = Buffer.concat([...pending, chunk.subarray(i, j)]);
      if (chunk[j] === COLON) {
        let nameEnd = head.length;
        while (nameEnd > 0 && (head[nameEnd - 1] === SP || head[nameEnd - 1] === TAB)) nameEnd--;
        pending = [head];
        yield* decide(wanted(head.toString('latin1', 0, nameEnd)));
        i = j; // the colon and the rest of the line are emitted in 'rest'
        continue;
      }
      // The line ended without a colon: an empty line ends the header, else a nameless field.
      if (head.length === 0 || (head.length === 1 && head[0] === CR)) {
        ended = true;
        break outer;
      }
      pending = [];
      pendingLength = 0;
      decide(false);
      i = j + 1;
      mode = 'start';
    }
  }
  // A field cut off by the end of the header without its line end still ends with CRLF.
  if (!ended && mode === 'rest' && include) yield CRLF;
  yield CRLF;
}
