import { describe, expect, it } from 'vitest';
import { html, escapeHtml, trusted } from './html.js';
import { contentDisposition, parseCookies, safeReturnPath, serializeCookie } from './http.js';

describe('html templates', () => {
  it('escape every interpolated value, keep nested templates', () => {
    const evil = `<script>alert("x")</script>' onmouseover='a`;
    expect(html`<p title="${evil}">${evil}</p>`.value).toBe(
      '<p title="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39; onmouseover=&#39;a">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39; onmouseover=&#39;a</p>',
    );
    expect(html`<ul>${['a<', 'b'].map((x) => html`<li>${x}</li>`)}</ul>`.value).toBe('<ul><li>a&lt;</li><li>b</li></ul>');
    expect(html`${null}${undefined}${false}${0}`.value).toBe('0');
    expect(html`${trusted('<b>ok</b>')}`.value).toBe('<b>ok</b>');
    expect(escapeHtml('`&')).toBe('&#96;&amp;');
  });
});

describe('cookies', () => {
  it('are HttpOnly and SameSite=Strict, Secure on HTTPS', () => {
    expect(serializeCookie({ name: 's', value: 'v', secure: false })).toBe('s=v; Path=/; HttpOnly; SameSite=Strict');
    expect(serializeCookie({ name: 's', value: '', maxAge: 0, secure: true })).toBe('s=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0; Secure');
  });
  it('parse, first value wins', () => {
    expect([...parseCookies('a=1; b=2; a=3; junk; =x')]).toEqual([
      ['a', '1'],
      ['b', '2'],
    ]);
  });
});

describe('safeReturnPath', () => {
  it('allows only paths of this site', () => {
    expect(safeReturnPath('/list?f=INBOX&p=2', '/')).toBe('/list?f=INBOX&p=2');
    for (const bad of ['//evil.test/', '/\\evil.test', 'https://evil.test/', 'javascript:alert(1)', '/list\r\nSet-Cookie: x', '']) {
      expect(safeReturnPath(bad, '/fallback')).toBe('/fallback');
    }
  });
});

describe('contentDisposition', () => {
  it('gives an ASCII fallback and the UTF-8 name (RFC 6266)', () => {
    expect(contentDisposition('attachment', 'Résumé "final".pdf')).toBe(
      `attachment; filename="R_sum_ _final_.pdf"; filename*=UTF-8''R%C3%A9sum%C3%A9%20%22final%22.pdf`,
    );
  });
});
