/**
 * STARTTLS, LOGIN and AUTHENTICATE PLAIN, SCRAM-SHA-256 and SCRAM-SHA-256-PLUS (RFC 9051 §6.2,
 * RFC 4616, RFC 4959 SASL-IR, RFC 5802, RFC 7677; the exchange itself is core's scram.ts).
 * Logins only over TLS unless the development profile runs on loopback; failures are throttled
 * with the throttle shared by every login service of the process.
 */
import { ScramError, ScramServer, type LoginAttempt, type User } from '@postern/core';
import { continuation, type CommandOf } from '@postern/imap';
import { decodePlain } from '../../pop3/sasl.js';
import { bad, no, ok, type Reply } from '../reply.js';
import type { ImapSession } from '../session.js';

export function cmdStarttls(s: ImapSession): Reply {
  if (s.tls) throw bad('TLS is already active');
  return { status: 'OK', text: 'Begin TLS negotiation now', after: 'starttls' };
}

function requireTls(s: ImapSession): void {
  // RFC 9051 §6.2.3: with LOGINDISABLED advertised, LOGIN is refused.
  if (!s.loginAllowed) throw no('TLS required: use STARTTLS first', 'PRIVACYREQUIRED');
}

export async function cmdLogin(s: ImapSession, c: CommandOf<'LOGIN'>): Promise<Reply> {
  requireTls(s);
  return login(s, c.username, c.password);
}

export async function cmdAuthenticate(s: ImapSession, c: CommandOf<'AUTHENTICATE'>): Promise<Reply> {
  requireTls(s);
  const mechanism = c.mechanism.toUpperCase();
  if (mechanism === 'SCRAM-SHA-256' || mechanism === 'SCRAM-SHA-256-PLUS') return scram(s, mechanism.endsWith('-PLUS'), c.initialResponse);
  if (mechanism !== 'PLAIN') throw no(`unsupported mechanism ${c.mechanism}`, 'CANNOT');
  const response = c.initialResponse !== null ? (c.initialResponse === '=' ? '' : c.initialResponse) : await saslStep(s, '');
  const creds = decodePlain(response);
  if ('error' in creds) throw bad(creds.error);
  return login(s, creds.authcid, creds.password);
}

/** One SASL round: a continuation with `challenge` (base64), the client's line back (base64). */
async function saslStep(s: ImapSession, challenge: string): Promise<string> {
  await s.io.send(continuation(challenge));
  const line = await s.io.readLine();
  if (line === null) throw bad('authentication line too long or missing');
  const response = line.toString('latin1');
  // RFC 9051 §6.2.2: "*" cancels the exchange.
  if (response === '*') throw bad('authentication cancelled');
  return response;
}

const fromBase64 = (b64: string): string => {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) throw bad('invalid base64');
  return Buffer.from(b64, 'base64').toString('utf8');
};

/**
 * SCRAM (RFC 5802 §5): client-first, server-first, client-final, server-final, then the tagged
 * OK. The attempt is counted (the throttle) once the user name is known, before the proof is
 * checked. A user whose password is not usable by SCRAM (no keys yet, two-factor on) fails like
 * a wrong password.
 */
async function scram(s: ImapSession, plus: boolean, initialResponse: string | null): Promise<Reply> {
  const bindings = s.opts.channelBindings?.() ?? null;
  if (plus && !bindings) throw no('SCRAM-SHA-256-PLUS needs TLS', 'CANNOT');
  const exchange = new ScramServer(plus, bindings);
  let name: string;
  try {
    name = exchange.start(fromBase64(initialResponse !== null && initialResponse !== '=' ? initialResponse : await saslStep(s, '')));
  } catch (e) {
    if (e instanceof ScramError) throw no(e.message, 'AUTHENTICATIONFAILED');
    throw e;
  }
  const { throttle, accounts } = s.opts;
  const attempt = throttle.begin(s.clientIp, name, 'imap');
  if (!attempt) throw no('too many failed logins, try again later', 'UNAVAILABLE');
  const found = accounts.scramKeys(name);
  let serverFinal: string;
  try {
    const clientFinal = fromBase64(await saslStep(s, Buffer.from(exchange.challenge(found?.keys ?? null)).toString('base64')));
    serverFinal = exchange.finish(clientFinal, found !== null);
  } catch (e) {
    if (!(e instanceof ScramError)) {
      attempt.failed();
      throw e;
    }
    const delay = attempt.failed();
    s.log.info({ user: name, reason: e.message }, 'imap scram login failed');
    await s.opts.sleep(delay);
    throw no('authentication failed', 'AUTHENTICATIONFAILED');
  }
  // RFC 5802 §5: the server's proof; the client answers with an empty line
  const last = await saslStep(s, Buffer.from(serverFinal).toString('base64'));
  if (last !== '') throw bad('expected an empty response after the server-final-message');
  return loggedIn(s, found!.user, attempt);
}

async function login(s: ImapSession, name: string, password: string): Promise<Reply> {
  const { throttle, accounts } = s.opts;
  const remoteAddress = s.clientIp;
  const attempt = throttle.begin(remoteAddress, name, 'imap');
  if (!attempt) {
    s.log.warn({ user: name }, 'imap login refused: too many failures');
    throw no('too many failed logins, try again later', 'UNAVAILABLE');
  }
  const user = await accounts.authenticate(name, password, { protocol: 'imap' });
  if (!user) {
    const delay = attempt.failed();
    s.log.info({ user: name }, 'imap login failed');
    await s.opts.sleep(delay);
    throw no('invalid user name or password', 'AUTHENTICATIONFAILED');
  }
  return loggedIn(s, user, attempt);
}

/** The credentials were right: the session is the user's. */
async function loggedIn(s: ImapSession, user: User, attempt: LoginAttempt): Promise<Reply> {
  const { userConnections } = s.opts;
  // A login relayed for a browser (ID x-originating-ip) also makes the relaying webmail a known
  // source of this account: it submits the user's mail over SMTP from its own address.
  attempt.succeeded(s.clientIp !== s.opts.remoteAddress ? s.opts.remoteAddress : undefined);
  if (s.io.closed) throw no('connection closed');
  if (!userConnections.acquire(user.id)) throw no('too many connections for this user', 'LIMIT');
  s.loggedIn(user);
  s.log.info({ user: user.address }, 'imap login');
  return ok('Logged in', { code: 'CAPABILITY', capabilities: s.capabilities() });
}
