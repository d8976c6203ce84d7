import { describe, expect, it } from 'vitest';
import { ImapFramer, type FrameEvent } from './framing.js';
import { FramingError } from './errors.js';
import { run } from '../test/helpers.js';

function events(framer: ImapFramer): FrameEvent[] {
  const out: FrameEvent[] = [];
  for (let ev = framer.next(); ev; ev = framer.next()) out.push(ev);
  return out;
}

function lines(ev: FrameEvent | undefined): string[] {
  if (ev?.kind !== 'command') throw new Error(`expected a command, got ${ev?.kind}`);
  return ev.unit.lines.map((l) => l.toString('latin1'));
}

describe('ImapFramer', () => {
  it('yields one unit per command line, CRLF or bare LF', () => {
    const f = new ImapFramer();
    f.push(Buffer.from('a1 NOOP\r\na2 CAPABILITY\na3 LOG'));
    const evs = events(f);
    expect(evs.map(lines)).toEqual([['a1 NOOP'], ['a2 CAPABILITY']]);
    f.push(Buffer.from('OUT\r\n'));
    expect(lines(f.next() ?? undefined)).toEqual(['a3 LOGOUT']);
    expect(f.next()).toBeNull();
  });

  it('asks before a synchronizing literal and makes the literal part of the unit', () => {
    const f = new ImapFramer();
    f.push(Buffer.from('A1 APPEND INBOX (\\Seen) {5}\r\n'));
    const ev = f.next();
    expect(ev).toEqual({ kind: 'literal', tag: 'A1', size: 5, binary: false });
    expect(f.awaitingLiteral).toBe(true);
    expect(f.next()).toBeNull();
    f.acceptLiteral();
    f.push(Buffer.from('hel'));
    expect(f.next()).toBeNull();
    f.push(Buffer.from('lo\r\nA2 NOOP\r\n'));
    const cmd = f.next();
    if (cmd?.kind !== 'command') throw new Error('no command');
    expect(cmd.unit.lines.map(String)).toEqual(['A1 APPEND INBOX (\\Seen) {5}', '']);
    expect(cmd.unit.literals.map((l) => l.data.toString())).toEqual(['hello']);
    expect(cmd.unit.size).toBe('A1 APPEND INBOX (\\Seen) {5}'.length + 5);
    expect(lines(f.next() ?? undefined)).toEqual(['A2 NOOP']);
  });

  it('lets the server refuse a synchronizing literal; the next line is a new command', () => {
    const f = new ImapFramer();
    f.push(Buffer.from('A1 APPEND INBOX {999999}\r\nA2 NOOP\r\n'));
    expect(f.next()?.kind).toBe('literal');
    f.rejectLiteral();
    expect(lines(f.next() ?? undefined)).toEqual(['A2 NOOP']);
  });

  it('reads non-synchronizing literals without asking, and literal8', () => {
    const r = run('A1 APPEND INBOX {3+}\r\nabc ~{4+}\r\n\0\0\0\0\r\nA2 NOOP\r\n');
    expect(r.continuations).toBe(0);
    const ev = r.events[0];
    if (ev?.kind !== 'command') throw new Error('no command');
    expect(ev.unit.literals).toEqual([
      { data: Buffer.from('abc'), binary: false, nonSync: true },
      { data: Buffer.alloc(4), binary: true, nonSync: true },
    ]);
    expect(r.commands.map((c) => c.name)).toEqual(['APPEND', 'NOOP']);
  });

  it('frames identically whatever the chunking (byte by byte included)', () => {
    const wire = 'A1 LOGIN {4}\r\nuser {4+}\r\npass\r\nA2 SELECT "INBOX"\r\nA3 IDLE\r\n';
    const whole = run(wire).commands;
    for (const sizes of [[1], [2], [3, 7], [5, 1, 11]]) {
      expect(run(wire, { chunkSizes: sizes }).commands).toEqual(whole);
    }
    expect(whole.map((c) => c.name)).toEqual(['LOGIN', 'SELECT', 'IDLE']);
  });

  it('treats a zero-length synchronizing literal as complete once accepted', () => {
    const f = new ImapFramer();
    f.push(Buffer.from('A1 LOGIN {0}\r\n'));
    expect(f.next()?.kind).toBe('literal');
    f.acceptLiteral();
    expect(f.next()).toBeNull();
    f.push(Buffer.from(' x\r\n'));
    const ev = f.next();
    expect(ev?.kind).toBe('command');
  });

  it('returns raw lines for AUTHENTICATE and IDLE without literal processing', () => {
    const f = new ImapFramer();
    f.push(Buffer.from('A1 AUTHENTICATE PLAIN\r\nAHVzZXIAcGFzcw==\r\nA2 IDLE\r\nDONE {5}\r\nA3 NOOP\r\n'));
    expect(lines(f.next() ?? undefined)).toEqual(['A1 AUTHENTICATE PLAIN']);
    f.readRawLine();
    expect(f.next()).toEqual({ kind: 'line', line: Buffer.from('AHVzZXIAcGFzcw==') });
    expect(lines(f.next() ?? undefined)).toEqual(['A2 IDLE']);
    f.readRawLine();
    expect(f.next()).toEqual({ kind: 'line', line: Buffer.from('DONE {5}') });
    expect(lines(f.next() ?? undefined)).toEqual(['A3 NOOP']);
  });

  it('reports an overlong line with its tag as soon as the limit passes, without buffering it', () => {
    const f = new ImapFramer({ maxLineLength: 1024 });
    f.push(Buffer.from(`A7 LOGIN ${'x'.repeat(2000)}`));
    const ev = f.next();
    expect(ev?.kind).toBe('error');
    if (ev?.kind !== 'error') return;
    expect(ev.error).toBeInstanceOf(FramingError);
    expect(ev.error.code).toBe('LINE_TOO_LONG');
    expect(ev.error.tag).toBe('A7');
    expect(ev.error.fatal).toBe(false);
    // The rest of the 10 MB line streams through without piling up.
    for (let i = 0; i < 100; i++) {
      f.push(Buffer.alloc(100_000, 0x78));
      expect(f.next()).toBeNull();
      expect(f.buffered).toBe(0);
    }
    f.push(Buffer.from('\r\nA8 NOOP\r\n'));
    expect(lines(f.next() ?? undefined)).toEqual(['A8 NOOP']);
  });

  it('skips the non-synchronizing literal of a rejected command instead of reading it as commands', () => {
    const evil = 'A9 LOGOUT\r\n';
    const r = run(`A1 APPEND INBOX ${'('.repeat(100)}{${evil.length}+}\r\n${evil}\r\nA2 NOOP\r\n`, {
      limits: { maxLineLength: 50 },
    });
    expect(r.framingErrors.map((e) => [e.code, e.tag])).toEqual([['LINE_TOO_LONG', 'A1']]);
    expect(r.commands.map((c) => c.tag)).toEqual(['A2']);
  });

  it('spots a literal marker split across chunks at the end of an overlong line', () => {
    const evil = 'A9 LOGOUT\r\n';
    const wire = `A1 APPEND INBOX ${'x'.repeat(100)} {${evil.length}+}\r\n${evil}\r\nA2 NOOP\r\n`;
    for (const sizes of [[1], [3], [60, 1], [113, 2]]) {
      const r = run(wire, { limits: { maxLineLength: 50 }, chunkSizes: sizes });
      expect(r.commands.map((c) => c.tag)).toEqual(['A2']);
    }
  });

  it('refuses a literal above maxLiteralSize: sync ones are never asked for, non-sync ones are skipped', () => {
    const sync = run('A1 APPEND INBOX {2000}\r\nA2 NOOP\r\n', { limits: { maxLiteralSize: 1000 } });
    expect(sync.continuations).toBe(0);
    expect(sync.framingErrors.map((e) => [e.code, e.tag, e.fatal])).toEqual([['LITERAL_TOO_BIG', 'A1', false]]);
    expect(sync.commands.map((c) => c.tag)).toEqual(['A2']);

    const body = 'A3 DELETE INBOX\r\n'.repeat(100);
    const nonSync = run(`A1 APPEND INBOX {${body.length}+}\r\n${body}\r\nA2 NOOP\r\n`, { limits: { maxLiteralSize: 1000 } });
    expect(nonSync.framingErrors.map((e) => e.code)).toEqual(['LITERAL_TOO_BIG']);
    expect(nonSync.commands.map((c) => c.tag)).toEqual(['A2']);
  });

  it('limits non-synchronizing literals to 4096 octets under LITERAL- (RFC 7888 §4)', () => {
    const big = 'x'.repeat(4097);
    const r = run(`A1 APPEND INBOX {4097+}\r\n${big}\r\nA2 APPEND INBOX {4096+}\r\n${big.slice(1)}\r\n`, {
      limits: { literalMinus: true },
    });
    expect(r.framingErrors.map((e) => [e.code, e.tag])).toEqual([['NON_SYNC_LITERAL_TOO_BIG', 'A1']]);
    expect(r.commands.map((c) => c.tag)).toEqual(['A2']);
  });

  it('limits the total command size across lines and literals (MULTIAPPEND)', () => {
    const msg = 'y'.repeat(400);
    const r = run(`A1 APPEND INBOX {400+}\r\n${msg} {400+}\r\n${msg} {400+}\r\n${msg}\r\nA2 NOOP\r\n`, {
      limits: { maxCommandSize: 1000 },
    });
    expect(r.framingErrors.map((e) => [e.code, e.tag])).toEqual([['COMMAND_TOO_BIG', 'A1']]);
    expect(r.commands.map((c) => c.tag)).toEqual(['A2']);
  });

  it('marks an absurd non-synchronizing literal size as fatal', () => {
    const r = run('A1 APPEND INBOX {99999999999999999999+}\r\nA2 NOOP\r\n');
    expect(r.framingErrors.map((e) => [e.code, e.fatal])).toEqual([['LITERAL_TOO_BIG', true]]);
  });

  it('throws a fatal BUFFER_OVERFLOW from push when input is not consumed', () => {
    const f = new ImapFramer({ maxBuffered: 1000, highWaterMark: 500 });
    expect(f.push(Buffer.alloc(400, 0x41))).toBe(true);
    expect(f.push(Buffer.alloc(400, 0x41))).toBe(false);
    expect(() => f.push(Buffer.alloc(400, 0x41))).toThrow(FramingError);
  });

  it('reports a raw line that is too long without a tag and recovers', () => {
    const f = new ImapFramer({ maxLineLength: 20 });
    f.push(Buffer.from(`A1 AUTHENTICATE PLAIN\r\n${'Q'.repeat(100)}\r\nA2 NOOP\r\n`));
    // The command line itself is 21 octets: raise the limit a little for it.
    f.setLimits({ maxLineLength: 21 });
    expect(lines(f.next() ?? undefined)).toEqual(['A1 AUTHENTICATE PLAIN']);
    f.readRawLine();
    const ev = f.next();
    expect(ev?.kind === 'error' && ev.error.code === 'LINE_TOO_LONG' && ev.error.tag === null).toBe(true);
    expect(lines(f.next() ?? undefined)).toEqual(['A2 NOOP']);
  });

  it('keeps the tag of a command whose later segment is too long', () => {
    const r = run(`A5 LOGIN {3+}\r\nbob ${'z'.repeat(200)}\r\nA6 NOOP\r\n`, { limits: { maxLineLength: 100 } });
    expect(r.framingErrors.map((e) => e.tag)).toEqual(['A5']);
    expect(r.commands.map((c) => c.tag)).toEqual(['A6']);
  });
});

describe('ImapFramer literal spool', () => {
  /** A spool in memory that records what the framer did with it. */
  function recordingSpool(threshold: number, failAt = Number.POSITIVE_INFINITY) {
    const log: string[] = [];
    let written: Buffer[] = [];
    const spool = {
      threshold,
      open(size: number) {
        log.push(`open ${size}`);
        written = [];
        return {
          write(piece: Buffer) {
            if (Buffer.concat(written).length + piece.length > failAt) throw new Error('ENOSPC');
            log.push(`write ${piece.length}`);
            written.push(Buffer.from(piece));
          },
          finish() {
            log.push('finish');
            return Buffer.concat(written);
          },
          discard() {
            log.push('discard');
          },
        };
      },
    };
    return { spool, log };
  }

  it('sends a literal over the threshold to the spool as it arrives and reads it back whole', () => {
    const f = new ImapFramer();
    const { spool, log } = recordingSpool(4);
    f.setLiteralSpool(spool);
    f.push(Buffer.from('A1 APPEND INBOX {10}\r\n'));
    expect(f.next()?.kind).toBe('literal');
    f.acceptLiteral();
    f.push(Buffer.from('01234'));
    expect(f.next()).toBeNull();
    f.push(Buffer.from('56789\r\nA2 APPEND INBOX {3+}\r\nabc\r\n'));
    const evs = events(f);
    expect(evs.map((e) => (e.kind === 'command' ? e.unit.literals.map((l) => l.data.toString()) : e.kind))).toEqual([['0123456789'], ['abc']]);
    // the small literal stayed in memory
    expect(log).toEqual(['open 10', 'write 5', 'write 5', 'finish']);
  });

  it('a spool that fails refuses the command with LITERAL_SPOOL_FAILED, skips the rest of the literal and reads on', () => {
    const f = new ImapFramer();
    const { spool, log } = recordingSpool(4, 6);
    f.setLiteralSpool(spool);
    f.push(Buffer.from('A1 APPEND INBOX {12+}\r\n0123456789AB\r\nA2 NOOP\r\n'));
    const evs = events(f);
    expect(evs[0]?.kind === 'error' && evs[0].error.code).toBe('LITERAL_SPOOL_FAILED');
    expect(evs[0]?.kind === 'error' && evs[0].error.tag).toBe('A1');
    expect(lines(evs[1])).toEqual(['A2 NOOP']);
    expect(evs).toHaveLength(2);
    expect(log).toEqual(['open 12', 'discard']);
  });

  it('close() discards a literal half-received', () => {
    const f = new ImapFramer();
    const { spool, log } = recordingSpool(4);
    f.setLiteralSpool(spool);
    f.push(Buffer.from('A1 APPEND INBOX {100+}\r\n0123456789'));
    expect(f.next()).toBeNull();
    f.close();
    expect(log).toEqual(['open 100', 'write 10', 'discard']);
  });
});
