import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseCommand } from './command.js';

describe('parseCommand', () => {
  it('parses every command, keywords case-insensitive', () => {
    expect(parseCommand('user alice@example.org')).toEqual({ ok: true, command: { verb: 'USER', name: 'alice@example.org' } });
    expect(parseCommand('PASS secret with spaces')).toEqual({ ok: true, command: { verb: 'PASS', password: 'secret with spaces' } });
    expect(parseCommand('AUTH')).toEqual({ ok: true, command: { verb: 'AUTH', mechanism: null, initialResponse: null } });
    expect(parseCommand('auth plain AGEAYg==')).toEqual({
      ok: true,
      command: { verb: 'AUTH', mechanism: 'PLAIN', initialResponse: 'AGEAYg==' },
    });
    for (const verb of ['STLS', 'CAPA', 'STAT', 'NOOP', 'RSET', 'QUIT']) {
      expect(parseCommand(verb.toLowerCase())).toEqual({ ok: true, command: { verb } });
    }
    expect(parseCommand('LIST')).toEqual({ ok: true, command: { verb: 'LIST', msg: null } });
    expect(parseCommand('UIDL 12')).toEqual({ ok: true, command: { verb: 'UIDL', msg: 12 } });
    expect(parseCommand('RETR 1')).toEqual({ ok: true, command: { verb: 'RETR', msg: 1 } });
    expect(parseCommand('DELE 007')).toEqual({ ok: true, command: { verb: 'DELE', msg: 7 } });
    expect(parseCommand('TOP 3 0')).toEqual({ ok: true, command: { verb: 'TOP', msg: 3, lines: 0 } });
  });

  it('refuses bad arguments with the verb, and unknown keywords without', () => {
    expect(parseCommand('RETR')).toEqual({ ok: false, verb: 'RETR', message: 'RETR takes a message number' });
    expect(parseCommand('RETR x')).toMatchObject({ ok: false, verb: 'RETR' });
    expect(parseCommand('RETR 1 2')).toMatchObject({ ok: false, verb: 'RETR' });
    expect(parseCommand('RETR -1')).toMatchObject({ ok: false, verb: 'RETR' });
    expect(parseCommand('RETR 1e3')).toMatchObject({ ok: false, verb: 'RETR' });
    expect(parseCommand('RETR 9999999999')).toMatchObject({ ok: false, verb: 'RETR' });
    expect(parseCommand('TOP 1')).toMatchObject({ ok: false, verb: 'TOP' });
    expect(parseCommand('STAT 1')).toMatchObject({ ok: false, verb: 'STAT' });
    expect(parseCommand('USER')).toMatchObject({ ok: false, verb: 'USER' });
    expect(parseCommand('USER a b')).toMatchObject({ ok: false, verb: 'USER' });
    expect(parseCommand('PASS')).toMatchObject({ ok: false, verb: 'PASS' });
    expect(parseCommand('AUTH PLAIN a b')).toMatchObject({ ok: false, verb: 'AUTH' });
    expect(parseCommand('')).toEqual({ ok: false, verb: null, message: 'unknown command' });
    expect(parseCommand('APOP a b')).toEqual({ ok: false, verb: null, message: 'unknown command' });
    expect(parseCommand('STATS')).toEqual({ ok: false, verb: null, message: 'unknown command' });
    expect(parseCommand(' STAT')).toEqual({ ok: false, verb: null, message: 'unknown command' });
  });

  it('never throws, and numbers it accepts are safe non-negative integers', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), fc.constantFrom('', 'LIST ', 'RETR ', 'TOP ', 'USER ', 'AUTH '), (tail, head) => {
        const r = parseCommand(head + tail);
        if (r.ok && 'msg' in r.command && r.command.msg !== null) {
          expect(Number.isSafeInteger(r.command.msg) && r.command.msg >= 0).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('round-trips generated commands', () => {
    const n = fc.integer({ min: 0, max: 999_999_999 });
    fc.assert(
      fc.property(n, n, fc.constantFrom('RETR', 'dele', 'List', 'uidl'), (msg, lines, verb) => {
        expect(parseCommand(`${verb} ${msg}`)).toMatchObject({ ok: true, command: { verb: verb.toUpperCase(), msg } });
        expect(parseCommand(`TOP ${msg} ${lines}`)).toEqual({ ok: true, command: { verb: 'TOP', msg, lines } });
      }),
    );
  });
});
