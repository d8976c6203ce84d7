import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseCommand } from './command.js';
import { CommandReader } from './reader.js';

describe('ManageSieve reader', () => {
  it('reads quoted strings, numbers, atoms and literals across chunks', () => {
    const r = new CommandReader(100, 1000);
    expect(r.push(Buffer.from('PUTSCRIPT "a\\"b" {5+}\r\nke'))).toEqual([]);
    const frames = r.push(Buffer.from('ep;\r\nHAVESPACE "x" 12\r\n'));
    expect(frames.map((f) => (f.kind === 'command' ? parseCommand(f.tokens) : f))).toEqual([
      { verb: 'PUTSCRIPT', name: 'a"b', content: 'keep;' },
      { verb: 'HAVESPACE', name: 'x', size: 12 },
    ]);
  });

  it('an oversized literal is an error frame and its octets are skipped', () => {
    const r = new CommandReader(100, 10);
    const frames = r.push(Buffer.from(`PUTSCRIPT "a" {20+}\r\n${'x'.repeat(20)}\r\nNOOP\r\n`));
    expect(frames.map((f) => f.kind)).toEqual(['error', 'command']);
  });

  it('never throws and never buffers past its limits on any input', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 20 }), (chunks) => {
        const r = new CommandReader(64, 128);
        for (const c of chunks) {
          for (const f of r.push(Buffer.from(c))) {
            if (f.kind === 'command') {
              try {
                parseCommand(f.tokens);
              } catch (e) {
                expect((e as Error).constructor.name).toBe('CommandSyntaxError');
              }
            }
          }
          expect((r as unknown as { buf: Buffer }).buf.length).toBeLessThanOrEqual(64 + 128 + 300 + 2);
        }
      }),
    );
  });
});
