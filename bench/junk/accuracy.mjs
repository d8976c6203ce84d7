#!/usr/bin/env node
// bench/junk/accuracy: Postern's junk filter on the SpamAssassin public corpus (issue 18's split):
// train on spam-1 + easy-ham-1 + the odd-numbered hard-ham-1 files, test on spam-2 + easy-ham-2
// + the even-numbered hard-ham-1 files. Prints spam caught and ham marked spam at several
// thresholds (the curve), and the same corpus fed in arrival order with every mistake corrected
// by the user (online learning, as a real user trains it: train-on-error from nothing).
//
//   npx turbo run build --filter=@postern/junk && node bench/junk/accuracy.mjs [--threshold 0.9]
import { parseArgs } from 'node:util';
import { classify, MemoryTraining, tokenize } from '@postern/junk';
import { loadCorpus } from './corpus.mjs';

const { values } = parseArgs({ options: { threshold: { type: 'string', default: '0.9' }, json: { type: 'boolean', default: false } } });
const THRESHOLD = Number(values.threshold);

const t0 = performance.now();
const c = loadCorpus();
const odd = (m) => Number(m.id.slice(0, 5)) % 2 === 1;
const train = [
  ...c['spam-1'].map((m) => ({ ...m, spam: true })),
  ...c['easy-ham-1'].map((m) => ({ ...m, spam: false })),
  ...c['hard-ham-1'].filter(odd).map((m) => ({ ...m, spam: false })),
];
const test = [
  ...c['spam-2'].map((m) => ({ ...m, spam: true, group: 'spam' })),
  ...c['easy-ham-2'].map((m) => ({ ...m, spam: false, group: 'easy ham' })),
  ...c['hard-ham-1'].filter((m) => !odd(m)).map((m) => ({ ...m, spam: false, group: 'hard ham' })),
];
const tokensOf = new Map();
let tokenMs = 0;
for (const m of [...train, ...test]) {
  const t = performance.now();
  tokensOf.set(m, tokenize(m.raw));
  tokenMs += performance.now() - t;
}
const training = new MemoryTraining();
for (const m of train) training.learn(tokensOf.get(m), m.spam);
const scores = test.map((m) => ({ m, score: classify(tokensOf.get(m), training.counts(tokensOf.get(m))).score }));

const rate = (group, threshold) => {
  const g = scores.filter((s) => s.m.group === group);
  return (100 * g.filter((s) => s.score >= threshold).length) / g.length;
};
console.log(
  `corpus: ${train.length} messages to train, ${test.length} to test; tokenizing ${(tokenMs / (train.length + test.length)).toFixed(2)} ms a message; ${training.size} distinct tokens`,
);
console.log('\nthreshold\tspam caught\teasy ham as spam\thard ham as spam');
for (const th of [0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99]) {
  console.log(
    `${th}${th === THRESHOLD ? ' *' : ''}\t\t${rate('spam', th).toFixed(1)} %\t\t${rate('easy ham', th).toFixed(2)} %\t\t\t${rate('hard ham', th).toFixed(1)} %`,
  );
}

// Online: the whole corpus in arrival order (groups interleaved by their file order), nothing
// trained at first; a message the filter got wrong at THRESHOLD is trained as the user's
// correction (Junk button / move out of Junk), and every message the user did not correct
// is left untrained (what a user does: only mistakes get a click).
const all = [...train, ...test];
const order = all
  .map((m, i) => ({ m, key: `${m.id.slice(0, 5)}-${i % 7}` }))
  .sort((a, b) => (a.key < b.key ? -1 : 1))
  .map((x) => x.m);
const online = new MemoryTraining();
const result = { spam: [0, 0], ham: [0, 0] };
let corrections = 0;
for (const m of order) {
  const tokens = tokensOf.get(m);
  const junk = classify(tokens, online.counts(tokens)).score >= THRESHOLD;
  const side = m.spam ? 'spam' : 'ham';
  result[side][0]++;
  if (junk) result[side][1]++;
  if (junk !== m.spam) {
    online.learn(tokens, m.spam);
    corrections++;
  }
}
console.log(
  `\nonline (arrival order, train on error, threshold ${THRESHOLD}): spam caught ${((100 * result.spam[1]) / result.spam[0]).toFixed(1)} %, ` +
    `ham as spam ${((100 * result.ham[1]) / result.ham[0]).toFixed(2)} %, ${corrections} corrections over ${order.length} messages`,
);
console.log(`\n${((performance.now() - t0) / 1000).toFixed(1)} s`);
