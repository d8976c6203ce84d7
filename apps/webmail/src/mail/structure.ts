/**
 * What a reader needs from a BODYSTRUCTURE (RFC 9051 §7.5.2): which part is the text to show,
 * which is the HTML, which are attachments to list and which are images the HTML refers to by
 * Content-ID. Only these parts are then fetched (BODY.PEEK[part]), never the whole message.
 */
import type { MessageStructureObject } from 'imapflow';

export interface PartInfo {
  /** IMAP part number ("1", "1.2"). */
  part: string;
  /** Lower-case MIME type ("image/png"). */
  type: string;
  filename: string;
  /** Encoded size as the server reports it. */
  size: number;
  contentId: string | null;
  charset: string | null;
}

export interface MessageParts {
  text: PartInfo | null;
  html: PartInfo | null;
  attachments: PartInfo[];
  /** Parts with a Content-ID, keyed by it (without <>): images the HTML shows inline. */
  related: Map<string, PartInfo>;
}

function info(node: MessageStructureObject, part: string, index: number): PartInfo {
  const type = (node.type || 'application/octet-stream').toLowerCase();
  const named = node.dispositionParameters?.['filename'] ?? node.parameters?.['name'];
  let filename = typeof named === 'string' && named.trim() !== '' ? named.trim() : '';
  if (filename === '' && type === 'message/rfc822') filename = `${node.envelope?.subject?.trim() || 'message'}.eml`;
  if (filename === '') filename = `part-${index}${extensionOf(type)}`;
  return {
    part,
    type,
    // a file name, never a path: no separators, no drive or NTFS stream colon, not "." or ".."
    filename: filename.replace(/[\\/:\x00-\x1f]/g, '_').replace(/^\.+$/, '_'),
    size: node.size ?? 0,
    contentId: node.id ? node.id.replace(/^<|>$/g, '') : null,
    charset: node.parameters?.['charset'] ?? null,
  };
}

function extensionOf(type: string): string {
  const known: Record<string, string> = {
    'text/plain': '.txt',
    'text/html': '.html',
    'image/png': '.png',
    'image/jpeg': '.jpg',
    'image/gif': '.gif',
    'application/pdf': '.pdf',
    'message/rfc822': '.eml',
  };
  return known[type] ?? '.bin';
}

/** Does this message have anything a user would call an attachment? (for the list's mark) */
export function hasAttachment(root: MessageStructureObject | undefined): boolean {
  return root ? messageParts(root).attachments.length > 0 : false;
}

export function messageParts(root: MessageStructureObject): MessageParts {
  const out: MessageParts = { text: null, html: null, attachments: [], related: new Map() };
  let counter = 0;

  // `inBody`: still looking for the message text at this point of the tree.
  const walk = (node: MessageStructureObject, inBody: boolean): void => {
    const type = (node.type || '').toLowerCase();
    const part = node.part ?? '1';
    if (type.startsWith('multipart/')) {
      const children = node.childNodes ?? [];
      if (type === 'multipart/alternative') {
        // RFC 2046 §5.1.4: the last alternative is the richest; take the best HTML and text.
        for (const child of children) walk(child, inBody);
        return;
      }
      for (const [i, child] of children.entries()) walk(child, inBody && (type === 'multipart/related' ? i === 0 : true));
      return;
    }
    counter++;
    const p = info(node, part, counter);
    const disposition = (node.disposition ?? '').toLowerCase();
    const named = Boolean(node.dispositionParameters?.['filename'] ?? node.parameters?.['name']);
    if (p.contentId) out.related.set(p.contentId, p);
    const isText = type === 'text/plain' || type === 'text/html';
    if (isText && disposition !== 'attachment' && !(named && disposition === '') && inBody) {
      if (type === 'text/plain' && !out.text) {
        out.text = p;
        return;
      }
      if (type === 'text/html' && !out.html) {
        out.html = p;
        return;
      }
    }
    // An image referred to by Content-ID from the HTML is shown there, not listed.
    if (p.contentId && disposition !== 'attachment' && type.startsWith('image/')) return;
    out.attachments.push(p);
  };
  walk(root, true);
  // Without HTML nothing shows the Content-ID images: list them instead.
  if (!out.html) {
    for (const p of out.related.values()) if (p.type.startsWith('image/') && !out.attachments.includes(p)) out.attachments.push(p);
  }
  return out;
}
