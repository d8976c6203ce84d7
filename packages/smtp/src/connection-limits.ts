/**
 * Connection limits for smtp-server, checked in onConnect before the greeting; a refused client
 * gets `421` (RFC 5321 §3.8). The counting is core's ConnectionCounter, shared with IMAP and POP3.
 */
import { ConnectionCounter } from '@postern/core';
import { SmtpReply } from './reply.js';

export class ConnectionLimits {
  private readonly counter: ConnectionCounter;
  private readonly sessions = new Map<string, () => void>();

  constructor(maxPerIp: number, maxTotal: number) {
    this.counter = new ConnectionCounter(maxPerIp, maxTotal);
  }

  /** Counts the connection in, or throws the 421 to refuse it with. */
  open(sessionId: string, ip: string): void {
    const admission = this.counter.admit(ip);
    if (!admission.ok) {
      if (admission.reason === 'per-ip') throw new SmtpReply(421, '4.7.0', `Too many connections from ${ip}, try again later`);
      throw new SmtpReply(421, '4.3.2', 'Too many connections, try again later');
    }
    this.sessions.set(sessionId, admission.release);
  }

  close(sessionId: string): void {
    this.sessions.get(sessionId)?.();
    this.sessions.delete(sessionId);
  }
}
