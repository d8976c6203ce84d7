/**
 * Where the webmail logs in on the user's behalf: `webmail.imap` / `webmail.smtp` when set,
 * else our own listeners (STARTTLS ones first: they are the ones the development profile allows
 * without TLS on loopback). How each is reached and its certificate checked is core's
 * clientEndpoint, shared with `postern mail`.
 */
import { clientEndpoint, IMPLICIT_TLS_PORTS, splitHostPort, type Config, type Endpoint } from '@postern/core';

export type { Endpoint };

function pick(config: Config, override: string | undefined, starttls: string | undefined, implicit: string | undefined, keys: string): Endpoint {
  if (override) return clientEndpoint(override, IMPLICIT_TLS_PORTS.has(splitHostPort(override).port), config);
  if (starttls) return clientEndpoint(starttls, false, config);
  if (implicit) return clientEndpoint(implicit, true, config);
  throw new Error(`nowhere to connect: set ${keys}`);
}

export function imapEndpoint(config: Config): Endpoint {
  return pick(config, config.webmail.imap, config.listen.imap, config.listen.imaps, 'webmail.imap, listen.imap or listen.imaps');
}

export function smtpEndpoint(config: Config): Endpoint {
  return pick(config, config.webmail.smtp, config.listen.submission, config.listen.submissions, 'webmail.smtp, listen.submission or listen.submissions');
}
