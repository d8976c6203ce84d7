/**
 * The capability list (RFC 9051 §7.2.2). Login mechanisms appear only where a login would be
 * accepted (after TLS, or the development profile on loopback); LOGINDISABLED otherwise.
 * IMAP4rev2 is not advertised: imapflow and others switch behaviour on it, and we keep to
 * IMAP4rev1 plus the extensions that make up most of rev2.
 */
export interface CapabilityContext {
  readonly tls: boolean;
  readonly loginAllowed: boolean;
  readonly authenticated: boolean;
  readonly appendLimit: number;
}

const COMMON = ['IMAP4rev1', 'LITERAL+', 'SASL-IR', 'ID', 'ENABLE', 'IDLE'];

const AFTER_LOGIN = [
  'NAMESPACE',
  'UIDPLUS',
  'MOVE',
  'UNSELECT',
  'CHILDREN',
  'SPECIAL-USE',
  'LIST-EXTENDED',
  'LIST-STATUS',
  'STATUS=SIZE',
  'ESEARCH',
  'SEARCHRES',
  'CONDSTORE',
  'QRESYNC',
  'UTF8=ACCEPT',
  'BINARY',
  'MULTIAPPEND',
];

export function capabilities(ctx: CapabilityContext): string[] {
  const caps = [...COMMON];
  if (!ctx.authenticated) {
    if (!ctx.tls) caps.push('STARTTLS');
    // RFC 7677: SCRAM, -PLUS only where there is a TLS channel to bind to
    if (ctx.loginAllowed) caps.push(...(ctx.tls ? ['AUTH=SCRAM-SHA-256-PLUS'] : []), 'AUTH=SCRAM-SHA-256', 'AUTH=PLAIN');
    else caps.push('LOGINDISABLED');
    return caps;
  }
  caps.push(...AFTER_LOGIN, `APPENDLIMIT=${ctx.appendLimit}`);
  return caps;
}
