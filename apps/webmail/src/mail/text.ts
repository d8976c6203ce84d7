/** Plain text out of HTML mail, for quoting in replies and for `postern mail read`-style views. */
import sanitizeHtml from 'sanitize-html';

const BLOCK = /<\/?(?:p|div|br|tr|li|h[1-6]|blockquote|pre|table|hr|ul|ol)\b[^>]*>/gi;

export function htmlToText(html: string): string {
  const marked = html.replace(/<(script|style|head|title)\b[\s\S]*?<\/\1\s*>/gi, '').replace(BLOCK, '\n');
  const text = sanitizeHtml(marked, { allowedTags: [], allowedAttributes: {}, disallowedTagsMode: 'discard' });
  return decodeEntities(text)
    .replace(/[ \t\u00a0]+\n/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (m, e: string) => {
    if (e[0] === '#') {
      const cp = e[1] === 'x' || e[1] === 'X' ? Number.parseInt(e.slice(2), 16) : Number.parseInt(e.slice(1), 10);
      return cp > 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : m;
    }
    return NAMED[e.toLowerCase()] ?? m;
  });
}
