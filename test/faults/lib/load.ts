/**
 * A steady SMTP load for fault tests: senders that keep submitting numbered messages over port
 * 25 (to local users) and submission (authenticated), note exactly which got their `250`, and
 * carry on through refused connections and dropped sessions (a killed app) by trying the next
 * message a moment later. The ledger then says what must be in which mailbox, byte for byte.
 */
import nodemailer from 'nodemailer';
import type { Instance } from '../../lib/instance.js';

export interface SentMessage {
  seq: string;
  to: string;
  /** The exact bytes sent: the stored message must end with them. */
  raw: string;
}

export interface LoadOptions {
  /** Concurrent senders on port 25 (to local users). */
  mx: number;
  /** Concurrent senders on submission (as `user`). */
  submission: number;
  /** Local recipients, round robin. */
  recipients: readonly string[];
  user?: { address: string; password: string };
  /** Body size in bytes (roughly). */
  size?: number;
  /** Stop after this many messages in total (a bound, whatever happens). */
  max?: number;
}

export class SteadyLoad {
  readonly acked = new Map<string, SentMessage>();
  /** Sends that failed or got no 250 (may or may not be stored: neither is promised). */
  unacked = 0;
  refusals: string[] = [];
  private stopping = false;
  private next = 0;
  private running: Promise<void>[] = [];

  constructor(
    private readonly inst: Instance,
    private readonly opts: LoadOptions,
    private readonly tag: string,
  ) {}

  start(): void {
    for (let i = 0; i < this.opts.mx; i++) this.running.push(this.sender('mx', i));
    for (let i = 0; i < this.opts.submission; i++) this.running.push(this.sender('submission', i));
  }

  /** Waits until `max` messages were tried (without stopping early). */
  async done(): Promise<void> {
    await Promise.all(this.running);
  }

  /** Stops sending and waits for the senders to finish what they are doing. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.running);
  }

  get sent(): number {
    return this.next;
  }

  private message(seq: string, to: string, from: string): string {
    const size = this.opts.size ?? 2048;
    const line = `${seq} `.padEnd(76, 'abcdefghijklmnopqrstuvwxyz0123456789'.repeat(3)).slice(0, 76);
    const body = `${line}\r\n`.repeat(Math.max(1, Math.ceil(size / 78)));
    return (
      `From: <${from}>\r\nTo: <${to}>\r\nSubject: fault load ${seq}\r\nX-Seq: ${seq}\r\n` +
      `Message-ID: <${seq}@load.example>\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\n${body}`
    );
  }

  private async sender(kind: 'mx' | 'submission', index: number): Promise<void> {
    const user = this.opts.user;
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: kind === 'mx' ? this.inst.ports.smtp : this.inst.ports.submission,
      ignoreTLS: true,
      // one kept connection per sender (a new one after a kill), like a real MTA's
      pool: true,
      maxConnections: 1,
      maxMessages: Infinity,
      connectionTimeout: 5_000,
      greetingTimeout: 5_000,
      socketTimeout: 20_000,
      ...(kind === 'submission' && user ? { auth: { user: user.address, pass: user.password } } : {}),
    });
    const max = this.opts.max ?? 100_000;
    while (!this.stopping && this.next < max) {
      const n = this.next++;
      const seq = `${this.tag}-${kind}${index}-${n}`;
      const to = this.opts.recipients[n % this.opts.recipients.length]!;
      const from = kind === 'submission' && user ? user.address : 'sender@outside.example';
      const raw = this.message(seq, to, from);
      try {
        const info = await transport.sendMail({ envelope: { from, to: [to] }, raw });
        if (info.accepted.length === 1) this.acked.set(seq, { seq, to, raw });
        else this.unacked++;
      } catch (err) {
        this.unacked++;
        const code = (err as { responseCode?: number }).responseCode;
        if (code !== undefined) this.refusals.push((err as { response?: string }).response ?? String(code));
        // the app is probably down: try again shortly
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    transport.close();
  }
}

/** For each user, how many stored copies of each sequence number, and the stored text. */
export async function stored(inst: Instance, users: readonly string[], tag: string): Promise<Map<string, { count: number; raw: string; user: string }>> {
  const out = new Map<string, { count: number; raw: string; user: string }>();
  for (const user of users) {
    for (const m of await inst.messages(user)) {
      const seq = /^X-Seq: (\S+)/m.exec(m.raw)?.[1];
      if (!seq?.startsWith(`${tag}-`)) continue;
      const prev = out.get(seq);
      out.set(seq, { count: (prev?.count ?? 0) + 1, raw: m.raw, user });
    }
  }
  return out;
}

/** Problems with the ledger: acknowledged messages missing, doubled, changed or misdelivered. */
export function ledgerProblems(load: SteadyLoad, found: Awaited<ReturnType<typeof stored>>): string[] {
  const problems: string[] = [];
  for (const [seq, sent] of load.acked) {
    const f = found.get(seq);
    if (!f) problems.push(`${seq}: acknowledged, not stored`);
    else if (f.count !== 1) problems.push(`${seq}: stored ${f.count} times`);
    else if (f.user !== sent.to) problems.push(`${seq}: stored for ${f.user}, sent to ${sent.to}`);
    else if (!f.raw.endsWith(sent.raw)) problems.push(`${seq}: stored bytes differ from what was sent`);
  }
  // nothing at all stored twice, acknowledged or not
  for (const [seq, f] of found) if (f.count > 1 && !load.acked.has(seq)) problems.push(`${seq}: (unacknowledged) stored ${f.count} times`);
  return problems;
}
