/**
 * TLS material: one certificate and key (PEM) for every listener. `ensureCertificate` makes a
 * self-signed pair when none exists (development, first start); `TlsMaterial` re-reads the files
 * when they change, so a renewed Let's Encrypt pair is used without a restart.
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
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
      { name: 'subjectAltName', altNames: [{ type: 2, value: hostname }, { type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] },
    ],
  } as Parameters<typeof generate>[1]);
  mkdirSync(dirname(certPath), { recursive: true });
  mkdirSync(dirname(keyPath), { recursive: true });
  writeFileSync(keyPath, pems.private, { mode: 0o600 });
  writeFileSync(certPath, pems.cert);
  return true;
}

export interface TlsFiles {
  key: Buffer;
  cert: Buffer;
}

/** The current key and certificate, re-read when either file's mtime changes. */
export class TlsMaterial {
  private files: TlsFiles;
  private context: SecureContext;
  private stamp: string;

  constructor(
    readonly certPath: string,
    readonly keyPath: string,
  ) {
    this.files = this.read();
    this.context = createSecureContext({ ...this.files, minVersion: 'TLSv1.2' });
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
      this.context = createSecureContext({ ...files, minVersion: 'TLSv1.2' });
      this.files = files;
      this.stamp = now;
      return true;
    } catch {
      return false;
    }
  }

  get current(): TlsFiles {
    return this.files;
  }

  /** For tls.Server's SNICallback / smtp-server's SNICallback: always the current context. */
  readonly sniCallback = (_servername: string, cb: (err: Error | null, ctx?: SecureContext) => void): void => {
    this.refresh();
    cb(null, this.context);
  };
}
