/**
 * The LMTP client (RFC 2033) to the delivery agent, shared by the queue runner and the MX's
 * direct delivery: a small pool of long-lived connections, each carrying one transaction at a
 * time, so many messages stream in parallel without a handshake each. LMTP answers DATA once per
 * recipient; each recipient's own reply decides its outcome (delivered, deferred on 4xx, failed
 * on 5xx).
 */
import { createConnection } from 'node:net';
import { splitHostPort, type Logger, type QueueEntry, type RecipientOutcome } from '@postern/core';
import { agentUnavailable, outcomesOfError, outcomesOfInfo, type Addressee, type ClientError } from './outcomes.js';
import { SmtpSession } from './smtp-session.js';

/** What a hand-over needs of a message: the queue id (sent as ENVID), sender and content. */
export type LmtpMessage = Pick<QueueEntry, 'id' | 'sender' | 'data' | 'body8bit'>;

/** After a failed connect, how long `tryDeliver` does not try (the runner still does). */
const UNREACHABLE_PAUSE_MS = 2_000;

const oneLine = (s: string): string => s.replace(/\s*[\r\n]+\s*/g, ' ').trim();

/** No connection became free in time (`tryDeliver`). */
class PoolBusy extends Error {}

export class LmtpPool {
  private readonly idle: SmtpSession[] = [];
  private unreachableUntil = 0;
  private open = 0;
  private readonly waiters: Array<(s: SmtpSession | null) => void> = [];
  private closing = false;
  /** A connect failed and none succeeded since: the agent is down (or restarting). */
  private down = false;
  /** Called when a connection succeeds after the agent was found down. */
  onReachable: () => void = () => undefined;

  constructor(
    private readonly target: string,
    private readonly hostname: string,
    private readonly max: number,
    private readonly log: Logger,
  ) {}

  /** Whether the last connect failed (and none succeeded since). */
  get unreachable(): boolean {
    return this.down;
  }

  /** The agent said it is ready (the supervisor relayed it): direct delivery may try at once. */
  markReady(): void {
    this.unreachableUntil = 0;
  }

  /**
   * Opens one connection (kept idle for the next message) to learn whether the agent listens
   * again; true when it does. Without `postern start` to say so, this is how the runner notices
   * the agent is back within a second.
   */
  async probe(): Promise<boolean> {
    if (this.closing) return false;
    if (this.idle.some((s) => !s.closed)) return true;
    if (this.open >= this.max) return true; // every connection in use: it is there
    this.open++;
    let s: SmtpSession;
    try {
      s = await this.connect();
    } catch {
      this.open--;
      this.down = true;
      return false;
    }
    this.release(s, true);
    return true;
  }

  private async connect(): Promise<SmtpSession> {
    const base = {
      lmtp: true,
      name: this.hostname,
      ignoreTLS: true,
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 120_000,
      logger: false,
    };
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
    if (this.down) {
      this.down = false;
      this.unreachableUntil = 0;
      this.log.info({ lmtp: this.target }, 'delivery agent reachable again');
      this.onReachable();
    }
    return session;
  }

  /** A connection: an idle one, a new one while under `max`, else the next one released within
   * `waitMs` (PoolBusy after that). */
  private async acquire(waitMs = Infinity): Promise<SmtpSession> {
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
        this.down = true;
        this.unreachableUntil = Date.now() + UNREACHABLE_PAUSE_MS;
        this.wakeOne();
        throw err;
      }
    }
    const s = await new Promise<SmtpSession | null>((resolve, reject) => {
      if (waitMs === Infinity) return this.waiters.push(resolve);
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new PoolBusy());
      }, waitMs);
      const waiter = (s: SmtpSession | null): void => {
        clearTimeout(timer);
        resolve(s);
      };
      this.waiters.push(waiter);
    });
    return s ?? this.acquire(waitMs);
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
  async deliver(entry: LmtpMessage, recipients: readonly Addressee[]): Promise<RecipientOutcome[]> {
    // with no time limit a connection always comes: null cannot happen
    return (
      (await this.mailTransaction(entry, recipients, Infinity)) ??
      agentUnavailable(recipients, '4.4.1 no connection to the delivery agent', `lmtp ${this.target}`)
    );
  }

  /**
   * Like deliver, but gives up before sending anything (null) when no connection is free within
   * `waitMs`, or the agent could not be reached in the last moments: for a caller that has
   * somewhere else to put the message (the queue).
   */
  async tryDeliver(entry: LmtpMessage, recipients: readonly Addressee[], waitMs: number): Promise<RecipientOutcome[] | null> {
    if (Date.now() < this.unreachableUntil) return null;
    return this.mailTransaction(entry, recipients, waitMs);
  }

  private async mailTransaction(entry: LmtpMessage, recipients: readonly Addressee[], waitMs: number): Promise<RecipientOutcome[] | null> {
    const mta = `lmtp ${this.target}`;
    for (let attempt = 0; attempt < 2; attempt++) {
      let session: SmtpSession;
      try {
        session = await this.acquire(waitMs);
      } catch (err) {
        if (err instanceof PoolBusy) return null;
        return agentUnavailable(recipients, `4.4.1 delivery agent at ${this.target} unreachable: ${(err as Error).message}`, mta);
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
        // the agent's 250 is the mailbox's: these recipients are delivered, not relayed
        return outcomesOfInfo(recipients, info, mta).map((o) => (o.kind === 'delivered' ? { ...o, final: true } : o));
      } catch (e) {
        const err = e as ClientError;
        this.release(session, false);
        // a kept connection the server closed meanwhile: try once more on a fresh one
        if (reused && err.responseCode === undefined && attempt === 0) continue;
        this.log.warn({ id: entry.id, err: err.message, code: err.code }, 'lmtp transaction failed');
        // the agent died under us (connection lost), or says it is going away or full (421)
        if (err.responseCode === undefined) return agentUnavailable(recipients, `4.4.2 delivery agent: ${err.message}`, mta);
        if (err.responseCode === 421) return agentUnavailable(recipients, oneLine(err.response ?? err.message), mta);
        return outcomesOfError(recipients, err, mta);
      }
    }
    return agentUnavailable(recipients, '4.4.2 delivery agent connection lost', mta);
  }

  close(): void {
    this.closing = true;
    for (const s of this.idle.splice(0)) s.quit();
    for (const w of this.waiters.splice(0)) w(null);
  }
}
