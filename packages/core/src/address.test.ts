import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AddressError, addressKey, formatAddress, needsSmtpUtf8, normalizeDomain, parseAddress, tryParseAddress } from './address.js';

describe('addresses', () => {
  it('parses and normalises', () => {
    expect(parseAddress('Alice@Example.ORG')).toEqual({ local: 'Alice', domain: 'example.org' });
    expect(addressKey(parseAddress('Alice@Example.ORG'))).toBe('alice@example.org');
    expect(parseAddress('"john doe"@example.org')).toEqual({ local: 'john doe', domain: 'example.org' });
    expect(formatAddress(parseAddress('"john doe"@example.org'))).toBe('"john doe"@example.org');
    expect(formatAddress(parseAddress('"plain"@example.org'))).toBe('plain@example.org');
    expect(parseAddress('user@[127.0.0.1]').domain).toBe('[127.0.0.1]');
  });

  it('handles UTF-8 local parts and IDN domains (RFC 6531)', () => {
    const a = parseAddress('jürgen@bücher.example');
    expect(a.domain).toBe('xn--bcher-kva.example');
    expect(a.local).toBe('jürgen');
    expect(needsSmtpUtf8(a)).toBe(true);
    expect(needsSmtpUtf8(parseAddress('a@bücher.example'))).toBe(false);
    expect(normalizeDomain('XN--BCHER-KVA.example.')).toBe('xn--bcher-kva.example');
  });

  it('refuses what is not an address', () => {
    for (const bad of [
      '',
      'nodomain',
      '@example.org',
      'a@',
      'a@@b.c',
      'a b@c.d',
      'a..b@c.d',
      '.a@c.d',
      'a@-bad-.org',
      'a@b_c.org',
      '"unterminated@x.y',
      'a\r\nb@c.d',
      `${'x'.repeat(65)}@a.b`,
      '@route:a@b.c',
    ]) {
      expect(() => parseAddress(bad), bad).toThrow(AddressError);
    }
  });

  it('never throws anything but AddressError', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) => {
        try {
          parseAddress(s);
        } catch (err) {
          expect(err).toBeInstanceOf(AddressError);
        }
        expect(() => tryParseAddress(s)).not.toThrow();
      }),
      { numRuns: 2000 },
    );
  });
});
