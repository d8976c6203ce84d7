/**
 * TLS-ALPN-01 (RFC 8737) on the HTTPS port. The CA connects with ALPN `acme-tls/1` and must be
 * shown a self-signed certificate carrying the key authorization's digest; every other client on
 * the same port must get the real certificate (RFC 8737 §3: that certificate "MUST NOT" be used
 * for other protocols). Node picks the certificate (SNI) before it sees the ALPN list, so the
 * front reads the ClientHello first, looks for `acme-tls/1`, and hands the socket, bytes put
 * back, to the challenge responder or to the HTTPS server.
 */
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type SecureContext, type Server as TlsServer } from 'node:tls';

export const ACME_TLS_ALPN = 'acme-tls/1';

/** What the CA is to be shown while an order is pending. */
export class Challenges {
  /** HTTP-01 (RFC 8555 §8.3): token -> key authorization. */
  readonly http = new Map<string, string>();
  /** TLS-ALPN-01 (RFC 8737 §3): lower-case name -> the context holding its challenge certificate. */
  readonly alpn = new Map<string, SecureContext>();

  /** The body for GET /.well-known/acme-challenge/<token>, or null. */
  httpAnswer(path: string): string | null {
    const m = /^\/\.well-known\/acme-challenge\/([A-Za-z0-9_-]+)$/.exec(path);
    return m ? (this.http.get(m[1]!) ?? null) : null;
  }
}

/**
 * The protocols a ClientHello offers (RFC 8446 §4.1.2, RFC 7301 §3.1): null while the first
 * record is still incomplete; [] when it is no ClientHello or offers none.
 */
export function offeredAlpn(data: Buffer): string[] | null {
  if (data.length < 5) return null;
  if (data[0] !== 22) return []; // not a handshake record
  const recordEnd = 5 + data.readUInt16BE(3);
  if (data.length < recordEnd) return null;
  const hello = data.subarray(5, recordEnd);
  // handshake type 1 (client_hello), 3-byte length, version 2, random 32
  if (hello[0] !== 1 || hello.length < 38) return [];
  let i = 38;
  const need = (n: number): boolean => i + n <= hello.length;
  if (!need(1)) return [];
  i += 1 + hello[i]!; // session id
  if (!need(2)) return [];
  i += 2 + hello.readUInt16BE(i); // cipher suites
  if (!need(1)) return [];
  i += 1 + hello[i]!; // compression methods
  if (!need(2)) return [];
  const extEnd = Math.min(hello.length, i + 2 + hello.readUInt16BE(i));
  i += 2;
  while (i + 4 <= extEnd) {
    const type = hello.readUInt16BE(i);
    const len = hello.readUInt16BE(i + 2);
    i += 4;
    if (type === 16 && i + 2 <= extEnd) {
      // application_layer_protocol_negotiation: a 2-byte list length, then 1-byte-length names
      const out: string[] = [];
      let j = i + 2;
      const end = Math.min(extEnd, i + len);
      while (j < end) {
        const n = hello[j]!;
        out.push(hello.subarray(j + 1, j + 1 + n).toString('latin1'));
        j += 1 + n;
      }
      return out;
    }
    i += len;
  }
  return [];
}

/** Longest ClientHello record we wait for (RFC 8446 §5.1: 2^14 plus the header). */
const MAX_RECORD = 16_384 + 5;
/** A client that sends no ClientHello within this is dropped (it holds a socket, nothing else). */
const HELLO_TIMEOUT = 10_000;

/**
 * A TCP server for the HTTPS port: each connection goes to `https` unless its ClientHello asks for
 * `acme-tls/1`, which gets the pending challenge certificate of the name it asked for (SNI).
 */
export function alpnFront(https: TlsServer, challenges: Challenges): NetServer {
  const responder = createTlsServer({
    ALPNProtocols: [ACME_TLS_ALPN],
    SNICallback: (name, cb) => {
      const ctx = challenges.alpn.get(name.toLowerCase());
      if (ctx) cb(null, ctx);
      else cb(new Error(`no TLS-ALPN-01 challenge pending for ${name}`));
    },
  });
  // The CA only needs the handshake (RFC 8737 §3); nothing is said after it.
  responder.on('secureConnection', (s) => s.end());
  responder.on('tlsClientError', () => undefined);
  return createNetServer((socket: Socket) => {
    let seen = Buffer.alloc(0);
    const timer = setTimeout(() => socket.destroy(), HELLO_TIMEOUT);
    const onData = (chunk: Buffer): void => {
      seen = Buffer.concat([seen, chunk]);
      const alpn = offeredAlpn(seen);
      if (alpn === null && seen.length < MAX_RECORD) return;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', onError);
      socket.pause();
      socket.unshift(seen);
      (alpn?.includes(ACME_TLS_ALPN) ? responder : https).emit('connection', socket);
    };
    const onError = (): void => {
      clearTimeout(timer);
      socket.destroy();
    };
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', () => clearTimeout(timer));
  });
}
