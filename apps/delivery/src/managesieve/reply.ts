/**
 * ManageSieve responses (RFC 5804 §1.2, §4) and the one place that writes them: data lines,
 * then `OK` / `NO` / `BYE` with an optional response code and a human-readable string. Strings
 * go quoted when they can (no CR, LF, NUL, at most 1024 octets), else as a literal `{n}`.
 */
import type { Socket } from 'node:net';

export type Status = 'OK' | 'NO' | 'BYE';

export interface Reply {
  /** Data lines before the status line, each already rendered (without CRLF). */
  lines?: string[];
  status: Status;
  /** A response code such as "NONEXISTENT", "QUOTA/MAXSIZE", or `TAG {..}` rendered. */
  code?: string;
  text?: string;
}

/** A handler's refusal: the session answers it as NO (or BYE) with its code. */
export class SieveProtocolError extends Error {
  constructor(
    message: string,
    readonly code?: string,
    readonly status: 'NO' | 'BYE' = 'NO',
  ) {
    super(message);
    this.name = 'SieveProtocolError';
  }
}

/** RFC 5804 §4: quoted = DQUOTE *QUOTED-CHAR DQUOTE, else a literal. */
export function sieveString(s: string): string {
  if (Buffer.byteLength(s) <= 1024 && !/[\r\n\0]/.test(s)) return `"${s.replace(/[\\"]/g, '\\$&')}"`;
  return `{${Buffer.byteLength(s)}}\r\n${s}`;
}

export function renderReply(r: Reply): string {
  let out = '';
  for (const l of r.lines ?? []) out += `${l}\r\n`;
  out += r.status;
  if (r.code) out += ` (${r.code})`;
  if (r.text !== undefined && r.text !== '') out += ` ${sieveString(r.text)}`;
  return `${out}\r\n`;
}

export class ReplyWriter {
  constructor(private socket: Socket) {}

  setSocket(socket: Socket): void {
    this.socket = socket;
  }

  /** Writes raw protocol text (the SASL continuation); resolves when the socket takes more. */
  async raw(text: string): Promise<void> {
    if (this.socket.destroyed) return;
    if (!this.socket.write(text)) await new Promise<void>((resolve) => this.socket.once('drain', resolve).once('close', resolve));
  }

  write(r: Reply): Promise<void> {
    return this.raw(renderReply(r));
  }
}
