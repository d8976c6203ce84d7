/**
 * indexMessage: everything the store and the IMAP server need about one message, computed once
 * at delivery from the raw bytes. It never throws: a message whose structure cannot be read
 * is indexed as one text/plain part covering its body.
 */
import { bodyStart } from '@postern/header';
import { formatAddresses, firstMailbox } from './address.js';
import { buildEnvelope, readMessageHeaders } from './envelope.js';
import type { MessageHeaders } from './envelope.js';
import { writeBody } from './bodystructure.js';
import { bytesToText, decodeEncodedWords } from './charset.js';
import { parseMailDate } from './date.js';
import { htmlToText } from './html-text.js';
import { decodeParams } from './params.js';
import type { Entity, IndexLimits } from './structure.js';
import { DEFAULT_INDEX_LIMITS, StructureParser, decodedDescription, effectiveEncoding, entityFilename, entityLines } from './structure.js';
import { UnknownEncodingError, decodeTransferEncoding } from './transfer-encoding.js';

export interface MimePart {
  /**
   * IMAP section number (RFC 9051 §6.4.5): "1", "1.2", "2.1.3". The root of a non-multipart
   * message is "1"; a multipart root is "" (the whole message). The body of a message/rfc822 part
   * N is the encapsulated message: a non-multipart one is listed as "N.1"; a multipart one is not
   * listed itself (it has no section number of its own: it is N.HEADER / N.TEXT), its parts are
   * "N.1", "N.2"...
   */
  path: string;
  /** Byte offset of this part's MIME header in the raw message. */
  headerStart: number;
  /** Byte offset of the body (after the empty line). */
  bodyStart: number;
  /** Byte offset just past the body (before the CRLF that precedes the next boundary). */
  bodyEnd: number;
  /** Lowercased media type, defaults applied ("text", or "message" in a multipart/digest). */
  type: string;
  /** Lowercased subtype. */
  subtype: string;
  /** Content-Type parameters: lowercased names, decoded values (RFC 2231, RFC 2047). */
  params: Record<string, string>;
  id: string | null;
  /** Content-Description, encoded-words decoded. */
  description: string | null;
  /** Content-Transfer-Encoding, lowercased, default "7bit". */
  encoding: string;
  /** Content-Disposition type, lowercased, or null. */
  disposition: string | null;
  dispositionParams: Record<string, string>;
  /** Decoded file name (disposition filename, else type name), for attachment lists. */
  filename: string | null;
  /** Body octets (bodyEnd - bodyStart). */
  size: number;
  /** Body lines (LF count) for text/* and message/rfc822|global; 0 for other types. */
  lines: number;
  /**
   * For message/rfc822 and message/global parts: where the encapsulated message's body starts, so
   * that N.HEADER is [bodyStart, innerBodyStart) and N.TEXT is [innerBodyStart, bodyEnd). Else null.
   */
  innerBodyStart: number | null;
}

export interface IndexedMessage {
  /** raw.length */
  size: number;
  /** Offset where the top-level body starts (just after the empty line). */
  headerEnd: number;
  /** ENVELOPE, parentheses included, ready to send (RFC 9051 §7.5.2). */
  envelope: string;
  /** BODYSTRUCTURE with extension data, parentheses included, ready to send. */
  bodyStructure: string;
  /** BODY (non-extensible form), parentheses included, ready to send. */
  body: string;
  /** Every part including the root, in pre-order. */
  parts: MimePart[];
  /** Decoded header values for SEARCH and listings (encoded-words decoded to UTF-8). */
  subject: string;
  /** Addresses as display text: "Name <a@b>, c@d". */
  from: string;
  to: string;
  cc: string;
  bcc: string;
  /** First From address, domain lowercased. */
  fromAddress: string | null;
  /** "<id@host>" forms, as written. */
  messageId: string | null;
  inReplyTo: string | null;
  references: string[];
  /** Date: header; null when missing or invalid (never "now"). */
  date: Date | null;
  /** Plain text for the full-text index, at most maxTextBytes UTF-8 bytes. */
  text: string;
  hasAttachments: boolean;
}

export type { IndexLimits };
export { DEFAULT_INDEX_LIMITS };

const MAX_REFERENCES = 500;

function sanitizeLimits(l: Partial<IndexLimits> | undefined): IndexLimits {
  const pick = (v: unknown, d: number, min: number): number => (typeof v === 'number' && Number.isFinite(v) && v >= min ? Math.floor(v) : d);
  const d = DEFAULT_INDEX_LIMITS;
  if (l === undefined || l === null || typeof l !== 'object') return d;
  return {
    maxDepth: pick(l.maxDepth, d.maxDepth, 0),
    maxParts: pick(l.maxParts, d.maxParts, 1),
    maxTextBytes: pick(l.maxTextBytes, d.maxTextBytes, 0),
    maxHeaderBytes: pick(l.maxHeaderBytes, d.maxHeaderBytes, 0),
    maxHeaderLines: pick(l.maxHeaderLines, d.maxHeaderLines, 0),
    maxDecodedBytes: pick(l.maxDecodedBytes, d.maxDecodedBytes, 0),
  };
}

/** The msg-id tokens of a field (RFC 5322 §3.6.4), or the whole trimmed value if it has none. */
function msgIds(value: string | null, max: number): string[] {
  if (value === null) return [];
  const ids = value.match(/<[^<>\s]*>/g);
  if (ids !== null) return ids.slice(0, max);
  const t = value.trim();
  return t === '' ? [] : [t];
}

function isAttachment(e: Entity, inRelated: boolean): boolean {
  const dsp = e.disposition?.type.toLowerCase() ?? null;
  if (dsp === 'attachment') return true;
  if (e.kind === 'message') return true; // a forwarded message is shown as an attachment
  if (e.kind === 'multipart') return false;
  if (entityFilename(e) === null) return false;
  // a named part is an attachment, except inline text and the inline images of multipart/related
  if (dsp === 'inline' && (e.type === 'text' || inRelated)) return false;
  return !inRelated;
}

function toPart(raw: Buffer, e: Entity, path: string): MimePart {
  const withLines = e.type === 'text' || e.kind === 'message';
  const dsp = e.disposition === null || e.disposition.type === '' ? null : e.disposition.type.toLowerCase();
  return {
    path,
    headerStart: e.headerStart,
    bodyStart: e.bodyStart,
    bodyEnd: e.bodyEnd,
    type: e.overflow ? 'application' : e.type,
    subtype: e.overflow ? 'octet-stream' : e.subtype,
    params: { ...e.params },
    id: e.id,
    description: decodedDescription(e),
    encoding: effectiveEncoding(e),
    disposition: dsp,
    dispositionParams: e.disposition === null ? {} : decodeParams(e.disposition.params),
    filename: entityFilename(e),
    size: e.bodyEnd - e.bodyStart,
    lines: withLines && !e.overflow ? entityLines(raw, e) : 0,
    innerBodyStart: e.kind === 'message' && e.inner !== null ? e.inner.bodyStart : null,
  };
}

/** Assigns IMAP section numbers and lists the parts in pre-order. */
function listParts(raw: Buffer, root: Entity): { parts: MimePart[]; hasAttachments: boolean } {
  const parts: MimePart[] = [];
  let hasAttachments = false;
  const walkPart = (e: Entity, path: string, inRelated: boolean): void => {
    e.path = path;
    parts.push(toPart(raw, e, path));
    if (isAttachment(e, inRelated)) hasAttachments = true;
    if (e.kind === 'multipart') {
      const related = e.subtype === 'related';
      for (const [i, c] of e.children.entries()) walkPart(c, `${path}.${i + 1}`, related);
    } else if (e.kind === 'message' && e.inner !== null) {
      walkRoot(e.inner, path);
    }
  };
  const walkRoot = (e: Entity, prefix: string): void => {
    if (e.kind === 'multipart') {
      if (prefix === '') {
        e.path = '';
        parts.push(toPart(raw, e, ''));
      }
      const related = e.subtype === 'related';
      for (const [i, c] of e.children.entries()) walkPart(c, prefix === '' ? `${i + 1}` : `${prefix}.${i + 1}`, related);
    } else {
      walkPart(e, prefix === '' ? '1' : `${prefix}.1`, false);
    }
  };
  walkRoot(root, '');
  return { parts, hasAttachments };
}

/** Decoded text of a text entity, reading at most `maxChars * 4 + 64` and `maxRaw` raw bytes of it. */
function entityText(raw: Buffer, e: Entity, maxChars: number, maxRaw: number): string {
  const end = Math.min(e.bodyEnd, e.bodyStart + maxChars * 4 + 64, e.bodyStart + maxRaw);
  const body = raw.subarray(e.bodyStart, end);
  let bytes: Buffer;
  try {
    bytes = decodeTransferEncoding(body, effectiveEncoding(e));
  } catch {
    bytes = body;
  }
  return bytesToText(bytes, e.params['charset']);
}

/** Text for the full-text index: text/plain (or, in an alternative without one, text/html) bodies. */
function collectText(raw: Buffer, root: Entity, maxBytes: number, maxDecoded: number): string {
  const chunks: string[] = [];
  let budget = maxBytes;
  let decodeBudget = maxDecoded;
  const visit = (e: Entity, _inRelated: boolean, depth: number): void => {
    if (budget <= 0 || decodeBudget <= 0 || depth > 200) return;
    if (e.kind === 'multipart') {
      const related = e.subtype === 'related';
      if (e.subtype === 'alternative') {
        const pick =
          e.children.find((c) => c.kind === 'leaf' && c.type === 'text' && c.subtype === 'plain') ??
          e.children.find((c) => c.kind === 'leaf' && c.type === 'text' && c.subtype === 'html') ??
          e.children[e.children.length - 1];
        if (pick !== undefined) visit(pick, related, depth + 1);
      } else {
        for (const c of e.children) visit(c, related, depth + 1);
      }
      return;
    }
    if (e.kind === 'message') {
      if (e.inner !== null) visit(e.inner, false, depth + 1);
      return;
    }
    if (e.overflow || e.type !== 'text' || (e.subtype !== 'plain' && e.subtype !== 'html')) return;
    const dsp = e.disposition?.type.toLowerCase() ?? null;
    if (dsp === 'attachment') return;
    let s = entityText(raw, e, budget, decodeBudget);
    decodeBudget -= e.bodyEnd - e.bodyStart;
    if (e.subtype === 'html') s = htmlToText(s, budget);
    s = s.trim();
    if (s === '') return;
    if (s.length > budget) s = s.slice(0, budget);
    chunks.push(s);
    budget -= s.length + 1;
  };
  visit(root, false, 0);
  const text = chunks.join('\n');
  if (Buffer.byteLength(text, 'utf8') <= maxBytes) return text;
  // cut at maxBytes without leaving half a character behind
  return Buffer.from(text, 'utf8')
    .subarray(0, maxBytes)
    .toString('utf8')
    .replace(/\ufffd+$/, '');
}

function decodedHeaderText(value: string | null): string {
  if (value === null) return '';
  return decodeEncodedWords(value)
    .replace(/[\t\r\n ]+/g, ' ')
    .trim();
}

function fromHeaders(
  h: MessageHeaders,
): Pick<IndexedMessage, 'subject' | 'from' | 'to' | 'cc' | 'bcc' | 'fromAddress' | 'messageId' | 'inReplyTo' | 'references' | 'date'> {
  return {
    subject: decodedHeaderText(h.subject),
    from: formatAddresses(h.from),
    to: formatAddresses(h.to),
    cc: formatAddresses(h.cc),
    bcc: formatAddresses(h.bcc),
    fromAddress: firstMailbox(h.from),
    messageId: msgIds(h.messageId, 1)[0] ?? null,
    inReplyTo: msgIds(h.inReplyTo, 1)[0] ?? null,
    references: msgIds(h.references, MAX_REFERENCES),
    date: h.date === null ? null : parseMailDate(h.date),
  };
}

function indexStructured(raw: Buffer, limits: IndexLimits): IndexedMessage {
  const root = new StructureParser(raw, limits).parse();
  const { parts, hasAttachments } = listParts(raw, root);
  const h = readMessageHeaders(raw, root.fields);
  return {
    size: raw.length,
    headerEnd: root.bodyStart,
    envelope: buildEnvelope(h),
    bodyStructure: `(${writeBody(raw, root, true)})`,
    body: `(${writeBody(raw, root, false)})`,
    parts,
    ...fromHeaders(h),
    text: collectText(raw, root, limits.maxTextBytes, limits.maxDecodedBytes),
    hasAttachments,
  };
}

const EMPTY_ENVELOPE = '(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)';

/** Last resort when the structured pass failed: one text/plain part over the body. */
function indexFallback(raw: Buffer): IndexedMessage {
  const headerEnd = bodyStart(raw);
  const size = raw.length - headerEnd;
  let lines = 0;
  for (let p = raw.indexOf(0x0a, headerEnd); p !== -1; p = raw.indexOf(0x0a, p + 1)) lines++;
  const basic = `"text" "plain" ("charset" "us-ascii") NIL NIL "7bit" ${size} ${lines}`;
  return {
    size: raw.length,
    headerEnd,
    envelope: EMPTY_ENVELOPE,
    bodyStructure: `(${basic} NIL NIL NIL NIL)`,
    body: `(${basic})`,
    parts: [
      {
        path: '1',
        headerStart: 0,
        bodyStart: headerEnd,
        bodyEnd: raw.length,
        type: 'text',
        subtype: 'plain',
        params: {},
        id: null,
        description: null,
        encoding: '7bit',
        disposition: null,
        dispositionParams: {},
        filename: null,
        size,
        lines,
        innerBodyStart: null,
      },
    ],
    subject: '',
    from: '',
    to: '',
    cc: '',
    bcc: '',
    fromAddress: null,
    messageId: null,
    inReplyTo: null,
    references: [],
    date: null,
    text: '',
    hasAttachments: false,
  };
}

/** Indexes one raw message. Never throws. */
export function indexMessage(raw: Buffer, limits?: Partial<IndexLimits>): IndexedMessage {
  const buf = Buffer.isBuffer(raw) ? raw : Buffer.from((raw as Uint8Array).buffer, (raw as Uint8Array).byteOffset, (raw as Uint8Array).byteLength);
  try {
    return indexStructured(buf, sanitizeLimits(limits));
  } catch {
    return indexFallback(buf);
  }
}

/**
 * Decoded content of one part (base64 / quoted-printable undone) for IMAP BINARY[] (RFC 3516).
 * Identity encodings return a view of `raw`. Throws UnknownEncodingError for an unknown encoding.
 */
export function decodePartBody(raw: Buffer, part: MimePart): Buffer {
  return decodeTransferEncoding(raw.subarray(part.bodyStart, part.bodyEnd), part.encoding);
}

/** Charset-aware text of a part, for search and display; an unknown encoding is read as is. */
export function decodeText(raw: Buffer, part: MimePart): string {
  let bytes: Buffer;
  try {
    bytes = decodePartBody(raw, part);
  } catch (err) {
    if (!(err instanceof UnknownEncodingError)) throw err;
    bytes = raw.subarray(part.bodyStart, part.bodyEnd);
  }
  return bytesToText(bytes, part.params['charset']);
}
