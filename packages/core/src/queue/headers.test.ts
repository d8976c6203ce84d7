import { describe, expect, it } from 'vitest';
import { has8bit, receivedHeader } from './headers.js';

describe('Received:', () => {
  const base = { helo: 'client.example', ip: '192.0.2.1', by: 'mail.example.org', id: 'abc123', date: new Date('2026-11-02T10:00:00Z') };

  it('names the protocol type of RFC 3848 and the TLS in use', () => {
    const h = receivedHeader({ ...base, with: 'ESMTPS', tls: 'TLSv1.3 TLS_AES_256_GCM_SHA384', for: 'bob@example.org' });
    expect(h).toBe(
      'Received: from client.example ([192.0.2.1])\r\n\tby mail.example.org\r\n\twith ESMTPS (TLSv1.3 TLS_AES_256_GCM_SHA384)\r\n\tid abc123\r\n\tfor <bob@example.org>;\r\n\tMon, 02 Nov 2026 10:00:00 +0000\r\n',
    );
  });

  it('says UTF8SMTP when the transaction used SMTPUTF8 (RFC 6531 §3.7.3)', () => {
    expect(receivedHeader({ ...base, with: 'ESMTPSA', smtpUtf8: true })).toContain('with UTF8SMTPSA\r\n');
    expect(receivedHeader({ ...base, with: 'ESMTP', smtpUtf8: true })).toContain('with UTF8SMTP\r\n');
    expect(receivedHeader({ ...base, with: 'ESMTPS', smtpUtf8: false })).toContain('with ESMTPS\r\n');
  });

  it('keeps a hostile HELO from breaking the header', () => {
    const h = receivedHeader({ ...base, helo: 'evil\r\nBcc: x@y (z)', with: 'ESMTP' });
    expect(h.split('\r\n').filter((l) => !l.startsWith('\t') && l !== '')).toHaveLength(1);
  });
});

describe('has8bit', () => {
  it('tells 7-bit data from data with any byte above 0x7f, wherever it is', () => {
    const ascii = Buffer.alloc(100_000, 'a');
    expect(has8bit(ascii)).toBe(false);
    expect(has8bit(Buffer.alloc(0))).toBe(false);
    for (const at of [0, 31, 50_000, 99_999]) {
      const b = Buffer.from(ascii);
      b[at] = 0x80;
      expect(has8bit(b)).toBe(true);
    }
    expect(has8bit(Buffer.from('Grüße'))).toBe(true);
  });
});
