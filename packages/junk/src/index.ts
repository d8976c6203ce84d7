/**
 * @postern/junk: the junk filter's tokens and classifier (issue 18). Pure: no I/O, no clock.
 * `tokenize` turns a message into bounded evidence, `classify` weighs it against a user's
 * training counts and says why. The delivery agent stores the counts per user.
 */
export { DEFAULT_TOKEN_LIMITS, tokenize, type TokenLimits } from './tokenize.js';
export {
  chi2Q,
  classify,
  combine,
  DEFAULT_CLASSIFY_OPTIONS,
  tokenProbability,
  type ClassifyOptions,
  type Clue,
  type Counts,
  type TokenCounts,
  type Verdict,
} from './classify.js';
export { MemoryTraining } from './memory.js';
