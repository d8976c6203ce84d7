/**
 * What a handler gives back: the tagged completion of its command (RFC 9051 §7.1), and what the
 * connection must do after writing it. Handlers throw ImapError for NO/BAD; the dispatcher is
 * the one place that turns either into bytes.
 */
import type { ResponseCode } from '@postern/imap';

export type After = 'continue' | 'close' | 'starttls';

export interface Reply {
  readonly status: 'OK' | 'NO' | 'BAD';
  readonly text: string;
  readonly code?: ResponseCode | null;
  readonly after?: After;
}

export const ok = (text = 'completed', code: ResponseCode | null = null): Reply => ({ status: 'OK', text, code });

/** A refusal a handler throws: `NO` for a user error, `BAD` for a protocol error. */
export class ImapError extends Error {
  override readonly name = 'ImapError';
  constructor(
    readonly status: 'NO' | 'BAD',
    message: string,
    readonly code: ResponseCode | null = null,
  ) {
    super(message);
  }
}

export const no = (text: string, code: ResponseCode['code'] | null = null): ImapError =>
  new ImapError('NO', text, code === null ? null : ({ code } as ResponseCode));
export const bad = (text: string, code: ResponseCode['code'] | null = null): ImapError =>
  new ImapError('BAD', text, code === null ? null : ({ code } as ResponseCode));
