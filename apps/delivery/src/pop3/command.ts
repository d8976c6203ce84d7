/**
 * The POP3 command parser: one line (without its CRLF) in, a typed command or a syntax error
 * out. Pure: no sockets, no state, never throws.
 *
 * RFC 1939 §3: a keyword of 3 or 4 characters, case-insensitive, then arguments separated by a
 * single space. We are lenient about repeated spaces between arguments (mutt and some phones
 * send them), but never about the keyword or the number syntax.
 */

export type Pop3Verb = 'USER' | 'PASS' | 'AUTH' | 'STLS' | 'CAPA' | 'STAT' | 'LIST' | 'RETR' | 'DELE' | 'NOOP' | 'RSET' | 'QUIT' | 'TOP' | 'UIDL';

export type Pop3Command =
  | { verb: 'USER'; name: string }
  | { verb: 'PASS'; password: string }
  /** RFC 5034: AUTH without a mechanism lists the mechanisms (a pre-CAPA convention). */
  | { verb: 'AUTH'; mechanism: string | null; initialResponse: string | null }
  | { verb: 'STLS' | 'CAPA' | 'STAT' | 'NOOP' | 'RSET' | 'QUIT' }
  | { verb: 'LIST' | 'UIDL'; msg: number | null }
  | { verb: 'RETR' | 'DELE'; msg: number }
  | { verb: 'TOP'; msg: number; lines: number };

export type ParseResult =
  | { ok: true; command: Pop3Command }
  /** `verb` is set when the keyword was known but its arguments were not. */
  | { ok: false; verb: Pop3Verb | null; message: string };

const VERBS: ReadonlySet<string> = new Set<Pop3Verb>([
  'USER',
  'PASS',
  'AUTH',
  'STLS',
  'CAPA',
  'STAT',
  'LIST',
  'RETR',
  'DELE',
  'NOOP',
  'RSET',
  'QUIT',
  'TOP',
  'UIDL',
]);

/** Message numbers and line counts: plain decimal, no sign; 9 digits keep them far below 2^31. */
const NUMBER = /^[0-9]{1,9}$/;

function number(arg: string | undefined): number | null {
  return arg !== undefined && NUMBER.test(arg) ? Number(arg) : null;
}

export function parseCommand(line: string): ParseResult {
  const space = line.indexOf(' ');
  const keyword = (space < 0 ? line : line.slice(0, space)).toUpperCase();
  const rest = space < 0 ? '' : line.slice(space + 1);
  if (!VERBS.has(keyword)) return { ok: false, verb: null, message: 'unknown command' };
  const verb = keyword as Pop3Verb;
  const args = rest.split(' ').filter((a) => a !== '');
  const bad = (message: string): ParseResult => ({ ok: false, verb, message });
  const ok = (command: Pop3Command): ParseResult => ({ ok: true, command });

  switch (verb) {
    case 'USER':
      // RFC 1939 §7: one argument, the mailbox name (our logins are addresses: no spaces).
      if (args.length !== 1) return bad('USER takes one argument: the login name');
      return ok({ verb, name: args[0]! });
    case 'PASS':
      // RFC 1939 §7 leaves spaces in passwords to the server; we keep the rest of the line whole.
      if (rest === '') return bad('PASS takes one argument: the password');
      return ok({ verb, password: rest });
    case 'AUTH':
      if (args.length > 2) return bad('AUTH takes a mechanism and an optional initial response');
      return ok({ verb, mechanism: args[0]?.toUpperCase() ?? null, initialResponse: args[1] ?? null });
    case 'STLS':
    case 'CAPA':
    case 'STAT':
    case 'NOOP':
    case 'RSET':
    case 'QUIT':
      if (args.length !== 0) return bad(`${verb} takes no arguments`);
      return ok({ verb });
    case 'LIST':
    case 'UIDL': {
      if (args.length === 0) return ok({ verb, msg: null });
      const msg = number(args[0]);
      if (args.length !== 1 || msg === null) return bad(`${verb} takes an optional message number`);
      return ok({ verb, msg });
    }
    case 'RETR':
    case 'DELE': {
      const msg = number(args[0]);
      if (args.length !== 1 || msg === null) return bad(`${verb} takes a message number`);
      return ok({ verb, msg });
    }
    case 'TOP': {
      const msg = number(args[0]);
      const lines = number(args[1]);
      if (args.length !== 2 || msg === null || lines === null) return bad('TOP takes a message number and a number of lines');
      return ok({ verb, msg, lines });
    }
  }
}
