/**
 * A delivered message as the Sieve interpreter sees it (@postern/sieve's SieveMessage): the
 * header fields unfolded, the body through RFC 5173's transforms from the MIME index computed at
 * delivery; and the message rebuilt after editheader (RFC 5293), fields not touched kept byte for
 * byte. Bounded: at most MAX_FIELDS fields and MAX_TEXT characters of body text are read.
 */
import { decodeText, headerFields, htmlToText, type IndexedMessage, type MimePart } from '@postern/mime';
import type { BodyTransform, SieveHeaderField, SieveMessage } from '@postern/sieve';

/** Header fields the script sees (the MX caps headers far below a whole 256 KiB window of them). */
const MAX_FIELDS = 10_000;
const HEADER_WINDOW = 256 * 1024;
/** Characters of body text one transform yields, all parts together. */
const MAX_TEXT = 1024 * 1024;

export interface DeliveredMessage extends SieveMessage {
  /** The raw bytes of each original field, so an edited header keeps what it did not touch. */
  rawOf: Map<SieveHeaderField, Buffer>;
  bodyStart: number;
  /** Every field was read (a header past the caps cannot be rebuilt after editheader). */
  complete: boolean;
}

export function sieveMessage(content: Buffer, index: IndexedMessage): DeliveredMessage {
  const bodyStart = Math.min(index.headerEnd, content.length);
  const rawOf = new Map<SieveHeaderField, Buffer>();
  const headers: SieveHeaderField[] = [];
  let complete = bodyStart <= HEADER_WINDOW;
  for (const f of headerFields(content.subarray(0, Math.min(bodyStart, HEADER_WINDOW)))) {
    if (headers.length >= MAX_FIELDS) {
      complete = false;
      break;
    }
    if (f.name === '') continue;
    const text = f.raw.toString('utf8');
    const value = text
      .slice(text.indexOf(':') + 1)
      .replace(/\r?\n(?=[ \t])/g, '')
      .replace(/\r?\n$/, '')
      .trim();
    const field = { name: f.name, value };
    headers.push(field);
    rawOf.set(field, f.raw);
  }
  const parts = index.parts as readonly MimePart[];
  const memo = new Map<string, string[]>();
  const leaves = parts.filter((p) => p.type !== 'multipart');
  const cut = (texts: string[]): string[] => {
    let left = MAX_TEXT;
    const out: string[] = [];
    for (const t of texts) {
      if (left <= 0) break;
      out.push(t.length > left ? t.slice(0, left) : t);
      left -= t.length;
    }
    return out;
  };
  const body = (t: BodyTransform): string[] => {
    const key = t.kind === 'content' ? `content:${t.types.join('\0')}` : t.kind;
    const hit = memo.get(key);
    if (hit) return hit;
    let out: string[];
    if (t.kind === 'raw') {
      out = [content.toString('utf8', bodyStart, Math.min(content.length, bodyStart + MAX_TEXT))];
    } else if (t.kind === 'text') {
      // RFC 5173 §5.3: text/* parts as text, HTML with its markup removed
      out = cut(
        leaves.filter((p) => p.type === 'text').map((p) => (p.subtype === 'html' ? htmlToText(decodeText(content, p), MAX_TEXT) : decodeText(content, p))),
      );
    } else {
      // §5.2: "" matches every part, "text" a type, "text/html" a type and subtype
      const wanted = t.types.map((x) => x.toLowerCase());
      const match = (p: MimePart): boolean => wanted.some((w) => w === '' || w === p.type || w === `${p.type}/${p.subtype}`);
      out = cut(leaves.filter(match).map((p) => (p.type === 'text' ? decodeText(content, p) : content.toString('latin1', p.bodyStart, p.bodyEnd))));
    }
    memo.set(key, out);
    return out;
  };
  return { headers, size: content.length, body, rawOf, bodyStart, complete };
}

/** The message with the header a script left (editheader); fields it did not touch keep their bytes. */
export function rebuild(message: DeliveredMessage, content: Buffer, headers: readonly SieveHeaderField[]): Buffer {
  const parts: Buffer[] = [];
  for (const h of headers) parts.push(message.rawOf.get(h) ?? Buffer.from(`${h.name}: ${h.value}\r\n`));
  parts.push(Buffer.from('\r\n'), content.subarray(message.bodyStart));
  return Buffer.concat(parts);
}
