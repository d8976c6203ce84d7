/** The two ways a Sieve script fails: before it runs (with a place) and while it runs. */

/** A script that does not parse or validate (RFC 5228 §2.10.6: the script is not run at all). */
export class SieveSyntaxError extends Error {
  constructor(
    readonly reason: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(`line ${line}, column ${column}: ${reason}`);
    this.name = 'SieveSyntaxError';
  }
}

/**
 * A run-time failure (RFC 5228 §2.10.6): a limit reached, an include that is missing, a
 * conflict of actions. The caller falls back to implicit keep and tells the user.
 */
export class SieveRuntimeError extends Error {
  constructor(
    message: string,
    readonly line = 0,
  ) {
    super(line ? `line ${line}: ${message}` : message);
    this.name = 'SieveRuntimeError';
  }
}
