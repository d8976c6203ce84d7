/**
 * The two typed errors of the codec. Everything the framer or the parser rejects surfaces as one
 * of these, so a server can map them to a reply without inspecting messages:
 *
 * - `FramingError`: the byte stream broke a limit or could not be split into commands
 *   (too long a line, too big a literal). The server answers `BAD [TOOBIG]` (with the tag
 *   when `tag` is known, else untagged) and closes the connection when `fatal` is set.
 * - `ImapParseError`: one complete command did not match the grammar (RFC 9051 §9). The server
 *   answers `<tag> BAD <message>` (or `* BAD` without a tag); `status: 'NO'` with a response
 *   code marks the few cases the RFCs answer with NO, e.g. `NO [BADCHARSET]` (RFC 9051 §6.4.4).
 */
import type { ResponseCode } from './response-code.js';

export type FramingErrorCode =
  /** A command line (or a raw line) exceeded `maxLineLength`. */
  | 'LINE_TOO_LONG'
  /** A literal announced more octets than `maxLiteralSize`. */
  | 'LITERAL_TOO_BIG'
  /** A non-synchronizing literal over 4096 octets while only LITERAL- is offered (RFC 7888 §4). */
  | 'NON_SYNC_LITERAL_TOO_BIG'
  /** The command's lines and literals together exceeded `maxCommandSize`. */
  | 'COMMAND_TOO_BIG'
  /** Unprocessed input piled up beyond `maxBuffered` (the server did not apply back-pressure). */
  | 'BUFFER_OVERFLOW'
  /** The literal gate (the server's bytes in flight) refused the literal for now. */
  | 'LITERAL_REFUSED_FOR_NOW'
  /** The literal spool (a file) could not take the literal's octets, e.g. a full disk. */
  | 'LITERAL_SPOOL_FAILED';

export class FramingError extends Error {
  override readonly name = 'FramingError';
  constructor(
    readonly code: FramingErrorCode,
    message: string,
    /** The command tag when the first bytes of the command held a valid one. */
    readonly tag: string | null,
    /**
     * True when the stream cannot be resynchronised (the server must close the connection);
     * false when the framer skips the rest of the offending command and carries on.
     */
    readonly fatal: boolean,
  ) {
    super(message);
  }
}

export class ImapParseError extends Error {
  override readonly name = 'ImapParseError';
  constructor(
    message: string,
    /** The command tag when it was readable, else null (answer with an untagged `* BAD`). */
    readonly tag: string | null,
    /** The command name when it was recognised (upper case, `UID FETCH` style for UID forms). */
    readonly command: string | null = null,
    /** The reply status the RFC asks for: BAD for syntax, NO for the rare semantic refusals. */
    readonly status: 'BAD' | 'NO' = 'BAD',
    /** A response code to put in the reply, e.g. `[BADCHARSET (UTF-8 US-ASCII)]`. */
    readonly code: ResponseCode | null = null,
  ) {
    super(message);
  }
}
