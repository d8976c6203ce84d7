/** Source text to the compiled form: size check, lexer, parser, validator. */
import { SieveSyntaxError } from './errors.js';
import { tokenize } from './lexer.js';
import type { SieveLimits } from './limits.js';
import { parse } from './parser.js';
import { validate, type CompiledScript } from './validate.js';

/** Throws SieveSyntaxError (with line and column) for a script that must not run. */
export function compile(source: string, limits: Pick<SieveLimits, 'maxScriptSize' | 'maxNesting'>): CompiledScript {
  const size = Buffer.byteLength(source);
  if (size > limits.maxScriptSize) throw new SieveSyntaxError(`the script is ${size} bytes, more than the limit of ${limits.maxScriptSize}`, 1, 1);
  // a token takes at least one byte: the size limit bounds the token count
  const tokens = tokenize(source, limits.maxScriptSize + 1);
  const tree = parse(tokens, limits.maxNesting);
  return validate(tree, { maxStringLength: limits.maxScriptSize });
}
