import { describe, expect, it } from 'vitest';
import type { Logger } from '@postern/core';
import { logServerError } from './server-errors.js';

/** A logger that records the level and message of each line. */
function recorder(): { log: Logger; lines: Array<[string, string]> } {
  const lines: Array<[string, string]> = [];
  const at = (level: string) => (_obj: unknown, msg?: string) => lines.push([level, msg ?? '']);
  return { log: { info: at('info'), warn: at('warn'), error: at('error') } as unknown as Logger, lines };
}

const failure = (code: string, extra: object = {}): Error =>
  Object.assign(new Error('Failed to establish TLS session'), { code, meta: { remoteAddress: '192.0.2.9' }, ...extra });

describe('logServerError', () => {
  it('a client that left, or whose TLS handshake failed, is one info line; anything else an error', () => {
    const { log, lines } = recorder();
    logServerError(log, 'submissions', failure('SocketError'));
    logServerError(log, 'smtp', failure('ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', { reason: 'tlsv1 alert unknown ca' }));
    logServerError(log, 'smtp', failure('ERR_SSL_NO_SHARED_CIPHER', { reason: 'no shared cipher' }));
    logServerError(log, 'smtp', failure('EMFILE'));
    expect(lines).toEqual([
      ['info', 'submissions: client left before the session began (Failed to establish TLS session)'],
      ['info', 'smtp: TLS handshake with the client failed (tlsv1 alert unknown ca)'],
      ['info', 'smtp: TLS handshake with the client failed (no shared cipher)'],
      ['error', 'smtp server error'],
    ]);
  });
});
