/**
 * @postern/sieve: a Sieve interpreter (RFC 5228) with the extensions CAPABILITIES lists.
 *
 * Invariants:
 * - Pure: no I/O, no clock unless the environment gives none (currentdate then reads the time).
 *   What a script needs from the store comes through SieveEnvironment; what it decides comes back
 *   as a list of actions for the caller to commit.
 * - `compile` either returns a script that can run or throws SieveSyntaxError with a line and
 *   a column; the executor never meets an unknown command or a malformed argument.
 * - Every run is bounded (SieveLimits): script size, nesting, a step budget charged for each
 *   command, test, comparison and regex step (regexes run on a Pike VM, linear time), actions,
 *   redirects, includes, variables, header edits. A run past a limit throws SieveRuntimeError,
 *   and the caller keeps the message (RFC 5228 §2.10.6).
 */
export { compile } from './compile.js';
export { SieveRuntimeError, SieveSyntaxError } from './errors.js';
export { execute, type BodyTransform, type SieveAction, type SieveEnvironment, type SieveHeaderField, type SieveMessage, type SieveResult } from './execute.js';
export { DEFAULT_LIMITS, type SieveLimits } from './limits.js';
export { CAPABILITIES, type CompiledScript } from './validate.js';
export { vacationKey, vacationRefusal, vacationReply, type VacationReplyOptions } from './vacation.js';
export { addressList } from './address.js';
