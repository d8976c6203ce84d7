/** Every size, count and loop of the interpreter has a limit here; the config's `sieve.*` sets them. */
export interface SieveLimits {
  /** Bytes of script source (ManageSieve's quota per script, and include targets). */
  maxScriptSize: number;
  /** Blocks and tests nested inside each other. */
  maxNesting: number;
  /** Explicit actions one run may take (keep, fileinto, redirect, vacation, flags are free). */
  maxActions: number;
  /** Redirects per message. */
  maxRedirects: number;
  /** Commands, tests and comparisons one run may evaluate (a regex step counts as one). */
  maxSteps: number;
  /** Scripts included inside each other (RFC 6609 §3.2). */
  maxIncludeDepth: number;
  /** Distinct scripts one run may include in total. */
  maxIncludes: number;
  /** Variables one script may set (RFC 5229 §6). */
  maxVariables: number;
  /** Characters of one variable's value; longer values are cut (RFC 5229 §4.1). */
  maxVariableSize: number;
  /** addheader/deleteheader per run. */
  maxHeaderEdits: number;
  /** The shortest and longest vacation period (RFC 5230 §4.1, RFC 6131 §2). */
  vacationMinSeconds: number;
  vacationMaxSeconds: number;
  /** How long a duplicate id is remembered when the script gives no :seconds (RFC 7352 §3.2). */
  duplicateDefaultSeconds: number;
  duplicateMaxSeconds: number;
}

export const DEFAULT_LIMITS: Readonly<SieveLimits> = {
  maxScriptSize: 64 * 1024,
  maxNesting: 32,
  maxActions: 32,
  maxRedirects: 4,
  maxSteps: 100_000,
  maxIncludeDepth: 5,
  maxIncludes: 16,
  maxVariables: 128,
  maxVariableSize: 4096,
  maxHeaderEdits: 64,
  vacationMinSeconds: 86_400,
  vacationMaxSeconds: 90 * 86_400,
  duplicateDefaultSeconds: 7 * 86_400,
  duplicateMaxSeconds: 30 * 86_400,
};
