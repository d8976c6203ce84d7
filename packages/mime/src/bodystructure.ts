/**
 * BODY and BODYSTRUCTURE (RFC 9051 §7.5.2, RFC 3501 §7.4.2), written the way Dovecot writes
 * them: media type, subtype and parameters as they appear in the message (not case-folded),
 * ("charset" "us-ascii") added to text parts without a charset, "7bit" when there is no
 * Content-Transfer-Encoding, Content-Language always as a list, a multipart without parts
 * given one empty text/plain part (the grammar needs at least one). Extension data is
 * body-fld-md5 (Content-MD5, usually NIL), body-fld-dsp, body-fld-lang and body-fld-loc.
 */
import { imapNString, imapString } from '@postern/imap';
import { buildEnvelope, readMessageHeaders } from './envelope.js';
import type { Param } from './params.js';
import type { Entity } from './structure.js';
import { entityLines } from './structure.js';

const EMPTY_BODY = '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0)';
const EMPTY_BODYSTRUCTURE = '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL)';

function paramList(params: readonly Param[], defaultCharset: boolean): string {
  if (params.length === 0 && !defaultCharset) return 'NIL';
  const items: string[] = [];
  let seenCharset = false;
  for (const p of params) {
    if (p.name.toLowerCase() === 'charset') seenCharset = true;
    items.push(`${imapString(p.name)} ${imapString(p.value)}`);
  }
  if (defaultCharset && !seenCharset) items.push('"charset" "us-ascii"');
  return `(${items.join(' ')})`;
}

function extensionCommon(e: Entity): string {
  const dsp = e.disposition === null ? 'NIL' : `(${imapString(e.disposition.type)} ${paramList(e.disposition.params, false)})`;
  const lang = e.language === null ? 'NIL' : `(${e.language.map((l) => imapString(l)).join(' ')})`;
  return `${dsp} ${lang} ${imapNString(e.location)}`;
}

/** Writes one entity (without the enclosing parentheses). `ext` selects BODYSTRUCTURE. */
export function writeBody(raw: Buffer, e: Entity, ext: boolean): string {
  if (e.kind === 'multipart') {
    const kids = e.children.length > 0 ? e.children.map((c) => `(${writeBody(raw, c, ext)})`).join('') : ext ? EMPTY_BODYSTRUCTURE : EMPTY_BODY;
    let s = `${kids} ${imapString(e.ctSubtype)}`;
    if (ext) s += ` ${paramList(e.ctParams, false)} ${extensionCommon(e)}`;
    return s;
  }
  let media: string;
  let text = false;
  if (e.kind === 'message') media = `"message" "${e.subtype}"`;
  else if (e.overflow) media = '"application" "octet-stream"';
  else if (e.ctType === null) {
    media = e.type === 'message' ? `"message" "${e.subtype}"` : '"text" "plain"';
    text = e.type === 'text';
  } else {
    media = `${imapString(e.ctType)} ${imapString(e.ctSubtype)}`;
    text = e.type === 'text';
  }
  const size = e.bodyEnd - e.bodyStart;
  let s =
    `${media} ${paramList(e.ctParams, text)} ${imapNString(e.id)} ${imapNString(e.description)} ` +
    `${e.encodingRaw === null ? '"7bit"' : imapString(e.encodingRaw)} ${size}`;
  if (text) {
    s += ` ${entityLines(raw, e)}`;
  } else if (e.kind === 'message' && e.inner !== null) {
    const env = buildEnvelope(readMessageHeaders(raw, e.inner.fields));
    s += ` ${env} (${writeBody(raw, e.inner, ext)}) ${entityLines(raw, e)}`;
  }
  if (ext) s += ` ${imapNString(e.md5)} ${extensionCommon(e)}`;
  return s;
}
