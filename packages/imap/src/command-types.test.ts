import { describe, expect, expectTypeOf, it } from 'vitest';
import type { CommandOf } from './command.js';
import type { SequenceSet } from './sequence.js';
import { parseOne } from '../test/helpers.js';

describe('CommandOf', () => {
  it('narrows names that share a variant', () => {
    expectTypeOf<CommandOf<'DELETE'>['mailbox']>().toEqualTypeOf<string>();
    expectTypeOf<CommandOf<'DELETE'>['name']>().toEqualTypeOf<'DELETE'>();
    expectTypeOf<CommandOf<'SUBSCRIBE' | 'UNSUBSCRIBE'>['name']>().toEqualTypeOf<'SUBSCRIBE' | 'UNSUBSCRIBE'>();
    expectTypeOf<CommandOf<'EXAMINE'>['qresync']>().not.toBeNever();
    expectTypeOf<CommandOf<'MOVE'>['set']>().toEqualTypeOf<SequenceSet>();
    expectTypeOf<CommandOf<'NOOP'>['tag']>().toEqualTypeOf<string>();
    expectTypeOf<Extract<CommandOf<'EXPUNGE'>, { uid: true }>['set']>().toEqualTypeOf<SequenceSet>();
    const c = parseOne('a DELETE x\r\n') as CommandOf<'DELETE'>;
    expect(c.mailbox).toBe('x');
  });
});
