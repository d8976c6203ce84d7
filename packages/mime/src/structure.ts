/**
 * The MIME tree of a raw message (RFC 2045, RFC 2046), found on the bytes in one forward pass.
 *
 * Boundary lines are found with Buffer.indexOf on "--boundary", never line by line, so a 25 MB
 * base64 attachment costs a few memchr-speed scans and no per-line strings. As RFC 2046 §5.1.1
 * says and Dovecot does, a line that *starts* with "--boundary" is a delimiter, whatever follows;
 * when several open multiparts match the same line the innermost wins, and a boundary of an
 * enclosing multipart ends every part nested in it (a missing close delimiter is forgiven).
 *
 * Each open boundary caches its next match and searches only up to the next match of the
 * boundary enclosing it (nothing nested can outlive that line), so the whole scan is bounded by
 * depth x size even for hostile input; maxDepth and maxParts bound the rest.
 */
import { LF, CR, countLines, eolLengthBefore } from './bytes.js';
import { isUtf8 } from 'node:buffer';
import type { HeaderBudget, RawField } from '@postern/header';
import { emptyLineIn, fieldValue, firstField, splitFields } from '@postern/header';
import type { Param } from './params.js';
import { decodeParams, parseContentType, parseDisposition, parseLanguage, parseTransferEncoding } from './params.js';
import { decodeEncodedWords } from './charset.js';

export interface IndexLimits {
  /** Nesting of multiparts and encapsulated messages; deeper containers become opaque leaves. */
  maxDepth: number;
  /** Parts in the tree; once reached, further parts are not split out. */
  maxParts: number;
  /** UTF-8 bytes of plain text collected for the full-text index. */
  maxTextBytes: number;
  /**
   * Bytes of one header (of the message or of a part) split into fields. A longer header keeps
   * its extent (up to its empty line) and its bytes; the fields past the limit are not read.
   */
  maxHeaderBytes: number;
  /**
   * Header lines read in one message, every part's header together. Once spent, later headers
   * are read as empty: their parts become text/plain (the RFC 2045 §5.2 default), as Dovecot
   * degrades a message over its limits, and nothing of the message is lost.
   */
  maxHeaderLines: number;
  /** Body bytes decoded (base64, quoted-printable) to collect the text, all parts together. */
  maxDecodedBytes: number;
}

export const DEFAULT_INDEX_LIMITS: IndexLimits = Object.freeze({
  maxDepth: 32,
  maxParts: 1000,
  maxTextBytes: 1024 * 1024,
  maxHeaderBytes: 1024 * 1024,
  maxHeaderLines: 50_000,
  maxDecodedBytes: 8 * 1024 * 1024,
});

export type EntityKind = 'multipart' | 'message' | 'leaf';

/** One MIME entity with everything BODYSTRUCTURE and the part list need. */
export interface Entity {
  headerStart: number;
  bodyStart: number;
  bodyEnd: number;
  fields: RawField[];
  kind: EntityKind;
  /** Content-Type as written, for BODYSTRUCTURE; null when absent or not type/subtype. */
  ctType: string | null;
  ctSubtype: string;
  ctParams: Param[];
  /** Effective media type, lowercased (defaults applied, RFC 2045 §5.2, RFC 2046 §5.1.5). */
  type: string;
  subtype: string;
  params: Record<string, string>;
  id: string | null;
  description: string | null;
  md5: string | null;
  location: string | null;
  /** Content-Transfer-Encoding token as written, or null. */
  encodingRaw: string | null;
  disposition: { type: string; params: Param[] } | null;
  language: string[] | null;
  /** A multipart or message part turned into an opaque leaf by maxDepth / maxParts. */
  overflow: boolean;
  children: Entity[];
  /** The encapsulated message of a message/rfc822 or message/global part. */
  inner: Entity | null;
  /** IMAP section number, assigned after parsing; null for an unlisted inner multipart root. */
  path: string | null;
  /** LF count of the body, computed on first use (-1 until then). */
  lines: number;
}

interface OpenBoundary {
  delim: Buffer;
  /** Cached next delimiter line at or after `from`; -1 when none before `searchedTo`. */
  next: number;
  from: number;
  searchedTo: number;
}

interface BoundaryMatch {
  /** Start of the delimiter line. */
  line: number;
  /** Just past its line end (or the end of the message). */
  after: number;
  /** "--boundary--". */
  close: boolean;
  /** The line has a line end. */
  terminated: boolean;
  owner: OpenBoundary;
}

const MAX_BOUNDARY = 1000;

/** The first position >= `from` where a line of `region` starts with `needle`, or -1. */
function lineStartIndexOf(region: Buffer, needle: Buffer, from: number): number {
  if (from === 0 && region.length >= needle.length && region.subarray(0, needle.length).equals(needle)) return 0;
  const lfNeedle = Buffer.allocUnsafe(needle.length + 1);
  lfNeedle[0] = LF;
  needle.copy(lfNeedle, 1);
  const idx = region.indexOf(lfNeedle, Math.max(0, from - 1));
  return idx === -1 ? -1 : idx + 1;
}

function fieldString(raw: Buffer, fields: readonly RawField[], key: string): string | null {
  const f = firstField(fields, key);
  return f === undefined ? null : fieldValue(raw, f);
}

/**
 * Content-Disposition: the first one, except that a later one replaces a first one that had no
 * parameters (Dovecot's rule, kept so that BODYSTRUCTURE matches).
 */
function dispositionField(raw: Buffer, fields: readonly RawField[]): { type: string; params: Param[] } | null {
  let dsp: { type: string; params: Param[] } | null = null;
  for (const f of fields) {
    if (f.key !== 'content-disposition') continue;
    if (dsp !== null && dsp.params.length > 0) break;
    dsp = parseDisposition(fieldValue(raw, f)) ?? dsp;
  }
  return dsp;
}

export class StructureParser {
  private readonly stack: OpenBoundary[] = [];
  private partsLeft: number;
  private readonly headerBudget: HeaderBudget;

  constructor(
    private readonly raw: Buffer,
    private readonly limits: IndexLimits,
  ) {
    this.partsLeft = Math.max(0, limits.maxParts - 1);
    this.headerBudget = { maxBytes: limits.maxHeaderBytes, lines: limits.maxHeaderLines };
  }

  /** Parses the whole message. */
  parse(): Entity {
    return this.parseEntity(0, 0, false, true).entity;
  }

  /**
   * Caches the first delimiter line of `b` starting in [from, limit]. It looks for LF + "--b", so
   * that "--b" in the middle of lines costs nothing (a body of "x--b" lines once cost one search
   * per occurrence).
   */
  private search(b: OpenBoundary, from: number, limit: number): void {
    const raw = this.raw;
    const regionEnd = Math.min(raw.length, limit + b.delim.length);
    const region = regionEnd === raw.length ? raw : raw.subarray(0, regionEnd);
    b.from = from;
    const idx = lineStartIndexOf(region, b.delim, from);
    b.next = idx;
    if (idx === -1) b.searchedTo = regionEnd;
  }

  /** The first delimiter line at or after `pos` of any open multipart, innermost first on ties. */
  private nextBoundary(pos: number): BoundaryMatch | null {
    let best: OpenBoundary | null = null;
    let limit = this.raw.length;
    for (const b of this.stack) {
      const cachedHit = b.next >= pos && b.from <= pos;
      const cachedMiss = b.next === -1 && b.from <= pos && b.searchedTo >= Math.min(this.raw.length, limit + b.delim.length);
      if (!cachedHit && !cachedMiss) this.search(b, pos, limit);
      if (b.next !== -1 && b.next <= limit) {
        best = b;
        limit = b.next;
      }
    }
    if (best === null) return null;
    const raw = this.raw;
    const line = best.next;
    const d = line + best.delim.length;
    const close = raw[d] === 0x2d && raw[d + 1] === 0x2d;
    const lf = raw.indexOf(LF, d);
    return { line, after: lf === -1 ? raw.length : lf + 1, close, terminated: lf !== -1, owner: best };
  }

  /** End of a body that stops at `stop` (or at the end of the message). */
  private bodyEndFor(stop: BoundaryMatch | null, floor: number): number {
    if (stop === null) return this.raw.length;
    return Math.max(floor, stop.line - eolLengthBefore(this.raw, stop.line, floor));
  }

  /** Just past the empty line that ends the header at `headerStart` (before `limitPos`), or -1. */
  private findBodyStart(headerStart: number, limitPos: number): number {
    const e = emptyLineIn(this.raw, headerStart, limitPos);
    if (e === -1) return -1;
    return e + (this.raw[e] === CR ? 2 : 1);
  }

  /**
   * Parses the entity at `headerStart`. `messageRoot` is true for the top level and for the body
   * of a message/rfc822 part, false for a part of a multipart.
   */
  private parseEntity(headerStart: number, depth: number, inDigest: boolean, messageRoot: boolean): { entity: Entity; stop: BoundaryMatch | null } {
    const raw = this.raw;
    const lim = this.nextBoundary(headerStart);
    const limitPos = lim === null ? raw.length : lim.line;
    // The header is whole lines up to and including the empty line. Without an empty line it
    // runs up to the delimiter line, keeping its last line end (as Dovecot does), and the body
    // is empty (RFC 5322 §2.1 allows a message without a body).
    let bodyStart = this.findBodyStart(headerStart, limitPos);
    const headerCut = bodyStart === -1 && lim !== null;
    if (bodyStart === -1) bodyStart = limitPos;
    const fields = splitFields(raw, headerStart, bodyStart, this.headerBudget);
    const e = this.describe(raw, fields, inDigest, messageRoot);
    e.headerStart = headerStart;
    e.bodyStart = bodyStart;

    if (e.kind !== 'leaf' && (depth >= this.limits.maxDepth || this.partsLeft <= 0)) {
      e.kind = 'leaf';
      e.overflow = true;
    }
    let stop: BoundaryMatch | null;
    if (e.kind === 'message') {
      this.partsLeft--;
      const inner = this.parseEntity(bodyStart, depth + 1, false, true);
      e.inner = inner.entity;
      stop = inner.stop;
      e.bodyEnd = inner.entity.bodyEnd;
    } else if (e.kind === 'multipart' && headerCut) {
      // the delimiter that cut the header belongs to an enclosing multipart: no body, no parts
      stop = lim;
      e.bodyEnd = bodyStart;
    } else if (e.kind === 'multipart') {
      const r = this.parseMultipartBody(e, depth);
      stop = r.stop;
      e.bodyEnd = r.end;
    } else {
      stop = lim;
      e.bodyEnd = this.bodyEndFor(stop, bodyStart);
    }
    return { entity: e, stop };
  }

  /** Parses the parts of a multipart; returns the line that ended it and where its body ends. */
  private parseMultipartBody(e: Entity, depth: number): { stop: BoundaryMatch | null; end: number } {
    const boundary = this.boundaryOf(e);
    if (boundary === null) {
      // nothing can delimit a part: the body runs to the next enclosing delimiter, with no parts
      const stop = this.nextBoundary(e.bodyStart);
      return { stop, end: this.bodyEndFor(stop, e.bodyStart) };
    }
    const own: OpenBoundary = { delim: boundary, next: -1, from: Number.MAX_SAFE_INTEGER, searchedTo: 0 };
    this.stack.push(own);
    const digest = e.subtype === 'digest';
    let pos = e.bodyStart;
    let stop: BoundaryMatch | null;
    let open = true;
    // The line end of a close delimiter stays in this body even when the next line is an
    // enclosing delimiter: Dovecot gives it to the inner part, never back to the boundary.
    let floor = e.bodyStart;
    for (;;) {
      const m = this.nextBoundary(pos);
      if (m === null || m.owner !== own) {
        stop = m;
        break;
      }
      if (m.close) {
        // the epilogue runs to the next delimiter of an enclosing multipart
        this.stack.pop();
        open = false;
        floor = m.after;
        stop = this.nextBoundary(m.after);
        break;
      }
      if (!m.terminated) {
        // "--boundary" as the last bytes of the message opens no part (Dovecot agrees)
        stop = null;
        break;
      }
      if (this.partsLeft <= 0) {
        // over maxParts: the rest stays inside this multipart's body, unsplit
        const end = this.skipToClose(own, m.after);
        if (end.close) {
          this.stack.pop();
          open = false;
          floor = end.match.after;
          stop = this.nextBoundary(end.match.after);
        } else {
          stop = end.match;
        }
        break;
      }
      this.partsLeft--;
      const child = this.parseEntity(m.after, depth + 1, digest, false);
      e.children.push(child.entity);
      // a child's body may end on the line end it shares with the boundary: never end before it
      floor = Math.max(floor, child.entity.bodyEnd);
      if (child.stop === null) {
        stop = null;
        break;
      }
      pos = child.stop.line;
    }
    if (open) this.stack.pop();
    return { stop, end: this.bodyEndFor(stop, floor) };
  }

  /**
   * From `pos`, the line that ends the unsplit rest of `own` (the innermost open multipart): its
   * close delimiter, or the next delimiter of an enclosing multipart, whichever comes first
   * (the close one on a tie, innermost wins). One scan for the close delimiter instead of one
   * search per part delimiter, which a body of 5,000,000 "--b" lines made a second's work.
   */
  private skipToClose(own: OpenBoundary, pos: number): { close: true; match: BoundaryMatch } | { close: false; match: BoundaryMatch | null } {
    const raw = this.raw;
    this.stack.pop();
    const outer = this.nextBoundary(pos);
    this.stack.push(own);
    const limit = outer === null ? raw.length : outer.line;
    const closeDelim = Buffer.concat([own.delim, Buffer.from('--')]);
    const region = raw.subarray(0, Math.min(raw.length, limit + closeDelim.length));
    const idx = lineStartIndexOf(region, closeDelim, pos);
    if (idx === -1) return { close: false, match: outer };
    const lf = raw.indexOf(LF, idx + closeDelim.length);
    return { close: true, match: { line: idx, after: lf === -1 ? raw.length : lf + 1, close: true, terminated: lf !== -1, owner: own } };
  }

  private boundaryOf(e: Entity): Buffer | null {
    const p = e.ctParams.find((x) => x.name.toLowerCase() === 'boundary');
    if (p === undefined) return null;
    const v = p.value.slice(0, MAX_BOUNDARY);
    const f = firstField(e.fields, 'content-type');
    const utf8 = f !== undefined && isUtf8(this.raw.subarray(f.valueStart, f.valueEnd));
    return Buffer.from(`--${v}`, utf8 ? 'utf8' : 'latin1');
  }

  /**
   * Reads the Content-* fields of one entity (the first of each counts, as in Dovecot). A message
   * (top level or encapsulated) with neither MIME-Version nor Content-Type is not MIME (RFC 2045
   * §4): its other Content-* fields are ignored, as Dovecot ignores them.
   */
  private describe(raw: Buffer, fields: RawField[], inDigest: boolean, messageRoot: boolean): Entity {
    const isMime = !messageRoot || fields.some((f) => f.key === 'mime-version' || f.key === 'content-type');
    const contentField = (key: string): string | null => (isMime ? fieldString(raw, fields, key) : null);
    let ctType: string | null = null;
    let ctSubtype = '';
    let ctParams: Param[] = [];
    const ctValue = fieldString(raw, fields, 'content-type');
    if (ctValue !== null) {
      const ct = parseContentType(ctValue);
      if (ct.valid) {
        ctType = ct.type;
        ctSubtype = ct.subtype;
        ctParams = ct.params;
      }
    }
    // RFC 2045 §5.2 default (also for an invalid field), RFC 2046 §5.1.5 in a digest
    const type = ctType === null ? (inDigest ? 'message' : 'text') : ctType.toLowerCase();
    const subtype = ctType === null ? (inDigest ? 'rfc822' : 'plain') : ctSubtype.toLowerCase();
    let kind: EntityKind = 'leaf';
    // Like Dovecot, a multipart without a boundary parameter is still a multipart (with no parts).
    if (type === 'multipart') kind = 'multipart';
    else if (type === 'message' && (subtype === 'rfc822' || subtype === 'global')) kind = 'message';
    // the first Content-Transfer-Encoding that parses counts (a broken one is skipped, as in Dovecot)
    let encodingRaw: string | null = null;
    for (const f of isMime ? fields : []) {
      if (f.key !== 'content-transfer-encoding') continue;
      encodingRaw = parseTransferEncoding(fieldValue(raw, f));
      if (encodingRaw !== null) break;
    }
    const dsp = dispositionField(raw, isMime ? fields : []);
    const lang = contentField('content-language');
    return {
      headerStart: 0,
      bodyStart: 0,
      bodyEnd: 0,
      fields,
      kind,
      ctType,
      ctSubtype,
      ctParams,
      type,
      subtype,
      params: decodeParams(ctParams),
      id: contentField('content-id'),
      description: contentField('content-description'),
      md5: contentField('content-md5'),
      location: contentField('content-location'),
      encodingRaw,
      disposition: dsp,
      language: lang === null ? null : parseLanguage(lang),
      overflow: false,
      children: [],
      inner: null,
      path: null,
      lines: -1,
    };
  }
}

/** Lowercased transfer encoding with the RFC 2045 §6.1 default. */
export function effectiveEncoding(e: Entity): string {
  return e.encodingRaw === null ? '7bit' : e.encodingRaw.toLowerCase();
}

/** Decoded file name: Content-Disposition filename, else Content-Type name (RFC 2183, RFC 2231, RFC 2047). */
export function entityFilename(e: Entity): string | null {
  const d = e.disposition === null ? {} : decodeParams(e.disposition.params);
  const name = d['filename'] ?? e.params['name'];
  return name === undefined || name === '' ? null : name;
}

export function decodedDescription(e: Entity): string | null {
  return e.description === null ? null : decodeEncodedWords(e.description);
}

/** Body line count (RFC 9051 body-fld-lines: the LF octets of the body), cached on the entity. */
export function entityLines(raw: Buffer, e: Entity): number {
  if (e.lines < 0) e.lines = countLines(raw, e.bodyStart, e.bodyEnd);
  return e.lines;
}
