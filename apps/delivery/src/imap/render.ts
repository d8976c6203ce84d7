/**
 * FETCH rendering (RFC 9051 §6.4.5, §7.5.2; RFC 3516 BINARY; RFC 7162 MODSEQ): one stored row to
 * the items of one FETCH response. ENVELOPE and BODYSTRUCTURE are the strings computed at
 * delivery; body sections read only the byte range they cover (the store reads only the chunks
 * holding it), using the part offsets computed at delivery, shifted past our prepended headers.
 */
import { flagsFromBits, type MailStore } from '@postern/core';
import type { BodySection, FetchAttribute, FetchPartial, FetchResponseItem } from '@postern/imap';
import { decodePartBody, headerFields, UnknownEncodingError, type MimePart } from '@postern/mime';
import { no } from './reply.js';
import { recordOf, type FetchRow } from './query.js';

export interface RenderContext {
  readonly store: MailStore;
  readonly mailboxId: number;
  /** UID FETCH, or CONDSTORE items asked: UID goes first. */
  readonly uid: boolean;
  /** MODSEQ in every response (asked, or CHANGEDSINCE given). */
  readonly modseq: boolean;
  /** FLAGS must be added (the fetch set \Seen and the client did not ask for FLAGS). */
  readonly addFlags: boolean;
}

type Range = { start: number; end: number };

/** Lazily parsed layout of one message. */
class Layout {
  private parsed: MimePart[] | null = null;
  constructor(private readonly row: FetchRow) {}

  get prefix(): number {
    return this.row.prefix_length;
  }

  get headerEnd(): number {
    return this.row.prefix_length + (this.row.header_end ?? 0);
  }

  part(path: readonly number[]): MimePart | null {
    if (!this.parsed) this.parsed = JSON.parse(this.row.parts ?? '[]') as MimePart[];
    const key = path.join('.');
    return this.parsed.find((p) => p.path === key) ?? null;
  }
}

/** The byte range of a section, or null when the part does not exist (sent as empty). */
function sectionRange(row: FetchRow, layout: Layout, section: BodySection): Range | null {
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

/** HEADER.FIELDS (.NOT): the matching fields as they are, then the blank line (RFC 9051 §6.4.5). */
function selectFields(header: Buffer, fields: readonly string[], not: boolean): Buffer {
  const names = new Set(fields.map((f) => f.toLowerCase()));
  const out: Buffer[] = [];
  for (const f of headerFields(header)) {
    if (f.name === '') continue;
    if (names.has(f.name.toLowerCase()) === not) continue;
    out.push(f.raw);
    if (f.raw[f.raw.length - 1] !== 0x0a) out.push(Buffer.from('\r\n'));
  }
  out.push(Buffer.from('\r\n'));
  return Buffer.concat(out);
}

function sectionData(ctx: RenderContext, row: FetchRow, layout: Layout, section: BodySection, partial: FetchPartial | null): Buffer {
  const range = sectionRange(row, layout, section);
  if (!range) return Buffer.alloc(0);
  const record = recordOf(ctx.mailboxId, row);
  if (section.text === 'HEADER.FIELDS' || section.text === 'HEADER.FIELDS.NOT') {
    const selected = selectFields(ctx.store.read(record, range.start, range.end), section.fields ?? [], section.text === 'HEADER.FIELDS.NOT');
    if (!partial) return selected;
    return selected.subarray(Math.min(selected.length, partial.offset), Math.min(selected.length, partial.offset + partial.length));
  }
  const r = applyPartial(range, partial);
  return ctx.store.read(record, r.start, r.end);
}

/** RFC 3516: the part's body with its Content-Transfer-Encoding removed. */
function binaryData(ctx: RenderContext, row: FetchRow, layout: Layout, path: readonly number[]): Buffer {
  const record = recordOf(ctx.mailboxId, row);
  if (path.length === 0) return ctx.store.read(record, 0, row.size);
  const part = layout.part(path);
  if (!part) return Buffer.alloc(0);
  if (part.type === 'multipart') throw no('BINARY of a multipart part', 'CANNOT');
  const p = layout.prefix;
  const raw = ctx.store.read(record, p + part.bodyStart, p + part.bodyEnd);
  try {
    return decodePartBody(raw, { ...part, bodyStart: 0, bodyEnd: raw.length });
  } catch (e) {
    if (e instanceof UnknownEncodingError) throw no(`unknown transfer encoding ${part.encoding}`, 'UNKNOWN-CTE');
    throw e;
  }
}

/** True when fetching this item sets \Seen (RFC 9051 §6.4.5: BODY[...] without PEEK, RFC822, RFC822.TEXT). */
export function setsSeen(a: FetchAttribute): boolean {
  return ((a.kind === 'BODY[]' || a.kind === 'BINARY[]') && !a.peek) || a.kind === 'RFC822' || a.kind === 'RFC822.TEXT';
}

/** Renders one message's FETCH items in the order asked (UID first for UID FETCH). */
export function renderItems(ctx: RenderContext, row: FetchRow, attributes: readonly FetchAttribute[]): FetchResponseItem[] {
  const items: FetchResponseItem[] = [];
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
        items.push({ kind: 'FLAGS', flags: flagsFromBits(row.flags, row.keywords) });
        break;
      case 'INTERNALDATE':
        items.push({ kind: 'INTERNALDATE', date: new Date(row.internal_date), offsetMinutes: 0 });
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
        items.push({ kind: 'BODYSTRUCTURE', value: row.body_structure ?? 'NIL' });
        break;
      case 'BODY':
        items.push({ kind: 'BODY', value: row.body ?? 'NIL' });
        break;
      case 'RFC822':
        items.push({ kind: 'RFC822', data: sectionData(ctx, row, layout, { part: [] }, null) });
        break;
      case 'RFC822.HEADER':
        items.push({ kind: 'RFC822.HEADER', data: sectionData(ctx, row, layout, { part: [], text: 'HEADER' }, null) });
        break;
      case 'RFC822.TEXT':
        items.push({ kind: 'RFC822.TEXT', data: sectionData(ctx, row, layout, { part: [], text: 'TEXT' }, null) });
        break;
      case 'BODY[]':
        items.push({
          kind: 'BODY[]',
          section: a.section,
          origin: a.partial ? a.partial.offset : null,
          data: sectionData(ctx, row, layout, a.section, a.partial),
        });
        break;
      case 'BINARY[]': {
        let data = binaryData(ctx, row, layout, a.part);
        if (a.partial) data = data.subarray(Math.min(data.length, a.partial.offset), Math.min(data.length, a.partial.offset + a.partial.length));
        items.push({ kind: 'BINARY[]', part: a.part, origin: a.partial ? a.partial.offset : null, data });
        break;
      }
      case 'BINARY.SIZE':
        items.push({ kind: 'BINARY.SIZE', part: a.part, size: binaryData(ctx, row, layout, a.part).length });
        break;
    }
  }
  if (ctx.addFlags && !flagsDone) items.push({ kind: 'FLAGS', flags: flagsFromBits(row.flags, row.keywords) });
  if (ctx.modseq && !modseqDone) items.push({ kind: 'MODSEQ', value: row.modseq });
  return items;
}
