/**
 * The queue runner's LMTP client (RFC 2033) to the delivery agent: a small pool of long-lived
 * connections, each carrying one transaction at a time, so many messages stream in parallel
 * without a handshake each. LMTP answers DATA once per recipient; each recipient's own reply
 * decides its outcome (delivered, deferred on 4xx, failed on 5xx).
 */
import { createConnection } from 'node:net';
import { splitHostPort, type Logger, type QueueEntry, type QueueRecipient, type RecipientOutcome } from '@postern/core';
import { allDeferred, outcomesOfError, outcomesOfInfo, type ClientError } from './outcomes.js';
import { SmtpSession } from './smtp-session.js';

export class LmtpPool {
  private readonly idle: SmtpSession[] = [];
  private open = 0;
  private readonly waiters: Array<(s: SmtpSession | null) => void> = [];
  private closing = false;

  constructor(
    private readonly target: string,
    private readonly hostname: string,
    private readonly max: number,
    private readonly log: Logger,
  ) {}

  private async connect(): Promise<SmtpSession> {
    const base = { lmtp: true, name: this.hostname, ignoreTLS: true, connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 120_000, logger: false };
    let session: SmtpSession;
    if (this.target.startsWith('/') || this.target.startsWith('.')) {
      const socket = createConnection(this.target);
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('error', reject);
      });
      session = new SmtpSession({ ...base, connection: socket });
    } else {
      const { host, port } = splitHostPort(this.target);
      session = new SmtpSession({ ...base, host, port });
    }
    await session.connect();
    return session;
  }

  private async acquire(): Promise<SmtpSession> {
    for (;;) {
      const s = this.idle.pop();
      if (!s) break;
      if (!s.closed) return s;
      this.open--;
    }
    if (this.open < this.max) {
      this.open++;
      try {
        return await this.connect();
      } catch (err) {
        this.open--;
        this.wakeOne();
        throw err;
      }
    }
    const s = await new Promise<SmtpSession | null>((resolve) => this.waiters.push(resolve));
    return s ?? this.acquire();
  }

  private release(s: SmtpSession, reusable: boolean): void {
    if (!reusable || s.closed || this.closing) {
      if (!s.closed) s.quit();
      this.open--;
      this.wakeOne();
      return;
    }
    const w = this.waiters.shift();
    if (w) w(s);
    else this.idle.push(s);
  }

  private wakeOne(): void {
    const w = this.waiters.shift();
    if (w) w(null);
  }

  /** Hands one message to the delivery agent for `recipients`; never throws. */
  async deliver(entry: QueueEntry, recipients: readonly QueueRecipient[]): Promise<RecipientOutcome[]> {
    const mta = `lmtp ${this.target}`;
    for (let attempt = 0; attempt < 2; attempt++) {
      let session: SmtpSession;
      try {
        session = await this.acquire();
      } catch (err) {
        return allDeferred(recipients, `4.4.1 delivery agent at ${this.target} unreachable: ${(err as Error).message}`, mta);
      }
      const reused = session.messages > 0;
      try {
        const info = await session.send(
          {
            from: entry.sender === '' ? '' : entry.sender,
            to: recipients.map((r) => r.address),
            size: entry.data.length,
            use8BitMime: entry.body8bit,
            // Our queue id as ENVID (RFC 3461): the delivery agent uses it to recognise a message
            // it already stored, so a crash between its 250 and our commit delivers nothing twice.
            // The sender's own ENVID matters only for DSNs, which this app writes, not the MDA.
            dsn: { envid: entry.id },
          },
          entry.data,
        );
        this.release(session, true);
        return outcomesOfInfo(recipients, info, mta);
      } catch (e) {
        const err = e as ClientError;
        this.release(session, false);
        // a kept connection the server closed meanwhile: try once more on a fresh one
        if (reused && err.responseCode === undefined && attempt === 0) continue;
        this.log.warn({ id: entry.id, err: err.message, code: err.code }, 'lmtp transaction failed');
        if (err.responseCode === undefined) return allDeferred(recipients, `4.4.2 delivery agent: ${err.message}`, mta);
        return outcomesOfError(recipients, err, mta);
      }
    }
    return allDeferred(recipients, '4.4.2 delivery agent connection lost', mta);
  }

  close(): void {
    this.closing = true;
    for (const s of this.idle.splice(0)) s.quit();
    for (const w of this.waiters.splice(0)) w(null);
  }
}
