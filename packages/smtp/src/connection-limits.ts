/**
 * Connection limits for smtp-server, checked in onConnect before the greeting; a refused client
 * gets `421` (RFC 5321 §3.8). The counting is core's ConnectionCounter, shared with IMAP and POP3;
 * a session counts as logged in once AUTH succeeded (`session.user`).
 *
 * When the slots for sessions not logged in (or all slots) are taken, a new client displaces the
 * oldest such session that is only waiting for its next command (not in DATA, not being
 * answered): a slow client holding a slot for minutes then cannot keep out one that needs a
 * second. Per-IP and per-network limits are never displaced.
 */
import type { SMTPServer, SMTPServerSession } from 'smtp-server';
import type { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import { ConnectionCounter, plainIp, type ConnectionCaps } from '@postern/core';
import { SmtpReply } from './reply.js';

export class ConnectionLimits {
  private readonly counter: ConnectionCounter;
  /** Admitted sessions, oldest first. */
  private readonly sessions = new Map<string, { session: SMTPServerSession; release: () => void }>();
  private readonly servers: SMTPServer[] = [];

  /** `protocol`: smtp (the MX) or submission, for the metrics. */
  constructor(caps: ConnectionCaps, protocol = 'smtp') {
    this.counter = new ConnectionCounter(caps, protocol);
  }

  /** The servers whose connections these limits count (to find one to displace). */
  serve(server: SMTPServer): void {
    this.servers.push(server);
  }

  /** Counts the connection in, or throws the 421 to refuse it with. */
  open(session: SMTPServerSession): void {
    const ip = plainIp(session.remoteAddress);
    let admission = this.counter.admit(ip, this.unauthenticated());
    if (!admission.ok && (admission.reason === 'unauthenticated' || admission.reason === 'total') && this.displaceOldest()) {
      admission = this.counter.admit(ip, this.unauthenticated());
    }
    if (!admission.ok) {
      if (admission.reason === 'per-ip') throw new SmtpReply(421, '4.7.0', `Too many connections from ${ip}, try again later`);
      if (admission.reason === 'per-subnet') throw new SmtpReply(421, '4.7.0', 'Too many connections from your network, try again later');
      throw new SmtpReply(421, '4.3.2', 'Too many connections, try again later');
    }
    this.sessions.set(session.id, { session, release: admission.release });
  }

  close(sessionId: string): void {
    this.sessions.get(sessionId)?.release();
    this.sessions.delete(sessionId);
  }

  private unauthenticated(): number {
    let n = 0;
    for (const s of this.sessions.values()) if (!s.session.user) n++;
    return n;
  }

  /** Closes the oldest session not logged in that waits for a command; false when there is none. */
  private displaceOldest(): boolean {
    const waiting = new Map<string, SMTPConnection>();
    for (const server of this.servers) {
      for (const c of server.connections) {
        const parser = c._parser;
        if (!c.session.user && !c._handlerPending && !(parser && parser._dataMode)) waiting.set(c.session.id, c);
      }
    }
    for (const id of this.sessions.keys()) {
      const c = waiting.get(id);
      if (!c) continue;
      this.close(id);
      c.send(421, '4.7.0 Too many connections: this one was the oldest waiting, try again later');
      return true;
    }
    return false;
  }
}
