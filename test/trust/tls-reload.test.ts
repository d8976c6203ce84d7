/**
 * TLS on the running apps: the certificate and key files replaced on disk (a renewed Let's
 * Encrypt pair, say) are what the next connection gets, without a restart, with and without SNI;
 * implicit TLS on 465, STARTTLS on 25 and 587; nothing below TLS 1.2.
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect, type PeerCertificate } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureCertificate } from '@postern/core';
import { createInstance, type Instance } from '../lib/instance.js';

let b: Instance;
const spare = mkdtempSync(join(tmpdir(), 'postern-cert-'));

beforeAll(async () => {
  b = await createInstance({ domain: 'b.test', users: { bob: 'bob-password' } });
  await b.start();
});

afterAll(async () => {
  await b?.stop();
  rmSync(spare, { recursive: true, force: true });
});

/** The certificate presented on an implicit-TLS port (with or without SNI). */
function certificateAt(port: number, servername?: string, maxVersion?: 'TLSv1.1'): Promise<PeerCertificate> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect(
      { host: '127.0.0.1', port, rejectUnauthorized: false, ...(servername ? { servername } : {}), ...(maxVersion ? { maxVersion, minVersion: 'TLSv1' } : {}) },
      () => {
        const cert = s.getPeerCertificate();
        s.end();
        resolve(cert);
      },
    );
    s.once('error', reject);
  });
}

/** The certificate presented after STARTTLS on an SMTP port (no SNI, as Postfix does by default). */
function certificateAfterStarttls(port: number): Promise<PeerCertificate> {
  return new Promise((resolve, reject) => {
    const socket = netConnect(port, '127.0.0.1');
    let buffer = '';
    const steps = ['EHLO client.test\r\n', 'STARTTLS\r\n'];
    socket.once('error', reject);
    socket.on('data', (d: Buffer) => {
      buffer += d.toString();
      // a complete reply: its last line has a space after the code
      if (!/(^|\n)\d{3} [^\n]*\n$/.test(buffer)) return;
      const reply = buffer;
      buffer = '';
      const next = steps.shift();
      if (next) return void socket.write(next);
      if (!reply.startsWith('220')) return reject(new Error(`STARTTLS refused: ${reply}`));
      socket.removeAllListeners('data');
      const secure = tlsConnect({ socket, rejectUnauthorized: false }, () => {
        const cert = secure.getPeerCertificate();
        secure.end();
        resolve(cert);
      });
      secure.once('error', reject);
    });
  });
}

describe('TLS', () => {
  it('presents the new certificate on the next connection after the files are replaced', async () => {
    const before = await certificateAt(b.ports.submissions, 'mail.b.test');
    const beforeNoSni = await certificateAt(b.ports.submissions);
    expect(beforeNoSni.fingerprint256).toBe(before.fingerprint256);
    expect((await certificateAfterStarttls(b.ports.smtp)).fingerprint256).toBe(before.fingerprint256);
    expect((await certificateAfterStarttls(b.ports.submission)).fingerprint256).toBe(before.fingerprint256);
    // a new pair, written over the old files (the mtime changes)
    await ensureCertificate(join(spare, 'cert.pem'), join(spare, 'key.pem'), 'mail.b.test');
    copyFileSync(join(spare, 'key.pem'), b.config.tlsKey);
    copyFileSync(join(spare, 'cert.pem'), b.config.tlsCert);
    const after = await certificateAt(b.ports.submissions, 'mail.b.test');
    expect(after.fingerprint256).not.toBe(before.fingerprint256);
    const afterNoSni = await certificateAt(b.ports.submissions);
    expect(afterNoSni.fingerprint256).toBe(after.fingerprint256);
    expect((await certificateAfterStarttls(b.ports.smtp)).fingerprint256).toBe(after.fingerprint256);
    expect((await certificateAfterStarttls(b.ports.submission)).fingerprint256).toBe(after.fingerprint256);
  });

  it('refuses TLS below 1.2', async () => {
    await expect(certificateAt(b.ports.submissions, 'mail.b.test', 'TLSv1.1')).rejects.toThrow();
  });
});
