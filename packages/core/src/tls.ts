/**
 * TLS material: one certificate and key (PEM) for every listener. `ensureCertificate` makes a
 * self-signed pair when none exists (development, first start); `TlsMaterial` re-reads the files
 * when they change, so a renewed Let's Encrypt pair is used without a restart.
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:net';
import { dirname } from 'node:path';
import { createSecureContext, type SecureContext } from 'node:tls';
import { generate } from 'selfsigned';

export async function ensureCertificate(certPath: string, keyPath: string, hostname: string): Promise<boolean> {
  if (existsSync(certPath) && existsSync(keyPath)) return false;
  const pems = await generate([{ name: 'commonName', value: hostname }], {
    keySize: 2048,
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: false },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: hostname },
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
        ],
      },
    ],
  } as Parameters<typeof generate>[1]);
  mkdirSync(dirname(certPath), { recursive: true });
  mkdirSync(dirname(keyPath), { recursive: true });
  writeFileSync(keyPath, pems.private, { mode: 0o600 });
  writeFileSync(certPath, pems.cert);
  return true;
}

/**
 * What every TLS listener accepts: TLS 1.3, and TLS 1.2 only with ECDHE key exchange and an AEAD
 * cipher (Mozilla's "intermediate" profile without DHE), so every session has forward secrecy
 * (RFC 7525 §4.2). Node reads the TLS 1.3 suites from the same list: without them TLS 1.3 would
 * be off. Port 25 included: a sender that offers nothing better gets plaintext, as with no TLS.
 */
export const SERVER_TLS = {
  minVersion: 'TLSv1.2',
  ciphers: [
    'TLS_AES_128_GCM_SHA256',
    'TLS_AES_256_GCM_SHA384',
    'TLS_CHACHA20_POLY1305_SHA256',
    'ECDHE-ECDSA-AES128-GCM-SHA256',
    'ECDHE-RSA-AES128-GCM-SHA256',
    'ECDHE-ECDSA-AES256-GCM-SHA384',
    'ECDHE-RSA-AES256-GCM-SHA384',
    'ECDHE-ECDSA-CHACHA20-POLY1305',
    'ECDHE-RSA-CHACHA20-POLY1305',
  ].join(':'),
  honorCipherOrder: true,
} as const;

export interface TlsFiles {
  key: Buffer;
  cert: Buffer;
}

/** The current key and certificate, re-read when either file's mtime changes. */
export class TlsMaterial {
  private files: TlsFiles;
  private context: SecureContext;
  private stamp: string;
  /** Counts reloads, so a holder of an older copy of the pair can tell it is stale. */
  generation = 0;

  constructor(
    readonly certPath: string,
    readonly keyPath: string,
  ) {
    this.files = this.read();
    this.context = createSecureContext({ ...this.files, ...SERVER_TLS });
    this.stamp = this.mtimes();
  }

  private read(): TlsFiles {
    return { key: readFileSync(this.keyPath), cert: readFileSync(this.certPath) };
  }

  private mtimes(): string {
    try {
      return `${statSync(this.certPath).mtimeMs}:${statSync(this.keyPath).mtimeMs}`;
    } catch {
      return this.stamp;
    }
  }

  /** Reloads if the files changed; a broken pair keeps the old one in use. Returns true on reload. */
  refresh(): boolean {
    const now = this.mtimes();
    if (now === this.stamp) return false;
    try {
      const files = this.read();
      this.context = createSecureContext({ ...files, ...SERVER_TLS });
      this.files = files;
      this.stamp = now;
      this.generation++;
      return true;
    } catch {
      return false;
    }
  }

  get current(): TlsFiles {
    return this.files;
  }

  /** The context for a new TLS session (STARTTLS, implicit TLS): the current pair, re-read
   * first if its files changed. */
  secureContext(): SecureContext {
    this.refresh();
    return this.context;
  }

  /** For tls.Server's SNICallback / smtp-server's SNICallback: always the current context. */
  readonly sniCallback = (_servername: string, cb: (err: Error | null, ctx?: SecureContext) => void): void => {
    this.refresh();
    cb(null, this.context);
  };
}

/** The part of smtp-server's SMTPServer a certificate reload needs. */
export interface TlsReloadable {
  server: Server;
  updateSecureContext(options: TlsFiles): void;
}

/**
 * Keeps an smtp-server's default certificate current. A client that sends no SNI (Postfix by
 * default, anyone connecting by IP address) gets the server's default context, which the SNI
 * callback never sees: before each new connection is handled, the files are checked and the
 * contexts rebuilt when the pair changed.
 */
export function reloadTlsOnConnection(target: TlsReloadable, tls: TlsMaterial): void {
  let applied = tls.generation;
  // prepended: runs before smtp-server's own connection handler picks the default context
  target.server.prependListener('connection', () => {
    tls.refresh();
    if (tls.generation === applied) return;
    applied = tls.generation;
    target.updateSecureContext(tls.current);
  });
}
