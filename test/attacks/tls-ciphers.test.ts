/**
 * Attack: a TLS session without forward secrecy. A recorded session under a plain-RSA suite
 * (`AES128-SHA`, `AES256-GCM-SHA384`) is decrypted by whoever gets the server's key later. Every
 * TLS listener (MX and submission STARTTLS, submissions, IMAP STARTTLS, POP3 STLS) must refuse
 * such suites and still speak TLS 1.3 and TLS 1.2 with ECDHE (the positive control).
 */
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFullInstance, type FullInstance } from './lib/full-instance.js';
import { Talk } from '@postern/testkit';

let a: FullInstance;

beforeAll(async () => {
  a = await createFullInstance({ domain: 'a.test', users: { alice: 'alice-password' } });
  await a.start({ profile: 'production' });
});

afterAll(async () => {
  await a?.stop();
});

type Listener = 'smtp' | 'submission' | 'submissions' | 'imap' | 'pop3';

/** A plain socket on which the next bytes are the server's TLS handshake. */
async function readyForTls(listener: Listener): Promise<Socket> {
  if (listener === 'submissions') {
    return new Promise((resolve, reject) => {
      const s = connect(a.ports.submissions, '127.0.0.1', () => resolve(s));
      s.once('error', reject);
    });
  }
  const port = listener === 'imap' ? a.retrieval.imap : listener === 'pop3' ? a.retrieval.pop3 : a.ports[listener];
  const t = await Talk.open(port);
  if (listener === 'imap') {
    await t.until(/^\* OK.*\r\n/m);
    await t.write('a STARTTLS\r\n');
    await t.until(/^a OK.*\r\n/m);
  } else if (listener === 'pop3') {
    await t.until(/^\+OK.*\r\n/m);
    await t.write('STLS\r\n');
    await t.until(/^\+OK.*\r\n/m);
  } else {
    await t.smtpReply();
    await t.smtp('EHLO client.example');
    expect(await t.smtp('STARTTLS')).toMatch(/^220 /);
  }
  t.socket.removeAllListeners('data');
  return t.socket;
}

/** The negotiated protocol and cipher, or the handshake's error message. */
async function handshake(
  listener: Listener,
  options: ConnectionOptions,
): Promise<{ ok: true; protocol: string; cipher: string } | { ok: false; error: string }> {
  const socket = await readyForTls(listener);
  return new Promise((resolve) => {
    const secure = tlsConnect({ socket, rejectUnauthorized: false, ...options });
    secure.once('secureConnect', () => {
      resolve({ ok: true, protocol: secure.getProtocol() ?? '', cipher: secure.getCipher().standardName });
      secure.destroy();
    });
    secure.once('error', (e) => {
      resolve({ ok: false, error: e.message });
      socket.destroy();
    });
  });
}

const LISTENERS: readonly Listener[] = ['smtp', 'submission', 'submissions', 'imap', 'pop3'];

describe('TLS without forward secrecy is refused on every listener', () => {
  it.each(LISTENERS)('%s', async (listener) => {
    const refused: string[] = [];
    for (const cipher of ['AES128-SHA', 'AES256-SHA', 'AES128-GCM-SHA256', 'AES256-GCM-SHA384']) {
      const r = await handshake(listener, { maxVersion: 'TLSv1.2', ciphers: cipher });
      console.log(`${listener}: TLS 1.2 ${cipher}: ${r.ok ? `accepted (${r.cipher})` : `refused (${r.error})`}`);
      expect(r.ok, `${listener} accepted ${cipher}`).toBe(false);
      refused.push(cipher);
    }
    // the positive control: forward-secret sessions still work
    const v13 = await handshake(listener, {});
    expect(v13).toMatchObject({ ok: true, protocol: 'TLSv1.3' });
    const ecdhe = await handshake(listener, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-GCM-SHA256' });
    expect(ecdhe).toMatchObject({ ok: true, protocol: 'TLSv1.2', cipher: 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256' });
    expect(refused).toHaveLength(4);
  });
});
