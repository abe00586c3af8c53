// Deterministic choices every node can recompute from public seeds: a miner's training data for a
// window, the validator's held-out scoring batch, and the parameter indices a probe reports.
import { sampleWindows } from '../data/sampler.js';
import { makeRng } from '../util/rng.js';
import type { RunConfig } from './run.js';

/**
 * The miner's assignment for window W: innerSteps batches of `batch` sequence offsets each, from
 * sampleWindows(seed, uid, W, innerSteps·batch, ...). Step h uses element h.
 */
export function trainingOffsets(run: Pick<RunConfig, 'seed' | 'innerSteps' | 'batch' | 'seq'>, uid: number, window: number, nTokens: number): number[][] {
  const all = sampleWindows(run.seed, uid, window, run.innerSteps * run.batch, nTokens, run.seq);
  return Array.from({ length: run.innerSteps }, (_, h) => all.slice(h * run.batch, (h + 1) * run.batch));
}

/** Offsets (into the validation split) of the validator's scoring batch for window W. */
export function scoringOffsets(seed: number, window: number, count: number, nTokens: number, seq: number): number[] {
  if (nTokens < seq + 1) throw new RangeError(`scoring needs ${seq + 1} tokens, the split has ${nTokens}`);
  const rng = makeRng(`tessera/score/v1:${seed}:${window}`);
  return Array.from({ length: count }, () => rng.nextInt(nTokens - seq));
}

/** `count` distinct parameter indices in [0, total), ascending, seeded by the window only. */
export function probeIndices(window: number, total: number, count: number): number[] {
  const n = Math.min(count, total), rng = makeRng(`tessera/probe/v1:${window}`), seen = new Set<number>();
  while (seen.size < n) seen.add(rng.nextInt(total));
  return [...seen].sort((a, b) => a - b);
}
