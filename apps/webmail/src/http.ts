/**
 * HTTP plumbing without a framework: cookies, bounded request bodies, forms (urlencoded and
 * multipart, parsed by Node's own fetch implementation), and the replies a handler may return.
 * Replies are data; `server.ts` is the one place that writes them.
 */
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import type { Readable } from 'node:stream';
import { plainIp } from '@postern/core';
import { plainName, type Html } from './html.js';

/** A refusal meant for the user: the status and a sentence saying why. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export interface Cookie {
  name: string;
  value: string;
  /** Seconds; 0 deletes the cookie. Absent: a browser-session cookie. */
  maxAge?: number;
  secure: boolean;
}

export type Reply =
  | { kind: 'html'; status?: number; body: Html; cookies?: Cookie[]; csp?: string; frameable?: boolean }
  | { kind: 'redirect'; location: string; cookies?: Cookie[] }
  | { kind: 'json'; status?: number; body: unknown }
  | { kind: 'file'; contentType: string; body: Buffer; cacheSeconds: number }
  | {
      kind: 'download';
      contentType: string;
      filename: string;
      /** true: shown in the page (an inline image); false: saved by the browser. */
      inline: boolean;
      stream: Readable;
    }
  /** The handler wrote the response itself (server-sent events). */
  | { kind: 'handled' };

export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!header) return out;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i <= 0) continue;
    const name = part.slice(0, i).trim();
    const value = part.slice(i + 1).trim();
    if (name !== '' && !out.has(name)) out.set(name, value);
  }
  return out;
}

/** RFC 6265 §4.1; always HttpOnly, SameSite=Strict and Path=/. */
export function serializeCookie(c: Cookie): string {
  let s = `${c.name}=${c.value}; Path=/; HttpOnly; SameSite=Strict`;
  if (c.maxAge !== undefined) s += `; Max-Age=${Math.max(0, Math.floor(c.maxAge))}`;
  if (c.secure) s += '; Secure';
  return s;
}

/** Is the peer one of `webmail.trusted_proxies`? Only such a peer is believed about X-Forwarded-*. */
function fromTrustedProxy(req: IncomingMessage, trustedProxies: readonly string[]): boolean {
  return trustedProxies.includes(plainIp(req.socket.remoteAddress ?? ''));
}

/**
 * Is the page served over HTTPS? Directly (a TLS socket), or through a trusted reverse proxy
 * that says so in X-Forwarded-Proto.
 */
export function isSecureRequest(req: IncomingMessage, trustedProxies: readonly string[]): boolean {
  if ((req.socket as { encrypted?: boolean }).encrypted) return true;
  const proto = req.headers['x-forwarded-proto'];
  return fromTrustedProxy(req, trustedProxies) && typeof proto === 'string' && proto.split(',')[0]?.trim() === 'https';
}

/**
 * The client's address, which the login throttle keys on: the socket peer; behind a trusted
 * proxy, the address that proxy saw (X-Forwarded-For read from the right, skipping our own
 * trusted proxies; entries further left were written by the client and prove nothing).
 */
export function clientIp(req: IncomingMessage, trustedProxies: readonly string[]): string {
  const peer = plainIp(req.socket.remoteAddress ?? '');
  const fwd = req.headers['x-forwarded-for'];
  if (!fromTrustedProxy(req, trustedProxies) || typeof fwd !== 'string') return peer;
  const hops = fwd.split(',').map((h) => plainIp(h.trim()));
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!;
    if (isIP(hop) === 0) return peer; // not an address: believe nothing of this header
    if (!trustedProxies.includes(hop)) return hop;
  }
  return peer;
}

/**
 * Reads the request body, at most `limit` bytes. A longer body is drained (so the reply can
 * still be read by the browser) and refused with 413.
 */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? '0');
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = declared > limit;
  for await (const chunk of req) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > limit) tooLarge = true;
    if (!tooLarge) chunks.push(b);
  }
  if (tooLarge) throw new HttpError(413, `The request is larger than ${formatBytes(limit)}.`);
  return Buffer.concat(chunks);
}

/** The fields and files of a POST body (application/x-www-form-urlencoded or multipart/form-data). */
export async function readForm(req: IncomingMessage, limit: number): Promise<FormData> {
  const type = req.headers['content-type'] ?? '';
  const body = await readBody(req, limit);
  if (!/^(application\/x-www-form-urlencoded|multipart\/form-data)\b/i.test(type)) {
    throw new HttpError(415, 'Expected a form.');
  }
  try {
    return await new Request('http://webmail.invalid/', { method: 'POST', headers: { 'content-type': type }, body }).formData();
  } catch {
    throw new HttpError(400, 'The form could not be read.');
  }
}

/** One text field of a form ('' when absent or when it is a file). */
export function field(form: FormData, name: string): string {
  const v = form.get(name);
  return typeof v === 'string' ? v : '';
}

/** Every text value of a repeated field. */
export function fields(form: FormData, name: string): string[] {
  return form.getAll(name).filter((v): v is string => typeof v === 'string');
}

/** The uploaded, non-empty files of a field. */
export type Upload = Exclude<ReturnType<FormData['get']>, string | null>;

export function files(form: FormData, name: string): Upload[] {
  return form.getAll(name).filter((v): v is Upload => typeof v !== 'string' && v.size > 0 && v.name !== '');
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${Math.round(n / 1024)} KB`;
  return `${(n / (1024 * 1024)).toFixed(n < 10 * 1024 * 1024 ? 1 : 0)} MB`;
}

/** RFC 6266 §4.3: a filename parameter that every browser reads, ASCII fallback plus UTF-8. */
export function contentDisposition(kind: 'inline' | 'attachment', name: string): string {
  // the saved file must not be disguised by direction controls either
  const filename = plainName(name);
  const ascii = filename.replace(/[^\x20-\x7e]|["\\]/g, '_');
  const utf8 = encodeURIComponent(filename).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${utf8}`;
}

/**
 * Where to go after an action: only a path on this site (`/list?...`), never another origin
 * (`//evil`, `https://evil`, `/\evil`).
 */
export function safeReturnPath(value: string, fallback: string): string {
  return /^\/(?![/\\])[\x21-\x7e]*$/.test(value) ? value : fallback;
}
