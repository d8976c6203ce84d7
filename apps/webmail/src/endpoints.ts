/**
 * Where the webmail logs in on the user's behalf: `webmail.imap` / `webmail.smtp` when set,
 * else our own listeners (STARTTLS ones first: they are the ones the development profile allows
 * without TLS on loopback). A listener on a wildcard address is reached over loopback.
 *
 * Certificates: on loopback nothing can sit between us and the server, so the self-signed
 * development certificate is accepted there; elsewhere the server must present a certificate
 * that verifies against the system roots or the configured certificate file.
 */
import { readFileSync } from 'node:fs';
import { rootCertificates, type ConnectionOptions } from 'node:tls';
import { isIP } from 'node:net';
import { splitHostPort, type Config } from '@postern/core';

export interface Endpoint {
  host: string;
  port: number;
  /** true: TLS from the first byte (993/465); false: STARTTLS when offered. */
  implicitTls: boolean;
  /** Refuse to authenticate without TLS (everywhere except loopback). */
  requireTls: boolean;
  tls: ConnectionOptions;
}

const IMPLICIT_TLS_PORTS = new Set([993, 465]);

function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

function endpoint(value: string, implicitTls: boolean, config: Config): Endpoint {
  let { host, port } = splitHostPort(value);
  if (host === '0.0.0.0') host = '127.0.0.1';
  if (host === '::') host = '::1';
  const loopback = isLoopbackHost(host);
  const tls: ConnectionOptions = { minVersion: 'TLSv1.2' };
  if (loopback) {
    tls.rejectUnauthorized = false;
  } else {
    let ca: string[] = [...rootCertificates];
    try {
      ca = [...ca, readFileSync(config.tlsCert, 'utf8')];
    } catch {
      // no local certificate file: the system roots alone decide
    }
    tls.ca = ca;
    tls.rejectUnauthorized = true;
    tls.servername = isIP(host) ? config.hostname : host;
  }
  return { host, port, implicitTls, requireTls: !loopback, tls };
}

function pick(config: Config, override: string | undefined, starttls: string | undefined, implicit: string | undefined, keys: string): Endpoint {
  if (override) return endpoint(override, IMPLICIT_TLS_PORTS.has(splitHostPort(override).port), config);
  if (starttls) return endpoint(starttls, false, config);
  if (implicit) return endpoint(implicit, true, config);
  throw new Error(`nowhere to connect: set ${keys}`);
}

export function imapEndpoint(config: Config): Endpoint {
  return pick(config, config.webmail.imap, config.listen.imap, config.listen.imaps, 'webmail.imap, listen.imap or listen.imaps');
}

export function smtpEndpoint(config: Config): Endpoint {
  return pick(config, config.webmail.smtp, config.listen.submission, config.listen.submissions, 'webmail.smtp, listen.submission or listen.submissions');
}
