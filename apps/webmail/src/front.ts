/**
 * The web ports: HTTPS (`listen.https`, 443) and plain HTTP (`listen.http`, 80), and the ACME
 * certificates (RFC 8555) they prove.
 *
 * Why here: the webmail is already the one app with an HTTP server (sessions, Secure cookies,
 * HSTS); the Apple profile is a download for a logged-in user of it; and ACME's TLS-ALPN-01 must
 * be answered on the same socket that serves HTTPS. A separate app would have to proxy the
 * webmail (and be believed about X-Forwarded-For); an app never imports another.
 *
 * HTTPS serves, by the Host it is asked for, nothing but:
 * - `mta-sts.<domain>`: `/.well-known/mta-sts.txt`, the policy `postern dns` prints (RFC 8461 §3.3);
 * - `/mail/config-v1.1.xml` and `/.well-known/autoconfig/mail/config-v1.1.xml` (Thunderbird);
 * - `/autodiscover/autodiscover.xml` (Outlook, POX);
 * - everything else on any other name: the webmail.
 * HTTP answers HTTP-01 tokens (RFC 8555 §8.3) and redirects everything else to HTTPS.
 */
import { join } from 'node:path';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo, Server as NetServer } from 'node:net';
import { CertificateManager, Challenges, alpnFront, havePair, type ChallengeType } from '@postern/acme';
import { SERVER_TLS, TlsMaterial, openMailDb, reloadTlsOnConnection, splitHostPort, type Config, type Logger, type MailDb } from '@postern/core';
import { mtaStsPolicy } from '@postern/trust';
import { autodiscoverAddress, outlookAutodiscover, thunderbirdAutoconfig } from './wellknown/clientconfig.js';

export interface WebFront {
  httpsPort: number | null;
  httpPort: number | null;
  /** The certificate keeper, when `acme.directory` is set. */
  acme: CertificateManager | null;
  close(): Promise<void>;
}

export interface FrontOptions {
  logger: Logger;
  /** Injected for renewal tests. */
  clock?: () => number;
}

/** The names of one domain that the web certificate carries (RFC 8461 §3.3; the autoconfig CNAMEs `postern dns` prints). */
export function webNames(domain: string): string[] {
  return [`mta-sts.${domain}`, `autoconfig.${domain}`, `autodiscover.${domain}`];
}

const AUTOCONFIG_PATHS = new Set(['/mail/config-v1.1.xml', '/.well-known/autoconfig/mail/config-v1.1.xml']);
const AUTODISCOVER_PATH = '/autodiscover/autodiscover.xml';
/** An autodiscover request is a few hundred bytes. */
const AUTODISCOVER_LIMIT = 16 * 1024;

function requestHost(req: IncomingMessage): string {
  return (req.headers.host ?? '').replace(/:\d+$/, '').replace(/\.$/, '').toLowerCase();
}

function answer(res: ServerResponse, status: number, type: string, body: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', type);
  res.setHeader('Cache-Control', status === 200 ? 'max-age=3600' : 'no-store');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.end(body);
}

async function readBody(req: IncomingMessage, limit: number): Promise<string | null> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) return null;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function listen(server: NetServer | HttpServer, value: string): Promise<number> {
  const { host, port } = splitHostPort(value);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

export async function startFront(config: Config, webmail: (req: IncomingMessage, res: ServerResponse) => void, o: FrontOptions): Promise<WebFront> {
  const { logger } = o;
  let mail: MailDb | null = null;
  let cached: { at: number; domains: string[] } | null = null;
  /** The local domains, re-read at most once a minute (a domain added is served within that). */
  const domains = (): string[] => {
    const now = Date.now();
    if (cached && now - cached.at < 60_000) return cached.domains;
    mail ??= openMailDb(config);
    cached = { at: now, domains: mail.accounts.listDomains().map((d) => d.name.toLowerCase()) };
    return cached.domains;
  };
  const isLocal = (d: string): boolean => domains().includes(d);

  const challenges = new Challenges();
  const webCert = join(config.dataDir, 'acme', 'web-cert.pem');
  const webKey = join(config.dataDir, 'acme', 'web-key.pem');
  let acme: CertificateManager | null = null;
  if (config.acme.directory !== '') {
    const types: ChallengeType[] = [];
    if (config.listen.https) types.push('tls-alpn-01');
    if (config.listen.http) types.push('http-01');
    acme = new CertificateManager({
      directory: config.acme.directory,
      email: config.acme.email,
      ca: config.acme.ca,
      stateDir: join(config.dataDir, 'acme'),
      certificates: [
        // the pair every app serves ([tls]); the web names apart, so a domain whose mta-sts or
        // autoconfig name is not in DNS yet never holds up the mail host's certificate
        { id: 'host', names: () => [config.hostname], certPath: config.tlsCert, keyPath: config.tlsKey },
        { id: 'web', names: () => domains().flatMap(webNames), certPath: webCert, keyPath: webKey },
      ],
      challengeTypes: types,
      challenges,
      logger,
      ...(o.clock ? { clock: o.clock } : {}),
    });
  }

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const host = requestHost(req);
    const path = new URL(req.url ?? '/', 'https://front.invalid').pathname;
    const url = new URL(req.url ?? '/', 'https://front.invalid');
    const sub = /^(mta-sts|autoconfig|autodiscover)\.(.+)$/.exec(host);
    const subDomain = sub && isLocal(sub[2]!) ? sub[2]! : null;
    if (sub?.[1] === 'mta-sts' && subDomain) {
      if (path === '/.well-known/mta-sts.txt' && (req.method === 'GET' || req.method === 'HEAD')) {
        answer(res, 200, 'text/plain; charset=utf-8', mtaStsPolicy(config));
      } else answer(res, 404, 'text/plain; charset=utf-8', 'not found\n');
      return;
    }
    if (AUTOCONFIG_PATHS.has(path)) {
      // Thunderbird names the address (?emailaddress=); on autoconfig.<domain> the host says it too
      const asked = url.searchParams.get('emailaddress');
      const domain = asked?.includes('@') ? asked.slice(asked.lastIndexOf('@') + 1).toLowerCase() : subDomain;
      if (domain && isLocal(domain)) answer(res, 200, 'application/xml; charset=utf-8', thunderbirdAutoconfig(config, domain));
      else answer(res, 404, 'text/plain; charset=utf-8', 'no such domain here\n');
      return;
    }
    if (path.toLowerCase() === AUTODISCOVER_PATH) {
      void readBody(req, AUTODISCOVER_LIMIT).then(
        (body) => {
          const address = body === null ? null : autodiscoverAddress(body);
          const domain = address ? address.slice(address.lastIndexOf('@') + 1).toLowerCase() : null;
          if (req.method !== 'POST' || !address) answer(res, 400, 'text/plain; charset=utf-8', 'POST an Autodiscover request naming an EMailAddress\n');
          else if (!domain || !isLocal(domain)) answer(res, 404, 'text/plain; charset=utf-8', 'no such domain here\n');
          else answer(res, 200, 'application/xml; charset=utf-8', outlookAutodiscover(config, address));
        },
        () => res.destroy(),
      );
      return;
    }
    if (sub && subDomain) {
      answer(res, 404, 'text/plain; charset=utf-8', 'not found\n');
      return;
    }
    webmail(req, res);
  };

  let https: HttpsServer | null = null;
  let tcp: NetServer | null = null;
  let http: HttpServer | null = null;
  let httpsPort: number | null = null;
  let httpPort: number | null = null;
  if (config.listen.https) {
    const hostTls = new TlsMaterial(config.tlsCert, config.tlsKey);
    let webTls: TlsMaterial | null = null;
    https = createHttpsServer(
      {
        ...SERVER_TLS,
        ...hostTls.current,
        ALPNProtocols: ['http/1.1'],
        SNICallback: (name, cb) => {
          const sub = /^(?:mta-sts|autoconfig|autodiscover)\.(.+)$/.exec(name.toLowerCase());
          if (sub && isLocal(sub[1]!) && (webTls || havePair(webCert, webKey))) {
            webTls ??= new TlsMaterial(webCert, webKey);
            webTls.sniCallback(name, cb);
          } else hostTls.sniCallback(name, cb);
        },
        requestTimeout: 5 * 60_000,
        headersTimeout: 30_000,
      },
      handle,
    );
    https.keepAliveTimeout = 30_000;
    const server = https;
    // a client without SNI gets the default context: kept current as smtp-server's is
    reloadTlsOnConnection({ server, updateSecureContext: (files) => server.setSecureContext({ ...SERVER_TLS, ...files }) }, hostTls);
    tcp = alpnFront(https, challenges);
    httpsPort = await listen(tcp, config.listen.https);
  }
  if (config.listen.http) {
    const httpsPublic = config.listen.https ? splitHostPort(config.listen.https).port : null;
    http = createHttpServer({ requestTimeout: 30_000, headersTimeout: 30_000 }, (req, res) => {
      const path = new URL(req.url ?? '/', 'http://front.invalid').pathname;
      const token = challenges.httpAnswer(path);
      if (token !== null) return answer(res, 200, 'text/plain', token);
      if (httpsPublic === null) return answer(res, 404, 'text/plain; charset=utf-8', 'not found\n');
      const host = requestHost(req) || config.hostname;
      res.statusCode = 301;
      res.setHeader('Location', `https://${host}${httpsPublic === 443 ? '' : `:${httpsPublic}`}${req.url ?? '/'}`);
      res.end();
    });
    httpPort = await listen(http, config.listen.http);
  }
  logger.info({ https: config.listen.https ?? null, http: config.listen.http ?? null, acme: config.acme.directory || null }, 'web ports listening');
  acme?.start();
  return {
    httpsPort,
    httpPort,
    acme,
    async close(): Promise<void> {
      await acme?.stop();
      https?.closeAllConnections();
      http?.closeAllConnections();
      await Promise.all([tcp, http].map((s) => (s ? new Promise<void>((r) => s.close(() => r())) : Promise.resolve())));
      mail?.close();
    },
  };
}
