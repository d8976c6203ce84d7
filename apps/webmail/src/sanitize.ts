/**
 * HTML mail made harmless before it reaches the browser. The sanitizer keeps formatting only:
 * no scripts, no event handlers, no forms, no frames, no `javascript:`/`data:` links, no
 * `<base>`/`<meta>`/`<link>`, no CSS `@import`/`expression()`, no remote load from CSS. Remote
 * images are removed (and counted, so the page can offer to show them) unless the user asked for
 * them; "Show images" releases `<img>` and the CSS url()s that paint an image (backgrounds, list
 * markers, border images) outside rules on the reader's actions, never fonts, cursors or hover
 * effects; inline `style` attributes never load anything. `cid:` images become URLs of the
 * message's own parts.
 *
 * This is one of three walls: the result is also served with a CSP that forbids scripts and
 * (unless asked) remote loads, inside an `<iframe sandbox>` without `allow-scripts`.
 */
import sanitizeHtml from 'sanitize-html';

export interface SanitizeOptions {
  /** Show remote (http/https) images. */
  allowRemote: boolean;
  /** Maps a Content-ID (without <>) to a URL of that part, or null when the message has none. */
  cidUrl: (contentId: string) => string | null;
}

export interface SanitizedHtml {
  html: string;
  /** Remote images left out (0 when allowed). */
  blockedRemote: number;
}

const TAGS = [
  'a',
  'abbr',
  'address',
  'b',
  'bdi',
  'bdo',
  'big',
  'blockquote',
  'br',
  'caption',
  'center',
  'cite',
  'code',
  'col',
  'colgroup',
  'dd',
  'del',
  'details',
  'dfn',
  'div',
  'dl',
  'dt',
  'em',
  'figcaption',
  'figure',
  'font',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'hr',
  'i',
  'img',
  'ins',
  'kbd',
  'li',
  'mark',
  'ol',
  'p',
  'pre',
  'q',
  's',
  'samp',
  'small',
  'span',
  'strike',
  'strong',
  'style',
  'sub',
  'summary',
  'sup',
  'table',
  'tbody',
  'td',
  'tfoot',
  'th',
  'thead',
  'time',
  'tr',
  'tt',
  'u',
  'ul',
  'var',
  'wbr',
];

const COMMON_ATTRS = ['id', 'style', 'class', 'align', 'valign', 'width', 'height', 'bgcolor', 'color', 'dir', 'lang', 'title', 'border'];

/** A CSS value without function calls except colours: no url(), expression(), var() tricks. */
const SAFE_CSS_VALUE = /^(?:[^()\\;<>{}"'@]|(?:rgba?|hsla?)\([\d\s.,%/]+\))*$/i;
const STYLE_PROPS = [
  'color',
  'background-color',
  'font',
  'font-family',
  'font-size',
  'font-style',
  'font-weight',
  'font-variant',
  'text-align',
  'text-decoration',
  'text-indent',
  'text-transform',
  'line-height',
  'letter-spacing',
  'word-spacing',
  'white-space',
  'vertical-align',
  'direction',
  'margin',
  'margin-top',
  'margin-right',
  'margin-bottom',
  'margin-left',
  'padding',
  'padding-top',
  'padding-right',
  'padding-bottom',
  'padding-left',
  'border',
  'border-top',
  'border-right',
  'border-bottom',
  'border-left',
  'border-color',
  'border-style',
  'border-width',
  'border-radius',
  'border-collapse',
  'border-spacing',
  'width',
  'max-width',
  'min-width',
  'height',
  'max-height',
  'min-height',
  'display',
  'float',
  'clear',
  'list-style-type',
  'table-layout',
  'overflow-wrap',
  'word-break',
  'word-wrap',
];
const ALLOWED_STYLES: Record<string, RegExp[]> = Object.fromEntries(STYLE_PROPS.map((p) => [p, [SAFE_CSS_VALUE]]));

const DATA_IMAGE = /^data:image\/(?:png|gif|jpeg|webp);base64,[A-Za-z0-9+/=\s]+$/i;

/** Properties whose url() paints an image: the only ones "Show images" releases. */
const IMAGE_PROPERTIES = new Set(['background', 'background-image', 'list-style', 'list-style-image', 'border-image', 'border-image-source']);
/**
 * Selectors that match on what the reader does (hover, focus, a click): a remote load there would
 * report their actions, not that the message was opened, so it is never released.
 */
const INTERACTIVE =
  /:(?:hover|active|focus|focus-within|focus-visible|target|checked|visited|indeterminate|placeholder-shown|valid|invalid|user-valid|user-invalid|open|playing|paused)\b/i;
/** A string that names a resource (a scheme or //): image-set("…"), src("…"), @import "…" load it. */
const URL_LIKE = /^\s*(?:[a-z][a-z0-9+.-]*:|\/\/)/i;

/** The index just past the string literal that opens at `i` (CSS Syntax §4.3.5; EOF ends it too). */
function stringEnd(css: string, i: number): number {
  const quote = css[i];
  let j = i + 1;
  while (j < css.length && css[j] !== quote && css[j] !== '\n') j++;
  return Math.min(css.length, j + 1);
}

/**
 * A `<style>` element's text, read as CSS tokens (CSS Syntax §4), not patterns, so that no
 * spelling of a remote load survives: escapes are decoded first (they can spell any word),
 * comments dropped, @import and @namespace removed, every url() and src() resolved on its own
 * (quoted, unquoted, or cut off by the end of the text), and any string that names a resource
 * (what image-set(), src() and @import load) emptied. A remote http(s) url() is kept only when
 * remote loads are allowed, and then only where it paints an image (IMAGE_PROPERTIES) in a rule
 * that does not depend on the reader's actions (INTERACTIVE): exactly the loads "Show images"
 * stands for. `blocked` counts those, left out because they were not allowed. Legacy script
 * hooks (expression(), behavior, -moz-binding) are removed.
 */
export function sanitizeCss(css: string, allowRemote: boolean): { css: string; blocked: number } {
  let blocked = 0;
  // CSS Syntax §4.3.7: an escape is a backslash and up to 6 hex digits, or any other character.
  const src = css
    .replace(/\\([0-9a-f]{1,6})\s?/gi, (_m, hex: string) => {
      const cp = Number.parseInt(hex, 16);
      return cp > 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : '';
    })
    .replace(/\\(.)/g, '$1')
    .replace(/\\/g, '')
    .replace(/<!--|-->|<\/?/g, '')
    .replace(/\/\*[\s\S]*?(?:\*\/|$)/g, ' ')
    .replace(/@(?:import|namespace)\b[^;{}]*;?/gi, (m) => {
      if (/^@import/i.test(m)) blocked++;
      return '';
    });
  const preludes: string[] = []; // the selectors (or at-rule preludes) of the open blocks
  let statement = ''; // since the last { } or ;: a prelude or a declaration
  let out = '';
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === '"' || c === "'") {
      const end = stringEnd(src, i);
      const literal = src.slice(i, end);
      out += URL_LIKE.test(literal.slice(1)) ? `${c}${c}` : literal;
      statement += literal;
      i = end;
      continue;
    }
    const fn = /^(url|src)\(/i.exec(src.slice(i, i + 4));
    if (fn && !/[\w-]/.test(src[i - 1] ?? '')) {
      // the argument: a string, or raw text up to ")" (CSS Syntax §4.3.6); the end of the text closes it
      let j = i + fn[0].length;
      while (j < src.length && /\s/.test(src[j]!)) j++;
      let target: string;
      if (src[j] === '"' || src[j] === "'") {
        const end = stringEnd(src, j);
        target = src.slice(j + 1, src[end - 1] === src[j] && end - 1 > j ? end - 1 : end);
        j = end;
      } else {
        const close = src.indexOf(')', j);
        target = src.slice(j, close < 0 ? src.length : close);
        j = close < 0 ? src.length : close;
      }
      const close = src.indexOf(')', j);
      i = close < 0 ? src.length : close + 1;
      target = target.trim();
      const property = statement.split(':')[0]!.trim().toLowerCase();
      const releasable =
        fn[1]!.toLowerCase() === 'url' &&
        /^https?:\/\//i.test(target) &&
        IMAGE_PROPERTIES.has(property) &&
        !preludes.some((p) => INTERACTIVE.test(p) || /^@font-face/i.test(p));
      if (releasable && allowRemote) {
        out += `url("${target.replace(/["\\\r\n\f()]/g, (ch) => `%${ch.charCodeAt(0).toString(16).padStart(2, '0')}`)}")`;
      } else {
        if (releasable) blocked++;
        out += 'none';
      }
      statement += 'none';
      continue;
    }
    if (c === '{') {
      preludes.push(statement.trim());
      statement = '';
    } else if (c === '}') {
      preludes.pop();
      statement = '';
    } else if (c === ';') {
      statement = '';
    } else {
      statement += c;
    }
    out += c;
    i++;
  }
  out = out.replace(/expression\s*\(|behavior\s*:|-moz-binding|javascript:/gi, '');
  // a remote reference in an unexpected place (remote-looking text the tokens above kept) must not load
  if (!allowRemote && /url\s*\(/i.test(out)) out = out.replace(/url\s*\(/gi, 'none(');
  return { css: out, blocked };
}

export function sanitizeMailHtml(input: string, opts: SanitizeOptions): SanitizedHtml {
  let blockedRemote = 0;
  const html = sanitizeHtml(input, {
    allowedTags: TAGS,
    // <style> is kept for the layout of newsletters; its text is cleaned below (sanitizeCss).
    allowVulnerableTags: true,
    disallowedTagsMode: 'discard',
    allowedAttributes: {
      '*': COMMON_ATTRS,
      a: ['href', 'name', 'target', 'rel'],
      img: ['src', 'alt', 'width', 'height', 'data-blocked'],
      font: ['face', 'size', 'color'],
      td: ['colspan', 'rowspan', 'nowrap'],
      th: ['colspan', 'rowspan', 'nowrap', 'scope'],
      ol: ['start', 'type'],
      table: ['cellpadding', 'cellspacing', 'summary'],
      time: ['datetime'],
    },
    allowedStyles: { '*': ALLOWED_STYLES },
    allowedSchemes: ['http', 'https', 'mailto'],
    allowedSchemesByTag: { img: ['http', 'https', 'data'] },
    allowedSchemesAppliedToAttributes: ['href', 'src', 'cite'],
    allowProtocolRelative: false,
    allowedClasses: undefined,
    transformTags: {
      a: (tagName, attribs) => {
        const out: Record<string, string> = { ...attribs, rel: 'noopener noreferrer' };
        // Links leave the sandbox in a new browsing context, never in the frame or the page.
        if (attribs['href'] !== undefined) out['target'] = '_blank';
        else delete out['target'];
        return { tagName, attribs: out };
      },
      img: (tagName, attribs) => {
        const src = (attribs['src'] ?? '').trim();
        const out: Record<string, string> = { ...attribs };
        delete out['src'];
        if (/^cid:/i.test(src)) {
          const url = opts.cidUrl(decodeURIComponent(src.slice(4)).replace(/^<|>$/g, ''));
          if (url) out['src'] = url;
        } else if (/^https?:\/\//i.test(src)) {
          if (opts.allowRemote) out['src'] = src;
          else {
            blockedRemote++;
            out['data-blocked'] = 'remote';
          }
        } else if (/^\/\//.test(src)) {
          blockedRemote++;
          out['data-blocked'] = 'remote';
        } else if (DATA_IMAGE.test(src)) {
          out['src'] = src;
        }
        return { tagName, attribs: out };
      },
    },
  });
  // Clean the text of every <style> element the sanitizer kept (it copies it verbatim).
  const cleaned = html.replace(/<style>([\s\S]*?)<\/style>/gi, (_m, css: string) => {
    const r = sanitizeCss(css, opts.allowRemote);
    blockedRemote += r.blocked;
    return `<style>${r.css}</style>`;
  });
  return { html: cleaned, blockedRemote };
}

/** The document served inside the sandboxed frame. */
export function frameDocument(body: string): string {
  return (
    '<!doctype html><html><head><meta charset="utf-8"><meta name="referrer" content="no-referrer">' +
    '<style>html{color-scheme:light}body{margin:0;padding:12px;font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;' +
    'color:#1d1d1f;background:#fff;overflow-wrap:anywhere}img{max-width:100%;height:auto}' +
    'img[data-blocked]{display:inline-block;min-width:16px;min-height:16px;background:#eee}' +
    'pre{white-space:pre-wrap}blockquote{margin:0 0 0 .8em;padding-left:.8em;border-left:3px solid #ccd}</style>' +
    `</head><body>${body}</body></html>`
  );
}

/** The CSP of that document: nothing runs, nothing is fetched except our part URLs (and remote images when asked). */
export function frameCsp(allowRemote: boolean): string {
  const img = allowRemote ? "'self' data: https: http:" : "'self' data:";
  return (
    `default-src 'none'; img-src ${img}; style-src 'unsafe-inline'; font-src 'none'; ` +
    "script-src 'none'; form-action 'none'; base-uri 'none'; frame-ancestors 'self'; sandbox allow-same-origin allow-popups allow-popups-to-escape-sandbox"
  );
}
