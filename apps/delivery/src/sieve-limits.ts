/** The config's `sieve.*` as @postern/sieve's limits and the store's quota (ManageSieve and delivery share them). */
import type { Config, SieveQuota } from '@postern/core';
import { DEFAULT_LIMITS, type SieveLimits } from '@postern/sieve';

export function sieveLimits(config: Pick<Config, 'sieve'>): SieveLimits {
  const s = config.sieve;
  return {
    ...DEFAULT_LIMITS,
    maxScriptSize: s.max_script_size,
    maxNesting: s.max_nesting,
    maxActions: s.max_actions,
    maxRedirects: s.max_redirects,
    maxSteps: s.max_steps,
    maxIncludeDepth: s.max_include_depth,
    maxIncludes: s.max_includes,
    maxVariables: s.max_variables,
    maxVariableSize: s.max_variable_size,
    maxHeaderEdits: s.max_header_edits,
    vacationMinSeconds: Math.floor(s.vacation_min_period / 1000),
    vacationMaxSeconds: Math.floor(s.vacation_max_period / 1000),
    duplicateDefaultSeconds: Math.floor(s.duplicate_period / 1000),
    duplicateMaxSeconds: Math.floor(s.duplicate_max_period / 1000),
  };
}

export function sieveQuota(config: Pick<Config, 'sieve'>): SieveQuota {
  return { maxScripts: config.sieve.max_scripts, maxScriptSize: config.sieve.max_script_size };
}
