/**
 * Obtaining and renewing certificates from an ACME CA (RFC 8555) with acme-client.
 *
 * Invariants:
 * - A certificate is written only whole: key and certificate each to a temporary file, then
 *   renamed into place, so a reader (TlsMaterial in every app) sees the old pair or the new one;
 *   a half-renamed pair fails TlsMaterial's key check and the old context stays in use.
 * - A certificate is renewed when a third of its lifetime is left, when it does not name every
 *   wanted name, or when it is self-signed (what `postern init` made before the first order).
 * - The private key in place is reused for the renewal, so what pins it (DANE 3 1 1) stays valid.
 * - A failed order is retried after a growing pause (5 minutes, doubling, at most a day); the
 *   certificate in place keeps being served meanwhile. The clock is injected.
 */
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { dirname, join } from 'node:path';
import { createSecureContext, rootCertificates } from 'node:tls';
import acme from 'acme-client';
import type { Logger } from '@postern/core';
import type { Challenges } from './alpn.js';

export type ChallengeType = 'tls-alpn-01' | 'http-01';

/** One certificate to keep: its names (the first is the subject) and where its pair lives. */
export interface CertificateSpec {
  /** For logs: "host", "web". */
  id: string;
  /** Read at every check, so a domain added later is in the next order. */
  names: () => string[];
  certPath: string;
  keyPath: string;
}

export interface AcmeOptions {
  directory: string;
  /** The account's contact; "" = none. */
  email: string;
  /** PEM file of a CA that signed the ACME server's HTTPS certificate; "" = the system's roots. */
  ca: string;
  /** Where the account key is kept. */
  stateDir: string;
  certificates: CertificateSpec[];
  /** In order of preference; each authorization uses the first one the CA offers. */
  challengeTypes: ChallengeType[];
  challenges: Challenges;
  logger: Logger;
  clock?: () => number;
}

export interface CertificateState {
  id: string;
  names: string[];
  notBefore: number | null;
  notAfter: number | null;
  /** When the next order is due (ms since the epoch). */
  due: number;
  failures: number;
  lastError: string;
}

export type CheckResult = 'fresh' | 'issued' | 'failed' | 'waiting';

const BACKOFF_INITIAL = 5 * 60_000;
const BACKOFF_MAX = 24 * 3_600_000;
/** How often the timer looks even when nothing is due: a domain added meanwhile needs its names. */
const LOOK_EVERY = 3_600_000;

/** Why `certPem` must be replaced now, or null; and when it will be due otherwise. */
export function renewal(
  certPem: Buffer | null,
  names: readonly string[],
  now: number,
): { reason: string | null; due: number; notBefore: number | null; notAfter: number | null } {
  if (!certPem) return { reason: 'no certificate yet', due: now, notBefore: null, notAfter: null };
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch {
    return { reason: 'the certificate file does not parse', due: now, notBefore: null, notAfter: null };
  }
  const notBefore = Date.parse(cert.validFrom);
  const notAfter = Date.parse(cert.validTo);
  // renew with a third of the lifetime left (as certbot and mox do, and Let's Encrypt asks)
  const due = notAfter - (notAfter - notBefore) / 3;
  const base = { notBefore, notAfter, due };
  if (cert.checkIssued(cert)) return { ...base, reason: 'self-signed', due: now };
  const has = new Set(
    (cert.subjectAltName ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.startsWith('DNS:'))
      .map((s) => s.slice(4).toLowerCase()),
  );
  const missing = names.filter((n) => !has.has(n.toLowerCase()));
  if (missing.length > 0) return { ...base, reason: `does not name ${missing.join(', ')}`, due: now };
  if (now >= due) return { ...base, reason: 'a third of its lifetime is left' };
  return { ...base, reason: null };
}

function writeWhole(path: string, data: string | Buffer, mode: number): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, data, { mode });
  renameSync(tmp, path);
}

function readOrNull(path: string): Buffer | null {
  try {
    return readFileSync(path);
  } catch {
    return null;
  }
}

export class CertificateManager {
  private readonly clock: () => number;
  private readonly states = new Map<string, CertificateState>();
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<CheckResult[]> | null = null;
  private client: acme.Client | null = null;

  constructor(private readonly o: AcmeOptions) {
    this.clock = o.clock ?? Date.now;
    if (o.ca) acme.axios.defaults.httpsAgent = new Agent({ ca: [...rootCertificates, readFileSync(o.ca, 'utf8')] });
    // acme-client retries a refused connection itself, 5 times 5 s apart; our backoff does that
    (acme.axios.defaults as { acmeSettings?: { retryMaxAttempts: number } }).acmeSettings!.retryMaxAttempts = 0;
    acme.setLogger((msg) => o.logger.debug({ acme: msg }, 'acme-client'));
    for (const spec of o.certificates) {
      this.states.set(spec.id, { id: spec.id, names: [], notBefore: null, notAfter: null, due: 0, failures: 0, lastError: '' });
    }
  }

  status(): CertificateState[] {
    return [...this.states.values()].map((s) => ({ ...s, names: [...s.names] }));
  }

  private async accountClient(): Promise<acme.Client> {
    if (this.client) return this.client;
    const keyPath = join(this.o.stateDir, 'account-key.pem');
    let key = readOrNull(keyPath);
    if (!key) {
      key = await acme.crypto.createPrivateEcdsaKey('P-256');
      writeWhole(keyPath, key, 0o600);
    }
    const client = new acme.Client({ directoryUrl: this.o.directory, accountKey: key });
    try {
      // an account made by an earlier run (RFC 8555 §7.3.1); updating it with nothing new is refused by some CAs
      await client.createAccount({ onlyReturnExisting: true });
    } catch {
      await client.createAccount({ termsOfServiceAgreed: true, ...(this.o.email ? { contact: [`mailto:${this.o.email}`] } : {}) });
    }
    this.client = client;
    return client;
  }

  /** Orders every certificate that is due (each at most once at a time); the others are left alone. */
  check(): Promise<CheckResult[]> {
    if (this.running) return this.running;
    this.running = (async () => {
      const out: CheckResult[] = [];
      for (const spec of this.o.certificates) out.push(await this.checkOne(spec));
      return out;
    })().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async checkOne(spec: CertificateSpec): Promise<CheckResult> {
    const state = this.states.get(spec.id)!;
    const names = [...new Set(spec.names().map((n) => n.toLowerCase()))];
    const now = this.clock();
    const r = renewal(readOrNull(spec.certPath), names, now);
    state.names = names;
    state.notBefore = r.notBefore;
    state.notAfter = r.notAfter;
    if (names.length === 0) return 'fresh';
    if (r.reason === null) {
      state.due = r.due;
      return 'fresh';
    }
    // a failed order waits out its backoff even when the certificate is due
    if (state.failures > 0 && now < state.due) return 'waiting';
    const log = this.o.logger.child({ certificate: spec.id, names });
    log.info({ reason: r.reason }, 'ordering a certificate');
    try {
      // the key in place is kept (a DANE 3 1 1 TLSA record of it stays true across renewals,
      // RFC 7671 §8.1); a new one only when there is none or it is unusable
      const csrFor = async (k: Buffer): Promise<[Buffer, Buffer]> => await acme.crypto.createCsr({ commonName: names[0]!, altNames: names }, k);
      const existing = readOrNull(spec.keyPath);
      const [key, csr] = existing
        ? await csrFor(existing).catch(async () => await csrFor(await acme.crypto.createPrivateRsaKey(2048)))
        : await csrFor(await acme.crypto.createPrivateRsaKey(2048));
      const client = await this.accountClient();
      const pem = await client.auto({
        csr,
        email: this.o.email || undefined,
        termsOfServiceAgreed: true,
        // our responder is in this process: asking our own public address first proves nothing
        skipChallengeVerification: true,
        challengePriority: this.o.challengeTypes,
        challengeCreateFn: async (authz, challenge, keyAuthorization) => {
          // acme-client's types know http-01 and dns-01 only; tls-alpn-01 is RFC 8737's
          const type: string = challenge.type;
          if (type === 'http-01') this.o.challenges.http.set(challenge.token, keyAuthorization);
          else if (type === 'tls-alpn-01') {
            const [ckey, ccert] = await acme.crypto.createAlpnCertificate(authz, keyAuthorization);
            this.o.challenges.alpn.set(authz.identifier.value.toLowerCase(), createSecureContext({ key: ckey, cert: ccert }));
          }
        },
        challengeRemoveFn: async (authz, challenge) => {
          if (challenge.type === 'http-01') this.o.challenges.http.delete(challenge.token);
          else this.o.challenges.alpn.delete(authz.identifier.value.toLowerCase());
        },
      });
      // key first: until the certificate follows, the pair does not match and the old one stays in use
      writeWhole(spec.keyPath, key, 0o600);
      writeWhole(spec.certPath, pem, 0o644);
      const fresh = renewal(Buffer.from(pem), names, this.clock());
      state.notBefore = fresh.notBefore;
      state.notAfter = fresh.notAfter;
      state.due = fresh.due;
      state.failures = 0;
      state.lastError = '';
      log.info({ notAfter: fresh.notAfter === null ? null : new Date(fresh.notAfter).toISOString() }, 'certificate issued');
      return 'issued';
    } catch (err) {
      // look the account up again next time (newAccount with our key finds it, RFC 8555 §7.3.1)
      this.client = null;
      state.failures++;
      state.lastError = (err as Error).message;
      state.due = this.clock() + Math.min(BACKOFF_INITIAL * 2 ** (state.failures - 1), BACKOFF_MAX);
      log.warn({ err: state.lastError, failures: state.failures, retry: new Date(state.due).toISOString() }, 'certificate order failed');
      return 'failed';
    }
  }

  /** Checks now, then whenever something is due (and at least hourly). */
  start(): void {
    const loop = (): void => {
      void this.check().then(() => {
        if (this.timer === null) return;
        const next = Math.min(...[...this.states.values()].map((s) => s.due), this.clock() + LOOK_EVERY);
        this.timer = setTimeout(loop, Math.max(1000, Math.min(next - this.clock(), LOOK_EVERY)));
        this.timer.unref();
      });
    };
    this.timer = setTimeout(loop, 0);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
  }
}

/** Whether the pair at `certPath` exists (for callers that fall back to another certificate). */
export function havePair(certPath: string, keyPath: string): boolean {
  return existsSync(certPath) && existsSync(keyPath);
}
