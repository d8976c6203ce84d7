/**
 * FETCH rendering (RFC 9051 §6.4.5, §7.5.2; RFC 3516 BINARY; RFC 7162 MODSEQ): one stored row to
 * the items of one FETCH response. ENVELOPE and BODYSTRUCTURE are the strings computed at
 * delivery; body sections read only the byte range they cover (the store reads only the chunks
 * holding it), using the part offsets computed at delivery, shifted past our prepended headers.
 */
import type { FetchRecord, MessageStore } from '@postern/core';
import type { BodySection, FetchAttribute, FetchPartial } from '@postern/imap';
import { UnknownEncodingError, type MimePart } from '@postern/mime';
import type { RenderedItem } from './fetch-response.js';
import { selectHeaderFields } from './header-select.js';
import { collect, measure, sliceChunks, STREAM_MIN, type LiteralSource } from './literal.js';
import { no } from './reply.js';
import { decodeChunks } from './transfer-stream.js';

export interface RenderContext {
  readonly store: MessageStore;
  /** UID FETCH, or CONDSTORE items asked: UID goes first. */
  readonly uid: boolean;
  /** MODSEQ in every response (asked, or CHANGEDSINCE given). */
  readonly modseq: boolean;
  /** FLAGS must be added (the fetch set \Seen and the client did not ask for FLAGS). */
  readonly addFlags: boolean;
}

type Range = { start: number; end: number };

/** Content-Transfer-Encodings that leave the bytes as they are (RFC 2045 §6.2). */
const IDENTITY: ReadonlySet<string> = new Set(['', '7bit', '8bit', 'binary']);

/** Where the parts of one message lie, in the bytes the user sees (past our prefix). */
class Layout {
  constructor(private readonly row: FetchRecord) {}

  get prefix(): number {
    return this.row.prefixLength;
  }

  get headerEnd(): number {
    return this.row.prefixLength + (this.row.headerEnd ?? 0);
  }

  part(path: readonly number[]): MimePart | null {
    const key = path.join('.');
    return this.row.parts?.find((p) => p.path === key) ?? null;
  }
}

/** The byte range of a section, or null when the part does not exist (sent as empty). */
function sectionRange(row: FetchRecord, layout: Layout, section: BodySection): Range | null {
  const p = layout.prefix;
  if (section.part.length === 0) {
    switch (section.text) {
      case undefined:
        return { start: 0, end: row.size };
      case 'HEADER':
      case 'HEADER.FIELDS':
      case 'HEADER.FIELDS.NOT':
        return { start: 0, end: layout.headerEnd };
      case 'TEXT':
        return { start: layout.headerEnd, end: row.size };
      case 'MIME':
        return null;
    }
  }
  const part = layout.part(section.part);
  if (!part) return null;
  switch (section.text) {
    case undefined:
      return { start: p + part.bodyStart, end: p + part.bodyEnd };
    case 'MIME':
      return { start: p + part.headerStart, end: p + part.bodyStart };
    case 'HEADER':
    case 'HEADER.FIELDS':
    case 'HEADER.FIELDS.NOT':
      // Only an encapsulated message (message/rfc822) has a header of its own.
      return part.innerBodyStart === null ? null : { start: p + part.bodyStart, end: p + part.innerBodyStart };
    case 'TEXT':
      return part.innerBodyStart === null ? null : { start: p + part.innerBodyStart, end: p + part.bodyEnd };
  }
}

function applyPartial(range: Range, partial: FetchPartial | null): Range {
  if (!partial) return range;
  const start = Math.min(range.end, range.start + partial.offset);
  return { start, end: Math.min(range.end, start + partial.length) };
}

/** A range of the message: read whole when small, else a source streaming its chunks. */
function rangeData(ctx: RenderContext, record: FetchRecord, range: Range): Buffer | LiteralSource {
  if (range.end - range.start <= STREAM_MIN) return ctx.store.read(record, range.start, range.end);
  return { length: range.end - range.start, binary: false, chunks: () => ctx.store.chunks(record, range.start, range.end) };
}

/**
 * Data made from `chunks` (decoded, selected): inline when its input is small (`inputLength`),
 * else a source whose length a first pass measures. `literal8`: BINARY, sent as `~{n}` when the
 * data holds NUL (RFC 3516 §4.3).
 */
function derived(chunks: () => Iterable<Buffer>, inputLength: number, partial: FetchPartial | null, literal8: boolean): Buffer | LiteralSource {
  const sliced = (): Iterable<Buffer> => (partial ? sliceChunks(chunks(), partial.offset, partial.length) : chunks());
  // Small input: one pass; the codec picks literal8 itself from the bytes.
  if (inputLength <= STREAM_MIN) return collect(sliced());
  const { length, hasNul } = measure(sliced());
  return { length, binary: literal8 && hasNul, chunks: sliced };
}

function sectionData(ctx: RenderContext, row: FetchRecord, layout: Layout, section: BodySection, partial: FetchPartial | null): Buffer | LiteralSource {
  const range = sectionRange(row, layout, section);
  if (!range) return Buffer.alloc(0);
  if (section.text === 'HEADER.FIELDS' || section.text === 'HEADER.FIELDS.NOT') {
    const fields = section.fields ?? [];
    const not = section.text === 'HEADER.FIELDS.NOT';
    const header = (): Iterable<Buffer> => ctx.store.chunks(row, range.start, range.end);
    return derived(() => selectHeaderFields(header(), fields, not), range.end - range.start, partial, false);
  }
  return rangeData(ctx, row, applyPartial(range, partial));
}

/** RFC 3516: the part's body with its Content-Transfer-Encoding removed. */
function binaryData(ctx: RenderContext, row: FetchRecord, layout: Layout, path: readonly number[], partial: FetchPartial | null): Buffer | LiteralSource {
  if (path.length === 0) {
    const r = applyPartial({ start: 0, end: row.size }, partial);
    return derived(() => ctx.store.chunks(row, r.start, r.end), r.end - r.start, null, true);
  }
  const part = layout.part(path);
  if (!part) return Buffer.alloc(0);
  if (part.type === 'multipart') throw no('BINARY of a multipart part', 'CANNOT');
  const p = layout.prefix;
  const raw = (): Iterable<Buffer> => ctx.store.chunks(row, p + part.bodyStart, p + part.bodyEnd);
  try {
    return derived(() => decodeChunks(raw(), part), part.bodyEnd - part.bodyStart, partial, true);
  } catch (e) {
    if (e instanceof UnknownEncodingError) throw no(`unknown transfer encoding ${part.encoding}`, 'UNKNOWN-CTE');
    throw e;
  }
}

/** BINARY.SIZE (RFC 3516 §4.2): the decoded size, counted over the chunks. */
function binarySize(ctx: RenderContext, row: FetchRecord, layout: Layout, path: readonly number[]): number {
  if (path.length === 0) return row.size;
  const part = layout.part(path);
  // Identity encodings: the stored size, nothing to read.
  if (part && part.type !== 'multipart' && IDENTITY.has(part.encoding)) return part.bodyEnd - part.bodyStart;
  return binaryData(ctx, row, layout, path, null).length;
}

/** A data item as the codec's (inline bytes) or as a streamed one. */
function dataItem(
  base: { kind: 'RFC822' | 'RFC822.HEADER' | 'RFC822.TEXT' } | { kind: 'BODY[]'; section: BodySection; origin: number | null },
  data: Buffer | LiteralSource,
): RenderedItem {
  return Buffer.isBuffer(data) ? { ...base, data } : { ...base, source: data };
}

/** True when fetching this item sets \Seen (RFC 9051 §6.4.5: BODY[...] without PEEK, RFC822, RFC822.TEXT). */
export function setsSeen(a: FetchAttribute): boolean {
  return ((a.kind === 'BODY[]' || a.kind === 'BINARY[]') && !a.peek) || a.kind === 'RFC822' || a.kind === 'RFC822.TEXT';
}

/** Renders one message's FETCH items in the order asked (UID first for UID FETCH). */
export function renderItems(ctx: RenderContext, row: FetchRecord, attributes: readonly FetchAttribute[]): RenderedItem[] {
  const items: RenderedItem[] = [];
  const layout = new Layout(row);
  let flagsDone = false;
  let modseqDone = false;
  if (ctx.uid) items.push({ kind: 'UID', value: row.uid });
  for (const a of attributes) {
    switch (a.kind) {
      case 'UID':
        if (!ctx.uid) items.push({ kind: 'UID', value: row.uid });
        break;
      case 'FLAGS':
        flagsDone = true;
        items.push({ kind: 'FLAGS', flags: row.flags });
        break;
      case 'INTERNALDATE':
        items.push({ kind: 'INTERNALDATE', date: new Date(row.internalDate), offsetMinutes: 0 });
        break;
      case 'RFC822.SIZE':
        items.push({ kind: 'RFC822.SIZE', value: row.size });
        break;
      case 'MODSEQ':
        modseqDone = true;
        items.push({ kind: 'MODSEQ', value: row.modseq });
        break;
      case 'ENVELOPE':
        items.push({ kind: 'ENVELOPE', value: row.envelope ?? 'NIL' });
        break;
      case 'BODYSTRUCTURE':
        items.push({ kind: 'BODYSTRUCTURE', value: row.bodyStructure ?? 'NIL' });
        break;
      case 'BODY':
        items.push({ kind: 'BODY', value: row.body ?? 'NIL' });
        break;
      case 'RFC822':
        items.push(dataItem({ kind: 'RFC822' }, sectionData(ctx, row, layout, { part: [] }, null)));
        break;
      case 'RFC822.HEADER':
        items.push(dataItem({ kind: 'RFC822.HEADER' }, sectionData(ctx, row, layout, { part: [], text: 'HEADER' }, null)));
        break;
      case 'RFC822.TEXT':
        items.push(dataItem({ kind: 'RFC822.TEXT' }, sectionData(ctx, row, layout, { part: [], text: 'TEXT' }, null)));
        break;
      case 'BODY[]':
        items.push(
          dataItem({ kind: 'BODY[]', section: a.section, origin: a.partial ? a.partial.offset : null }, sectionData(ctx, row, layout, a.section, a.partial)),
        );
        break;
      case 'BINARY[]': {
        const data = binaryData(ctx, row, layout, a.part, a.partial);
        const origin = a.partial ? a.partial.offset : null;
        items.push(Buffer.isBuffer(data) ? { kind: 'BINARY[]', part: a.part, origin, data } : { kind: 'BINARY[]', part: a.part, origin, source: data });
        break;
      }
      case 'BINARY.SIZE':
        items.push({ kind: 'BINARY.SIZE', part: a.part, size: binarySize(ctx, row, layout, a.part) });
        break;
    }
  }
  if (ctx.addFlags && !flagsDone) items.push({ kind: 'FLAGS', flags: row.flags });
  if (ctx.modseq && !modseqDone) items.push({ kind: 'MODSEQ', value: row.modseq });
  return items;
}
