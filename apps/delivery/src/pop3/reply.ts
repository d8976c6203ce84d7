/**
 * What a POP3 handler answers, as data. Only ./writer.ts turns a Reply into bytes.
 */

/** RFC 2449 §8 response codes (RESP-CODES), and RFC 3206's SYS/TEMP, SYS/PERM and AUTH. */
export type RespCode = 'AUTH' | 'SYS/TEMP' | 'SYS/PERM' | 'IN-USE' | 'LOGIN-DELAY';

export type Reply =
  | { kind: 'ok'; text: string }
  | { kind: 'err'; text: string; code: RespCode | null }
  /** A multi-line response of short lines (CAPA, LIST, UIDL). */
  | { kind: 'lines'; text: string; lines: readonly string[] }
  /**
   * A message (RETR) or its top (TOP), streamed: `chunks` yields the stored bytes in order and
   * must total `size` octets unless `bodyLines` cuts it short.
   */
  | { kind: 'message'; text: string; chunks: Iterable<Buffer>; size: number; bodyLines: number | null }
  /** RFC 5034 §4: a SASL challenge ("+ " and base64, empty for PLAIN). */
  | { kind: 'continue'; challenge: string };

export const ok = (text: string): Reply => ({ kind: 'ok', text });
export const err = (text: string, code: RespCode | null = null): Reply => ({ kind: 'err', text, code });

/**
 * A refusal a handler throws instead of returning; the dispatcher turns it into `-ERR`.
 * Anything else thrown is a server fault: logged with its stack, answered `-ERR [SYS/TEMP]`.
 */
export class Pop3Error extends Error {
  constructor(
    message: string,
    readonly code: RespCode | null = null,
  ) {
    super(message);
    this.name = 'Pop3Error';
  }
}

/** The first line of a reply, without CRLF. Text never carries CR or LF onto the wire. */
export function statusLine(reply: Reply): string {
  const clean = (s: string): string => s.replace(/[\r\n]+/g, ' ');
  switch (reply.kind) {
    case 'ok':
    case 'lines':
    case 'message':
      return reply.text === '' ? '+OK' : `+OK ${clean(reply.text)}`;
    case 'err':
      return `-ERR ${reply.code ? `[${reply.code}] ` : ''}${clean(reply.text)}`;
    case 'continue':
      return `+ ${clean(reply.challenge)}`;
  }
}
