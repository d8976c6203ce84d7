import { describe, expect, it } from 'vitest';
import { htmlToText } from './html-text.js';

describe('htmlToText', () => {
  const page = '<html><head><title>t</title></head><body><p>Hi &amp; <b>bye</b></p>\n<div>two<br>three  &euro;</div></body></html>';

  it('folds white space for the index', () => {
    expect(htmlToText(page, 1000)).toBe('Hi & bye\ntwo\nthree €');
  });

  it('keeps paragraphs apart for a reader', () => {
    expect(htmlToText(page, undefined, 'reading')).toBe('Hi & bye\n\ntwo\nthree  €');
  });

  it('keeps the text after a "<" that opens no tag', () => {
    expect(htmlToText('a < b', undefined, 'reading')).toBe('a < b');
  });

  it('is linear where regular expressions backtrack', () => {
    // each took seconds through the regular expressions the webmail and the CLI used before
    expect(htmlToText('x<script>'.repeat(20_000), undefined, 'reading')).toBe('x');
    expect(htmlToText(`<p>${' '.repeat(200_000)}x</p>`, undefined, 'reading')).toBe('x');
  });
});
