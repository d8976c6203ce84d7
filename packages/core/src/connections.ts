/**
 * Connection limits (`limits.connections_per_ip`, `limits.connections_total`) counted the same
 * way by every listener: SMTP, IMAP, POP3. A connection is admitted before its greeting and
 * released when it closes; a refused one is never counted.
 */
export type Admission = { ok: true; release: () => void } | { ok: false; reason: 'per-ip' | 'total' };

export class ConnectionCounter {
  private readonly perIp = new Map<string, number>();
  private total = 0;

  constructor(
    private readonly maxPerIp: number,
    private readonly maxTotal: number,
  ) {}

  admit(ip: string): Admission {
    const n = this.perIp.get(ip) ?? 0;
    if (n >= this.maxPerIp) return { ok: false, reason: 'per-ip' };
    if (this.total >= this.maxTotal) return { ok: false, reason: 'total' };
    this.perIp.set(ip, n + 1);
    this.total++;
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        this.total--;
        const left = (this.perIp.get(ip) ?? 1) - 1;
        if (left <= 0) this.perIp.delete(ip);
        else this.perIp.set(ip, left);
      },
    };
  }
}
