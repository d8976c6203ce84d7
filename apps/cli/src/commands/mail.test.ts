import { describe, expect, it } from 'vitest';
import { htmlToText } from '@postern/mime';
import { clean } from './mail.js';

describe('postern mail output', () => {
  it('keeps terminal escape sequences and control characters out', () => {
    expect(clean('a\u001b[2Jb\u0007c\u009bd')).toBe('a[2Jbcd');
    expect(clean('one\r\ntwo\tthree')).toBe('one two three');
    expect(clean('one\r\ntwo\tthree\u001b]0;x\u0007', true)).toBe('one\ntwo\tthree]0;x');
  });

  it('turns HTML mail into readable text', () => {
    expect(
      htmlToText(
        '<html><head><style>p{color:red}</style><script>x()</script></head><body><p>Hi &amp; <b>bye</b></p><div>two<br>three &#8364;</div></body></html>',
        undefined,
        'reading',
      ),
    ).toBe('Hi & bye\n\ntwo\nthree €');
  });
});
