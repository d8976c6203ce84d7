/**
 * The classifier: Gary Robinson's method as SpamBayes and Bogofilter use it.
 *
 * 1. Each token's spam probability from the user's counts, pulled towards 0.5 while the token is
 *    rare (Robinson's f(w) = (s·x + n·p(w)) / (s + n), with s = `unknownStrength`, x = 0.5):
 *    a word seen once in spam is weak evidence, not certainty.
 * 2. The `maxClues` tokens farthest from 0.5 (at least `minStrength` away) are the clues.
 * 3. Fisher's method combines them twice, once for "spam" and once for "ham": -2·Σ ln(f) is
 *    chi-square distributed with 2n degrees of freedom when the f are uniform (nothing to see),
 *    so each side's chi-square probability says how unlikely the clues are by chance. The
 *    score is (S − H + 1) / 2: near 1 spam, near 0 ham, and near 0.5 when the clues disagree
 *    (both sides strong) or say nothing — the "unsure" band that makes this method's mistakes
 *    rare, where naive Bayes is confidently wrong.
 *
 * Pure: counts in, score and reasons out. Where the counts live (mail.db, per user) is the
 * store's business; the classifier only needs `TokenCounts`.
 */

export interface Counts {
  spam: number;
  ham: number;
}

/** What the classifier needs from a user's training data. */
export interface TokenCounts {
  /** Messages trained as spam and as ham. */
  totals: Counts;
  /** Counts of the tokens asked for; a token never trained may be missing. */
  tokens: ReadonlyMap<string, Counts>;
}

export interface ClassifyOptions {
  /** Robinson's s: how many messages' worth of weight the 0.5 prior has (SpamBayes: 0.45). */
  unknownStrength: number;
  /** Clues used at most (SpamBayes: 150; 300 caught 2-3 % more spam at the same false positives, bench/junk). */
  maxClues: number;
  /** A token is a clue only this far from 0.5 (SpamBayes: 0.1). */
  minStrength: number;
}

export const DEFAULT_CLASSIFY_OPTIONS: Readonly<ClassifyOptions> = Object.freeze({ unknownStrength: 0.45, maxClues: 300, minStrength: 0.1 });

export interface Clue {
  token: string;
  /** The token's spam probability, f(w). */
  probability: number;
  spam: number;
  ham: number;
}

export interface Verdict {
  /** 0 (ham) … 1 (spam). */
  score: number;
  /** The clues, strongest first. */
  clues: Clue[];
  /** Messages the user trained: a score from few is weak. */
  trained: Counts;
}

/** Robinson's f(w) for one token. */
export function tokenProbability(c: Counts, totals: Counts, s: number): number {
  const spamRatio = totals.spam > 0 ? c.spam / totals.spam : 0;
  const hamRatio = totals.ham > 0 ? c.ham / totals.ham : 0;
  const n = c.spam + c.ham;
  if (n === 0 || spamRatio + hamRatio === 0) return 0.5;
  const p = spamRatio / (spamRatio + hamRatio);
  return (s * 0.5 + n * p) / (s + n);
}

/** P(chi-square with `v` degrees of freedom ≥ x2), for even v (the series of SpamBayes' chi2Q). */
export function chi2Q(x2: number, v: number): number {
  const m = x2 / 2;
  let term = Math.exp(-m);
  let sum = term;
  for (let i = 1; i < v / 2; i++) {
    term *= m / i;
    sum += term;
  }
  return Math.min(sum, 1);
}

export function classify(tokens: readonly string[], counts: TokenCounts, options: Partial<ClassifyOptions> = {}): Verdict {
  const o = { ...DEFAULT_CLASSIFY_OPTIONS, ...options };
  const candidates: Clue[] = [];
  for (const token of tokens) {
    const c = counts.tokens.get(token);
    if (!c) continue;
    const probability = tokenProbability(c, counts.totals, o.unknownStrength);
    if (Math.abs(probability - 0.5) >= o.minStrength) candidates.push({ token, probability, spam: c.spam, ham: c.ham });
  }
  candidates.sort((a, b) => Math.abs(b.probability - 0.5) - Math.abs(a.probability - 0.5) || (a.token < b.token ? -1 : 1));
  const clues = candidates.slice(0, o.maxClues);
  return { score: combine(clues.map((c) => c.probability)), clues, trained: counts.totals };
}

/** Fisher's combination of both sides; sums of logarithms, so no product underflows. */
export function combine(probabilities: readonly number[]): number {
  const n = probabilities.length;
  if (n === 0) return 0.5;
  let lnHam = 0;
  let lnSpam = 0;
  for (const p of probabilities) {
    // clamp: a probability of exactly 0 or 1 cannot come from f(w), but keep ln finite anyway
    const q = Math.min(Math.max(p, 1e-12), 1 - 1e-12);
    lnHam += Math.log(q);
    lnSpam += Math.log(1 - q);
  }
  const s = 1 - chi2Q(-2 * lnSpam, 2 * n);
  const h = 1 - chi2Q(-2 * lnHam, 2 * n);
  return (s - h + 1) / 2;
}
