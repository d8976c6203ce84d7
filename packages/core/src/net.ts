/**
 * Facts about a peer's address that every protocol's policy needs. One definition, so that
 * "loopback" means the same thing for SMTP AUTH, IMAP LOGIN, POP3 and the webmail.
 */
import { isIPv4 } from 'node:net';
import type { Config } from './config.js';

/** The address without an IPv4-mapped IPv6 prefix (`::ffff:127.0.0.1` -> `127.0.0.1`). */
export function plainIp(ip: string): string {
  return ip.startsWith('::ffff:') ? ip.slice(7) : ip;
}

/** 127.0.0.0/8 or ::1, also when IPv4-mapped. */
export function isLoopback(ip: string): boolean {
  const v4 = plainIp(ip);
  return ip === '::1' || (isIPv4(v4) && v4.startsWith('127.'));
}

/**
 * A host to connect to that is this machine: a loopback address, or the name "localhost"
 * (RFC 6761 §6.3: it always resolves to loopback). A name that merely starts with "127." is not.
 */
export function isLoopbackHost(host: string): boolean {
  return host.toLowerCase() === 'localhost' || isLoopback(host);
}

/**
 * May a password travel on this connection? Only over TLS (RFC 8314, RFC 4954 §4, RFC 9051
 * §11.1); the development profile also allows loopback in the clear.
 */
export function passwordAllowed(config: Pick<Config, 'profile'>, secure: boolean, remoteIp: string): boolean {
  return secure || (config.profile === 'development' && isLoopback(remoteIp));
}
