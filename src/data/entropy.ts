// Unigram baselines for judging validation loss: a model that beats these has learned more
// than token frequencies. All values are in nats per token.

/** Token frequency table over ids < vocabSize. */
export function unigramCounts(tokens: ArrayLike<number>, vocabSize: number, into: Float64Array = new Float64Array(vocabSize)): Float64Array {
  for (let i = 0; i < tokens.length; i++) into[tokens[i]]++;
  return into;
}

/** Entropy H(p) of the empirical unigram distribution p = counts / total. */
export function unigramEntropy(counts: Float64Array): number {
  let n = 0;
  for (const c of counts) n += c;
  if (n === 0) return 0;
  let h = 0;
  for (const c of counts) if (c > 0) h -= (c / n) * Math.log(c / n);
  return h;
}

/**
 * Mean cross-entropy of `tokens` under the add-one (Laplace) smoothed unigram model of `counts`:
 * p(t) = (counts[t] + 1) / (N + V). Smoothing keeps unseen validation tokens finite.
 */
export function unigramCrossEntropy(tokens: ArrayLike<number>, counts: Float64Array): number {
  if (tokens.length === 0) return 0;
  let n = 0;
  for (const c of counts) n += c;
  const logZ = Math.log(n + counts.length);
  let sum = 0;
  for (let i = 0; i < tokens.length; i++) sum += logZ - Math.log(counts[tokens[i]] + 1);
  return sum / tokens.length;
}

/** The same cross-entropy from a histogram of the evaluated tokens (no need to keep them). */
export function unigramCrossEntropyCounts(evalCounts: Float64Array, counts: Float64Array): number {
  let n = 0, m = 0, sum = 0;
  for (const c of counts) n += c;
  const logZ = Math.log(n + counts.length);
  evalCounts.forEach((c, t) => { if (c > 0) { m += c; sum += c * (logZ - Math.log(counts[t] + 1)); } });
  return m === 0 ? 0 : sum / m;
}
