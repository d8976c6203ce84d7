/**
 * ManageSieve commands (RFC 5804 §2) from a frame's tokens: the verb and its typed arguments.
 * Pure; an argument of the wrong shape is a CommandSyntaxError that the session answers NO.
 */
import type { Token } from './reader.js';

export type SieveCommand =
  | { verb: 'CAPABILITY' }
  | { verb: 'LOGOUT' }
  | { verb: 'STARTTLS' }
  | { verb: 'NOOP'; tag: string | null }
  | { verb: 'AUTHENTICATE'; mechanism: string; initial: string | null }
  | { verb: 'HAVESPACE'; name: string; size: number }
  | { verb: 'PUTSCRIPT'; name: string; content: string }
  | { verb: 'CHECKSCRIPT'; content: string }
  | { verb: 'LISTSCRIPTS' }
  | { verb: 'SETACTIVE'; name: string }
  | { verb: 'GETSCRIPT'; name: string }
  | { verb: 'DELETESCRIPT'; name: string }
  | { verb: 'RENAMESCRIPT'; from: string; to: string }
  | { verb: 'UNAUTHENTICATE' };

export type Verb = SieveCommand['verb'];

export class CommandSyntaxError extends Error {}

type Shape = 'string' | 'number' | 'string?';

const SHAPES: Record<Verb, Shape[]> = {
  CAPABILITY: [],
  LOGOUT: [],
  STARTTLS: [],
  NOOP: ['string?'],
  AUTHENTICATE: ['string', 'string?'],
  HAVESPACE: ['string', 'number'],
  PUTSCRIPT: ['string', 'string'],
  CHECKSCRIPT: ['string'],
  LISTSCRIPTS: [],
  SETACTIVE: ['string'],
  GETSCRIPT: ['string'],
  DELETESCRIPT: ['string'],
  RENAMESCRIPT: ['string', 'string'],
  UNAUTHENTICATE: [],
};

export function parseCommand(tokens: readonly Token[]): SieveCommand {
  const head = tokens[0];
  if (head === undefined) throw new CommandSyntaxError('empty command');
  if (head.kind !== 'atom') throw new CommandSyntaxError('a command starts with its name');
  const verb = head.value.toUpperCase() as Verb;
  const shape = SHAPES[verb];
  if (shape === undefined) throw new CommandSyntaxError(`unknown command ${head.value.slice(0, 40)}`);
  const args = tokens.slice(1);
  const required = shape.filter((s) => !s.endsWith('?')).length;
  if (args.length < required || args.length > shape.length)
    throw new CommandSyntaxError(`${verb} takes ${required === shape.length ? required : `${required} or ${shape.length}`} arguments`);
  const values: Array<string | number | null> = shape.map((s, i) => {
    const t = args[i];
    if (t === undefined) return null;
    if (s === 'number') {
      if (t.kind !== 'number') throw new CommandSyntaxError(`${verb}: argument ${i + 1} must be a number`);
      return t.value;
    }
    if (t.kind !== 'string') throw new CommandSyntaxError(`${verb}: argument ${i + 1} must be a quoted string or a literal`);
    return t.value;
  });
  const s = (i: number): string => values[i] as string;
  const o = (i: number): string | null => (values[i] as string | null) ?? null;
  switch (verb) {
    case 'NOOP':
      return { verb, tag: o(0) };
    case 'AUTHENTICATE':
      return { verb, mechanism: s(0), initial: o(1) };
    case 'HAVESPACE':
      return { verb, name: s(0), size: values[1] as number };
    case 'PUTSCRIPT':
      return { verb, name: s(0), content: s(1) };
    case 'CHECKSCRIPT':
      return { verb, content: s(0) };
    case 'SETACTIVE':
    case 'GETSCRIPT':
    case 'DELETESCRIPT':
      return { verb, name: s(0) };
    case 'RENAMESCRIPT':
      return { verb, from: s(0), to: s(1) };
    default:
      return { verb } as SieveCommand;
  }
}

/** RFC 5804 §1.6: script names are non-empty Unicode without controls; we cap them at 128 characters. */
export function validScriptName(name: string): boolean {
  return name.length > 0 && [...name].length <= 128 && !/[\x00-\x1f\x7f\u0080-\u009f\u2028\u2029]/.test(name);
}
