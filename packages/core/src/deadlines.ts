/**
 * Deadlines that a slow client cannot stretch (issue: a byte every 20 s kept a session alive
 * past every idle timeout, since each byte restarts an idle timer). An idle timer (Postfix's
 * `smtpd_timeout`, `limits.command_timeout`) still ends a silent client; these end one that
 * trickles:
 * - `command`: from the moment we wait for a command until the whole of it has arrived;
 * - `data`: SMTP DATA, from the 354 until the final dot;
 * - `session`: the whole session (SMTP), or the time before login (IMAP, POP3).
 * While we are busy with a command (a handler, a delivery) the client owes us nothing and no
 * deadline runs. Each protocol says which phase it is in; `DeadlineClock` decides.
 */
import type { Config } from './config.js';

export interface Deadlines {
  command: number;
  data: number;
  session: number;
}

export function deadlinesOf(limits: Pick<Config['limits'], 'command_deadline' | 'data_deadline' | 'session_lifetime'>): Deadlines {
  return { command: limits.command_deadline, data: limits.data_deadline, session: limits.session_lifetime };
}

/**
 * Where a connection is: waiting for a command line, receiving DATA, busy on our side, or free
 * of deadlines (an IMAP/POP3 session after login, which its autologout timer governs).
 */
export type Phase = 'command' | 'data' | 'busy' | 'free';

export type Expiry = 'command' | 'data' | 'session';

/** How often to look at a connection: a tenth of the shortest deadline (at least 100 ms). */
export function deadlineTick(d: Deadlines): number {
  return Math.max(100, Math.floor(Math.min(d.command, d.data, d.session) / 10));
}

/**
 * One connection's deadlines, checked every `deadlineTick` with its phase and a counter of the
 * commands it has received so far (a new command starts a new command phase). A phase's start is
 * known to within one tick.
 */
export class DeadlineClock {
  private readonly opened: number;
  private phase: Phase | null = null;
  private commands = -1;
  private since: number;

  constructor(
    private readonly deadlines: Deadlines,
    now: number = Date.now(),
  ) {
    this.opened = now;
    this.since = now;
  }

  /** What expired, or null. */
  check(phase: Phase, commands: number, now: number = Date.now()): Expiry | null {
    if (phase !== this.phase || commands !== this.commands) {
      // the very first look counts from the connection's opening
      if (this.phase !== null) this.since = now;
      this.phase = phase;
      this.commands = commands;
    }
    if (phase === 'busy' || phase === 'free') return null;
    if (now - this.opened > this.deadlines.session) return 'session';
    const limit = phase === 'data' ? this.deadlines.data : this.deadlines.command;
    return now - this.since > limit ? phase : null;
  }
}
