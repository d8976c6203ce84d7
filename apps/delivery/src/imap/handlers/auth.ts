/**
 * STARTTLS, LOGIN and AUTHENTICATE PLAIN (RFC 9051 §6.2, RFC 4616, RFC 4959 SASL-IR).
 * Logins only over TLS unless the development profile runs on loopback; failures are throttled
 * with the throttle shared by every login service of the process.
 */
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
  if (c.mechanism.toUpperCase() !== 'PLAIN') throw no(`unsupported mechanism ${c.mechanism}`, 'CANNOT');
  let response: string;
  if (c.initialResponse !== null) {
    response = c.initialResponse === '=' ? '' : c.initialResponse;
  } else {
    await s.io.send(continuation(''));
    const line = await s.io.readLine();
    if (line === null) throw bad('authentication line too long or missing');
    response = line.toString('latin1');
    // RFC 9051 §6.2.2: "*" cancels the exchange.
    if (response === '*') throw bad('authentication cancelled');
  }
  const creds = decodePlain(response);
  if ('error' in creds) throw bad(creds.error);
  return login(s, creds.authcid, creds.password);
}

async function login(s: ImapSession, name: string, password: string): Promise<Reply> {
  const { throttle, accounts, userConnections } = s.opts;
  const remoteAddress = s.clientIp;
  const relayed = remoteAddress !== s.opts.remoteAddress;
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
  // A login relayed for a browser (ID x-originating-ip) also makes the relaying webmail a known
  // source of this account: it submits the user's mail over SMTP from its own address.
  attempt.succeeded(relayed ? s.opts.remoteAddress : undefined);
  if (s.io.closed) throw no('connection closed');
  if (!userConnections.acquire(user.id)) throw no('too many connections for this user', 'LIMIT');
  s.loggedIn(user);
  s.log.info({ user: user.address }, 'imap login');
  return ok('Logged in', { code: 'CAPABILITY', capabilities: s.capabilities() });
}
