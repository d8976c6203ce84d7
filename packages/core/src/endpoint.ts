/**
 * Where one of our own mail clients (the webmail, `postern mail`) connects, and how it checks the
 * server: one definition, so that both treat loopback, certificates and SNI alike.
 *
 * - A listener on a wildcard address is reached over loopback.
 * - On loopback nothing can sit between client and server: the self-signed development
 *   certificate is accepted and a password may go without TLS (the servers allow that only in
 *   the development profile). Elsewhere TLS is required and the certificate must verify against
 *   the system roots or the configured certificate file.
 * - SNI carries a host name, never an address literal (RFC 6066 §3): a server named by address is
 *   asked for, and verified as, the configured host name; without a configuration, no SNI.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { rootCertificates, type ConnectionOptions } from 'node:tls';
import { splitHostPort, type Config } from './config.js';
import { isLoopbackHost } from './net.js';

export interface Endpoint {
  host: string;
  port: number;
  /** TLS from the first byte (993, 465, RFC 8314 §3.3); otherwise STARTTLS when offered. */
  implicitTls: boolean;
  /** Refuse to send the password in clear (everywhere except loopback). */
  requireTls: boolean;
  tls: ConnectionOptions;
}

/** The ports of implicit TLS: IMAP 993 and submission 465 (RFC 8314 §7.3). */
export const IMPLICIT_TLS_PORTS: ReadonlySet<number> = new Set([993, 465]);

/** `value` is "host:port"; `config` gives the certificate file and the host name for SNI. */
export function clientEndpoint(value: string, implicitTls: boolean, config: Pick<Config, 'tlsCert' | 'hostname'> | null): Endpoint {
  let { host, port } = splitHostPort(value);
  if (host === '0.0.0.0') host = '127.0.0.1';
  if (host === '::') host = '::1';
  const loopback = isLoopbackHost(host);
  const tls: ConnectionOptions = { minVersion: 'TLSv1.2' };
  if (loopback) {
    tls.rejectUnauthorized = false;
  } else {
    const ca = [...rootCertificates];
    if (config) {
      try {
        ca.push(readFileSync(config.tlsCert, 'utf8'));
      } catch {
        // no certificate file of our own: the system roots decide
      }
    }
    tls.ca = ca;
    tls.rejectUnauthorized = true;
    const servername = isIP(host) === 0 ? host : config?.hostname;
    if (servername !== undefined) tls.servername = servername;
  }
  return { host, port, implicitTls, requireTls: !loopback, tls };
}
