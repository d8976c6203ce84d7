import { describe, expect, it } from 'vitest';
import { clientEndpoint } from './endpoint.js';
import { isLoopbackHost } from './net.js';

const config = { hostname: 'mail.example.org', tlsCert: '/nonexistent/cert.pem' };

describe('clientEndpoint', () => {
  it('reaches a wildcard listener over loopback, without TLS required', () => {
    const e = clientEndpoint('0.0.0.0:1143', false, config);
    expect(e).toMatchObject({ host: '127.0.0.1', port: 1143, requireTls: false, tls: { rejectUnauthorized: false } });
    expect(clientEndpoint('[::]:1143', false, config).host).toBe('::1');
  });

  it('sends a host name in SNI, never an address literal (RFC 6066 §3)', () => {
    expect(clientEndpoint('imap.example.net:993', true, config).tls.servername).toBe('imap.example.net');
    expect(clientEndpoint('192.0.2.1:993', true, config).tls.servername).toBe('mail.example.org');
    expect(clientEndpoint('192.0.2.1:993', true, null).tls.servername).toBeUndefined();
    expect(clientEndpoint('192.0.2.1:993', true, null)).toMatchObject({ requireTls: true, tls: { rejectUnauthorized: true } });
  });

  it('takes a name that only starts with 127. for a remote host', () => {
    expect(isLoopbackHost('127.example.net')).toBe(false);
    expect(isLoopbackHost('LOCALHOST')).toBe(true);
    expect(isLoopbackHost('127.0.0.2')).toBe(true);
    expect(clientEndpoint('127.example.net:587', false, config).requireTls).toBe(true);
  });
});
