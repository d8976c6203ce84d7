/**
 * Connection limits (`limits.connections_per_ip`, `limits.connections_total`), checked in
 * onConnect before the greeting; a refused client gets `421 4.7.0` (RFC 5321 §3.8).
 */
import { SmtpReply } from './reply.js';

export class ConnectionLimits {
  private readonly perIp = new Map<string, number>();
  private readonly sessions = new Map<string, string>();
  private total = 0;

  constructor(
    private readonly maxPerIp: number,
    private readonly maxTotal: number,
  ) {}

  /** Counts the connection in, or throws the 421 to refuse it with. */
  open(sessionId: string, ip: string): void {
    const n = this.perIp.get(ip) ?? 0;
    if (n >= this.maxPerIp) throw new SmtpReply(421, '4.7.0', `Too many connections from ${ip}, try again later`);
    if (this.total >= this.maxTotal) throw new SmtpReply(421, '4.3.2', 'Too many connections, try again later');
    this.perIp.set(ip, n + 1);
    this.sessions.set(sessionId, ip);
    this.total++;
  }

  close(sessionId: string): void {
    const ip = this.sessions.get(sessionId);
    if (ip === undefined) return;
    this.sessions.delete(sessionId);
    this.total--;
    const n = (this.perIp.get(ip) ?? 1) - 1;
    if (n <= 0) this.perIp.delete(ip);
    else this.perIp.set(ip, n);
  }
}
