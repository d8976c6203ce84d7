/**
 * HTML to plain text: a single forward scan (no regular expression that could backtrack),
 * dropping <script>, <style>, <head> and comments, turning block elements into line breaks and
 * decoding character references. One definition for the full-text index (layout 'search': white
 * space folded, no empty lines) and for the text our clients show and quote (layout 'reading':
 * the source's spacing kept, paragraphs separated by one empty line).
 */

const BLOCK = new Set([
  'address',
  'article',
  'aside',
  'blockquote',
  'br',
  'dd',
  'div',
  'dl',
  'dt',
  'fieldset',
  'figcaption',
  'figure',
  'footer',
  'form',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'header',
  'hr',
  'li',
  'main',
  'nav',
  'ol',
  'p',
  'pre',
  'section',
  'table',
  'td',
  'th',
  'tr',
  'ul',
]);

const SKIP_CONTENT = new Set(['script', 'style', 'head', 'title', 'template']);

const ENTITIES: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: ' ',
  copy: '©',
  reg: '®',
  trade: '™',
  hellip: '…',
  mdash: '—',
  ndash: '–',
  lsquo: '‘',
  rsquo: '’',
  ldquo: '“',
  rdquo: '”',
  bull: '•',
  euro: '€',
  pound: '£',
  yen: '¥',
  cent: '¢',
  sect: '§',
  deg: '°',
  middot: '·',
  laquo: '«',
  raquo: '»',
  shy: '',
  zwnj: '',
  zwj: '',
  auml: 'ä',
  ouml: 'ö',
  uuml: 'ü',
  Auml: 'Ä',
  Ouml: 'Ö',
  Uuml: 'Ü',
  szlig: 'ß',
  eacute: 'é',
  egrave: 'è',
  ecirc: 'ê',
  aacute: 'á',
  agrave: 'à',
  acirc: 'â',
  ccedil: 'ç',
  iacute: 'í',
  oacute: 'ó',
  uacute: 'ú',
  ntilde: 'ñ',
  Eacute: 'É',
  times: '×',
  divide: '÷',
};

function decodeEntity(name: string): string | null {
  if (name.startsWith('#')) {
    const code = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
    if (!Number.isFinite(code) || code <= 0 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return null;
    return String.fromCodePoint(code);
  }
  return ENTITIES[name] ?? ENTITIES[name.toLowerCase()] ?? null;
}

function decodeEntities(text: string): string {
  if (!text.includes('&')) return text;
  let out = '';
  let i = 0;
  while (i < text.length) {
    const amp = text.indexOf('&', i);
    if (amp === -1) {
      out += text.slice(i);
      break;
    }
    out += text.slice(i, amp);
    const semi = text.indexOf(';', amp + 1);
    if (semi !== -1 && semi - amp <= 10) {
      const decoded = decodeEntity(text.slice(amp + 1, semi));
      if (decoded !== null) {
        out += decoded;
        i = semi + 1;
        continue;
      }
    }
    out += '&';
    i = amp + 1;
  }
  return out;
}

function tagName(html: string, start: number): { name: string; closing: boolean } {
  let i = start + 1;
  const closing = html[i] === '/';
  if (closing) i++;
  let name = '';
  while (i < html.length && name.length < 16) {
    const c = html.charCodeAt(i);
    const alnum = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
    if (!alnum) break;
    name += html[i];
    i++;
  }
  return { name: name.toLowerCase(), closing };
}

/** The line without the spaces, tabs and no-break spaces that end it (a loop: /[ \t]+$/ is quadratic on a long run). */
function withoutTrailingBlanks(line: string): string {
  let end = line.length;
  for (let c = line.charCodeAt(end - 1); c === 0x20 || c === 0x09 || c === 0xa0; c = line.charCodeAt(end - 1)) end--;
  return end === line.length ? line : line.slice(0, end);
}

/** How the text is laid out: folded for searching, or with its paragraphs for a reader. */
export type HtmlTextLayout = 'search' | 'reading';

/** Visible text of an HTML document, at most `maxChars` characters. */
export function htmlToText(html: string, maxChars = Number.POSITIVE_INFINITY, layout: HtmlTextLayout = 'search'): string {
  const parts: string[] = [];
  let length = 0;
  let i = 0;
  let skipUntil: string | null = null;
  const emit = (s: string): void => {
    parts.push(s);
    length += s.length;
  };
  while (i < html.length && length < maxChars) {
    const lt = html.indexOf('<', i);
    const textEnd = lt === -1 ? html.length : lt;
    if (skipUntil === null && textEnd > i) emit(decodeEntities(html.slice(i, textEnd)));
    if (lt === -1) break;
    if (html.startsWith('<!--', lt)) {
      const end = html.indexOf('-->', lt + 4);
      i = end === -1 ? html.length : end + 3;
      continue;
    }
    const gt = html.indexOf('>', lt + 1);
    if (gt === -1) {
      // a '<' that opens no tag ("a < b"): the rest is text
      if (skipUntil === null) emit(decodeEntities(html.slice(lt)));
      break;
    }
    const { name, closing } = tagName(html, lt);
    if (skipUntil !== null) {
      if (closing && name === skipUntil) skipUntil = null;
    } else if (!closing && SKIP_CONTENT.has(name) && html[gt - 1] !== '/') {
      skipUntil = name;
    } else if (BLOCK.has(name)) {
      emit('\n');
    }
    // inline elements (<b>, <span>, <a>...) join their text without a space: "<b>Hel</b>lo" is "Hello"

    i = gt + 1;
  }
  const joined = parts.join('');
  const text =
    layout === 'search'
      ? joined
          .replace(/[ \t\f\v\u00a0\r]+/g, ' ')
          .replace(/ ?\n[ \n]*/g, '\n')
          .trim()
      : joined
          .split('\n')
          .map(withoutTrailingBlanks)
          .join('\n')
          .replace(/\n{3,}/g, '\n\n')
          .trim();
  return text.length > maxChars ? text.slice(0, maxChars) : text;
}
