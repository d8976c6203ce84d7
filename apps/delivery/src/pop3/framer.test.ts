import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LineFramer, type FrameEvent } from './framer.js';

const lines = (events: FrameEvent[]): string[] => events.map((e) => (e.kind === 'line' ? e.line.toString() : '<too-long>'));

describe('LineFramer', () => {
  it('splits CRLF and bare LF lines across chunks', () => {
    const f = new LineFramer(100);
    expect(lines(f.push(Buffer.from('STAT\r\nLI')))).toEqual(['STAT']);
    expect(lines(f.push(Buffer.from('ST\r')))).toEqual([]);
    expect(lines(f.push(Buffer.from('\nNOOP\n\r\n')))).toEqual(['LIST', 'NOOP', '']);
  });

  it('reports a too-long line once, before its end arrives, and drops the rest of it', () => {
    const f = new LineFramer(10);
    expect(lines(f.push(Buffer.from('0123456789A')))).toEqual(['<too-long>']);
    expect(lines(f.push(Buffer.alloc(1_000_000, 0x41)))).toEqual([]);
    expect(lines(f.push(Buffer.from('tail\r\nQUIT\r\n')))).toEqual(['QUIT']);
    expect(lines(f.push(Buffer.from('0123456789ABC\r\nNOOP\r\n')))).toEqual(['<too-long>', 'NOOP']);
    // Exactly at the limit (CR included) is fine.
    expect(lines(f.push(Buffer.from('012345678\r\n')))).toEqual(['012345678']);
  });

  it('gives the same lines however the input is chunked', () => {
    fc.assert(
      fc.property(fc.array(fc.stringMatching(/^[ -~]{0,20}$/), { maxLength: 20 }), fc.array(fc.nat(30)), (ls, cuts) => {
        const input = Buffer.from(ls.map((l) => `${l}\r\n`).join(''));
        const f = new LineFramer(1000);
        const got: string[] = [];
        let pos = 0;
        for (const c of cuts) {
          got.push(...lines(f.push(input.subarray(pos, pos + c))));
          pos += c;
        }
        got.push(...lines(f.push(input.subarray(pos))));
        expect(got).toEqual(ls);
      }),
    );
  });
});
