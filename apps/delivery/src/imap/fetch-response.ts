/**
 * FETCH responses whose literals may stream (RFC 9051 §7.5.2). Items with their data at hand
 * are formatted by @postern/imap's fetchResponse, the one serializer of FETCH items; an item
 * whose data is a LiteralSource is written here as its name, `{n}` (or `~{n}` for literal8,
 * RFC 3516) and the source, which the FETCH handler then streams with back-pressure.
 */
import { fetchResponse, formatSection, type BodySection, type FetchResponseItem } from '@postern/imap';
import type { LiteralSource } from './literal.js';

/** A FETCH data item whose bytes are a LiteralSource instead of a Buffer. */
export type StreamedItem =
  | { readonly kind: 'RFC822' | 'RFC822.HEADER' | 'RFC822.TEXT'; readonly source: LiteralSource }
  | { readonly kind: 'BODY[]'; readonly section: BodySection; readonly origin: number | null; readonly source: LiteralSource }
  | { readonly kind: 'BINARY[]'; readonly part: readonly number[]; readonly origin: number | null; readonly source: LiteralSource };

export type RenderedItem = FetchResponseItem | StreamedItem;

/** What to write, in order: bytes, or a literal's bytes to stream. */
export type ResponsePart = Buffer | LiteralSource;

const isStreamed = (item: RenderedItem): item is StreamedItem => 'source' in item;

function streamedName(item: StreamedItem): string {
  switch (item.kind) {
    case 'RFC822':
    case 'RFC822.HEADER':
    case 'RFC822.TEXT':
      return item.kind;
    case 'BODY[]':
      return `BODY[${formatSection(item.section)}]${item.origin !== null ? `<${item.origin}>` : ''}`;
    case 'BINARY[]':
      return `BINARY[${item.part.join('.')}]${item.origin !== null ? `<${item.origin}>` : ''}`;
  }
}

/** The codec's rendering of `items` without its `* n FETCH (` and `)\r\n`. */
function itemsText(seq: number, items: readonly FetchResponseItem[]): Buffer[] {
  const parts = fetchResponse(seq, items);
  const open = Buffer.byteLength(`* ${seq} FETCH (`);
  const first = parts[0] as Buffer;
  const last = parts.length - 1;
  parts[0] = first.subarray(open);
  parts[last] = (parts[last] as Buffer).subarray(0, (parts[last] as Buffer).length - 3);
  return parts.filter((p) => p.length > 0);
}

/** `* seq FETCH (...)\r\n` as parts to write in order. */
export function fetchResponseParts(seq: number, items: readonly RenderedItem[]): ResponsePart[] {
  if (!items.some(isStreamed)) return fetchResponse(seq, items as readonly FetchResponseItem[]);
  const out: ResponsePart[] = [];
  let text = `* ${seq} FETCH (`;
  let run: FetchResponseItem[] = [];
  const flushText = (): void => {
    if (text.length > 0) out.push(Buffer.from(text, 'utf8'));
    text = '';
  };
  const flushRun = (): void => {
    if (run.length === 0) return;
    flushText();
    out.push(...itemsText(seq, run));
    run = [];
  };
  items.forEach((item, i) => {
    if (!isStreamed(item)) {
      if (run.length === 0 && i > 0) text += ' ';
      run.push(item);
      return;
    }
    flushRun();
    if (i > 0) text += ' ';
    text += `${streamedName(item)} ${item.source.binary ? '~' : ''}{${item.source.length}}\r\n`;
    flushText();
    if (item.source.length > 0) out.push(item.source);
  });
  flushRun();
  text += ')\r\n';
  flushText();
  return out;
}
