/** Commands valid in every state (RFC 9051 §6.1) and the small ones of the authenticated state. */
import { isIP } from 'node:net';
import { isLoopback } from '@postern/core';
import { capabilityResponse, enabledResponse, idResponse, namespaceResponse, untaggedStatus, type CommandOf } from '@postern/imap';
import { ok, type Reply } from '../reply.js';
import type { ImapSession } from '../session.js';

export async function cmdCapability(s: ImapSession): Promise<Reply> {
  await s.io.send(capabilityResponse(s.capabilities()));
  return ok();
}

/** NOOP and CHECK: the dispatcher sends the mailbox updates before the tagged OK. */
export function cmdNoop(): Reply {
  return ok();
}

export async function cmdLogout(s: ImapSession): Promise<Reply> {
  await s.io.send(untaggedStatus('BYE', 'Postern IMAP server logging out'));
  s.state = 'logout';
  return { status: 'OK', text: 'LOGOUT completed', after: 'close' };
}

/**
 * RFC 2971: we answer with our name; what the client says is logged. One field is used: a proxy
 * or webmail on this machine (loopback) may say whose login it relays with `x-originating-ip`
 * (Dovecot's convention), so that failed logins are throttled per browser, not per webmail.
 */
export async function cmdId(s: ImapSession, c: CommandOf<'ID'>): Promise<Reply> {
  if (c.params) s.log.debug({ id: Object.fromEntries(c.params.slice(0, 30)) }, 'imap client id');
  const origin = c.params?.find(([k]) => k.toLowerCase() === 'x-originating-ip')?.[1];
  if (origin && s.state === 'not-authenticated' && isLoopback(s.opts.remoteAddress) && isIP(origin) !== 0) s.clientIp = origin;
  await s.io.send(
    idResponse([
      ['name', 'Postern'],
      ['vendor', 'Postern'],
    ]),
  );
  return ok();
}

/** RFC 5161; QRESYNC implies CONDSTORE (RFC 7162 §3.2.3). */
export async function cmdEnable(s: ImapSession, c: CommandOf<'ENABLE'>): Promise<Reply> {
  const enabled: string[] = [];
  for (const cap of c.capabilities) {
    if (cap === 'CONDSTORE' && !s.condstore) {
      s.condstore = true;
      enabled.push(cap);
    } else if (cap === 'QRESYNC' && !s.qresync) {
      s.qresync = true;
      s.condstore = true;
      enabled.push(cap);
    } else if (cap === 'UTF8=ACCEPT' && !s.utf8Accept) {
      s.utf8Accept = true;
      enabled.push(cap);
    }
  }
  await s.io.send(enabledResponse(enabled));
  return ok();
}

export async function cmdNamespace(s: ImapSession): Promise<Reply> {
  await s.io.send(namespaceResponse([{ prefix: '', delimiter: '/' }], null, null, s.wire));
  return ok();
}
