/**
 * HTML mail made harmless before it reaches the browser. The sanitizer keeps formatting only:
 * no scripts, no event handlers, no forms, no frames, no `javascript:`/`data:` links, no
 * `<base>`/`<meta>`/`<link>`, no CSS `url()`/`@import`/`expression()`. Remote images are
 * removed (and counted, so the page can offer to show them) unless the user asked for them;
 * `cid:` images become URLs of the message's own parts.
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
  'a', 'abbr', 'address', 'b', 'bdi', 'bdo', 'big', 'blockquote', 'br', 'caption', 'center', 'cite', 'code', 'col',
  'colgroup', 'dd', 'del', 'details', 'dfn', 'div', 'dl', 'dt', 'em', 'figcaption', 'figure', 'font', 'h1', 'h2', 'h3',
  'h4', 'h5', 'h6', 'hr', 'i', 'img', 'ins', 'kbd', 'li', 'mark', 'ol', 'p', 'pre', 'q', 's', 'samp', 'small', 'span',
  'strike', 'strong', 'style', 'sub', 'summary', 'sup', 'table', 'tbody', 'td', 'tfoot', 'th', 'thead', 'time', 'tr',
  'tt', 'u', 'ul', 'var', 'wbr',
];

const COMMON_ATTRS = ['id', 'style', 'class', 'align', 'valign', 'width', 'height', 'bgcolor', 'color', 'dir', 'lang', 'title', 'border'];

/** A CSS value without function calls except colours: no url(), expression(), var() tricks. */
const SAFE_CSS_VALUE = /^(?:[^()\\;<>{}"'@]|(?:rgba?|hsla?)\([\d\s.,%/]+\))*$/i;
const STYLE_PROPS = [
  'color', 'background-color', 'font', 'font-family', 'font-size', 'font-style', 'font-weight', 'font-variant',
  'text-align', 'text-decoration', 'text-indent', 'text-transform', 'line-height', 'letter-spacing', 'word-spacing',
  'white-space', 'vertical-align', 'direction', 'margin', 'margin-top', 'margin-right', 'margin-bottom', 'margin-left',
  'padding', 'padding-top', 'padding-right', 'padding-bottom', 'padding-left', 'border', 'border-top', 'border-right',
  'border-bottom', 'border-left', 'border-color', 'border-style', 'border-width', 'border-radius', 'border-collapse',
  'border-spacing', 'width', 'max-width', 'min-width', 'height', 'max-height', 'min-height', 'display', 'float', 'clear',
  'list-style-type', 'table-layout', 'overflow-wrap', 'word-break', 'word-wrap',
];
const ALLOWED_STYLES: Record<string, RegExp[]> = Object.fromEntries(STYLE_PROPS.map((p) => [p, [SAFE_CSS_VALUE]]));

const DATA_IMAGE = /^data:image\/(?:png|gif|jpeg|webp);base64,[A-Za-z0-9+/=\s]+$/i;

/**
 * A `<style>` element's text: @import, url() (unless remote loads are allowed and it is http(s)),
 * legacy script hooks (expression(), behavior, -moz-binding) and escapes that could hide them are
 * removed. Returns the CSS and how many remote references were dropped.
 */
export function sanitizeCss(css: string, allowRemote: boolean): { css: string; blocked: number } {
  let blocked = 0;
  // Backslash escapes can spell any of the words below (`\75 rl(`): decode them first
  // (CSS Syntax §4.3.7), then drop any backslash left.
  let out = css
    .replace(/\\([0-9a-f]{1,6})\s?/gi, (_m, hex: string) => {
      const cp = Number.parseInt(hex, 16);
      return cp > 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : '';
    })
    .replace(/\\(.)/g, '$1');
  out = out.replace(/<!--|-->|<\/?/g, '');
  out = out.replace(/@import[^;]*;?/gi, () => {
    blocked++;
    return '';
  });
  out = out.replace(/url\s*\(\s*(['"]?)([^'")]*)\1\s*\)/gi, (_m, _q: string, target: string) => {
    if (allowRemote && /^https?:\/\//i.test(target.trim())) return `url("${target.trim().replace(/["\\]/g, '')}")`;
    if (/^https?:|^\/\//i.test(target.trim())) blocked++;
    return 'none';
  });
  out = out.replace(/expression\s*\(|behavior\s*:|-moz-binding|javascript:/gi, '');
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
