/**
 * DANE for SMTP (RFC 7672): TLSA records (RFC 6698) of an MX host, believed only when a
 * validating resolver says they are authentic (the AD bit, RFC 4035 §3.2.3) and only from a
 * resolver on this machine (loopback), where nobody can set that bit on the way (RFC 7672 §1.3,
 * RFC 6698 §4.1: the path to the resolver must be trusted).
 *
 * Invariants:
 * - Only DANE-TA(2) and DANE-EE(3) records count (RFC 7672 §3.1.3: PKIX-TA/EE are unusable for
 *   SMTP); DANE-EE matches the server's certificate or key alone, with no name or date checks
 *   (§3.1.1); DANE-TA needs the chain from the leaf to the matched certificate and the MX host's
 *   name in the leaf (§3.2.2).
 * - A lookup that fails (SERVFAIL, which is also what a validating resolver says for bogus data,
 *   or no answer) is `lookup-failed`: the caller must not use that host (RFC 7672 §2.2).
 */
import { X509Certificate, createHash } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { isIP } from 'node:net';
import dnsPacket from 'dns-packet';

export interface TlsaRecord {
  usage: number;
  selector: number;
  matchingType: number;
  data: Buffer;
}

export type SecureAnswer =
  /** `secure`: the AD bit was set. */
  | { kind: 'answer'; secure: boolean; answers: dnsPacket.Answer[] }
  /** NXDOMAIN or NODATA; `secure`: the denial itself was authenticated. */
  | { kind: 'none'; secure: boolean }
  | { kind: 'lookup-failed'; reason: string };

export interface ValidatingResolver {
  host: string;
  port: number;
  timeoutMs: number;
}

/** The first of `dns.servers` when it is on loopback; null (DANE off) otherwise. */
export function validatingResolverOf(servers: readonly string[], timeoutMs: number): ValidatingResolver | null {
  const first = servers[0];
  if (!first) return null;
  const m = /^\[?([0-9a-fA-F:.]+?)\]?(?::(\d+))?$/.exec(first);
  const host = m?.[1] ?? '';
  if (isIP(host) === 0) return null;
  const loopback = host === '::1' || host.startsWith('127.');
  return loopback ? { host, port: m?.[2] ? Number(m[2]) : 53, timeoutMs } : null;
}

/** One query with RD, AD (RFC 6840 §5.7: ask for the AD bit) and EDNS0's DO bit. */
export function secureQuery(resolver: ValidatingResolver, name: string, type: dnsPacket.RecordType): Promise<SecureAnswer> {
  const id = Math.floor(Math.random() * 65_536);
  const query = dnsPacket.encode({
    type: 'query',
    id,
    flags: dnsPacket.RECURSION_DESIRED | dnsPacket.AUTHENTIC_DATA,
    questions: [{ type, name, class: 'IN' }],
    additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 4096, flags: dnsPacket.DNSSEC_OK } as unknown as dnsPacket.Answer],
  });
  return new Promise((resolve) => {
    const socket = createSocket(isIP(resolver.host) === 6 ? 'udp6' : 'udp4');
    const done = (r: SecureAnswer): void => {
      clearTimeout(timer);
      socket.close();
      resolve(r);
    };
    const timer = setTimeout(
      () => done({ kind: 'lookup-failed', reason: `no answer from ${resolver.host}:${resolver.port} for ${name} ${type}` }),
      resolver.timeoutMs,
    );
    socket.on('error', (err) => done({ kind: 'lookup-failed', reason: err.message }));
    socket.on('message', (msg) => {
      let p: dnsPacket.Packet;
      try {
        p = dnsPacket.decode(msg);
      } catch {
        return;
      }
      if (p.id !== id) return;
      const secure = ((p.flags ?? 0) & dnsPacket.AUTHENTIC_DATA) !== 0;
      const rcode = (p as { rcode?: string }).rcode ?? 'NOERROR';
      if (((p.flags ?? 0) & dnsPacket.TRUNCATED_RESPONSE) !== 0) return done({ kind: 'lookup-failed', reason: `truncated answer for ${name} ${type}` });
      if (rcode === 'NXDOMAIN') return done({ kind: 'none', secure });
      if (rcode !== 'NOERROR') return done({ kind: 'lookup-failed', reason: `${rcode} for ${name} ${type}` });
      const answers = (p.answers ?? []).filter((a) => a.type === type);
      done(answers.length === 0 ? { kind: 'none', secure } : { kind: 'answer', secure, answers });
    });
    socket.send(query, resolver.port, resolver.host);
  });
}

export type TlsaLookup =
  /** Authentic records, of which `usable` are DANE-TA/EE: verify against those. */
  | { kind: 'dane'; usable: TlsaRecord[]; all: number }
  /** Not signed, or authentically absent: DANE does not apply to this host. */
  | { kind: 'none'; why: string }
  | { kind: 'lookup-failed'; reason: string };

/** The TLSA records of `_<port>._tcp.<host>` (RFC 7672 §2.2.3). */
export async function lookupTlsa(resolver: ValidatingResolver, host: string, port: number): Promise<TlsaLookup> {
  const r = await secureQuery(resolver, `_${port}._tcp.${host}`, 'TLSA');
  if (r.kind === 'lookup-failed') return r;
  if (r.kind === 'none') return { kind: 'none', why: r.secure ? 'no TLSA records (authenticated denial)' : 'no TLSA records' };
  if (!r.secure) return { kind: 'none', why: 'TLSA records not signed (no AD bit)' };
  const all = r.answers.map((a) => {
    const d = (a as dnsPacket.TlsaAnswer).data;
    return { usage: d.usage, selector: d.selector, matchingType: d.matchingType, data: Buffer.from(d.certificate) };
  });
  return { kind: 'dane', usable: all.filter((t) => (t.usage === 2 || t.usage === 3) && t.selector <= 1 && t.matchingType <= 2), all: all.length };
}

/** Whether the MX RRset of `domain` is authentic (RFC 7672 §2.2.1: else the MX names prove nothing). */
export async function mxIsSecure(resolver: ValidatingResolver, domain: string): Promise<boolean> {
  const r = await secureQuery(resolver, domain, 'MX');
  return r.kind === 'answer' && r.secure;
}

function associationOf(cert: X509Certificate, selector: number, matchingType: number): Buffer {
  const data = selector === 0 ? cert.raw : cert.publicKey.export({ type: 'spki', format: 'der' });
  if (matchingType === 1) return createHash('sha256').update(data).digest();
  if (matchingType === 2) return createHash('sha512').update(data).digest();
  return data;
}

/** The record `postern dns` publishes for a certificate: DANE-EE, SPKI, SHA-256 ("3 1 1"). */
export function tlsaOf(certPem: string | Buffer): string {
  const cert = new X509Certificate(certPem);
  return `3 1 1 ${associationOf(cert, 1, 1).toString('hex')}`;
}

/**
 * Checks the chain a server presented (leaf first, DER) against usable TLSA records.
 * Returns null on a match, else why not.
 */
export function daneMismatch(records: readonly TlsaRecord[], chain: readonly Buffer[], hostname: string): string | null {
  const certs = chain.map((der) => new X509Certificate(der));
  const leaf = certs[0];
  if (!leaf) return 'no certificate presented';
  for (const r of records) {
    if (r.usage === 3 && associationOf(leaf, r.selector, r.matchingType).equals(r.data)) return null;
    if (r.usage === 2) {
      for (let i = 1; i < certs.length; i++) {
        if (!associationOf(certs[i]!, r.selector, r.matchingType).equals(r.data)) continue;
        // the leaf must chain to the trust anchor, and name the MX host (§3.2.2)
        let chained = true;
        for (let j = 0; j < i; j++) if (!certs[j]!.verify(certs[j + 1]!.publicKey)) chained = false;
        if (chained && leaf.checkHost(hostname) !== undefined) return null;
      }
    }
  }
  return `the certificate of ${hostname} matches none of its ${records.length} TLSA record(s)`;
}
