// LossScore (docs/protocol.md "Gauntlet"): the loss before and after applying ONE miner's clipped update
// with a reduced step, on (a) the miner's assigned data for the window and (b) random data. The main
// score is the relative improvement on random data; the indicator says whether the assigned data
// improved more (+1) or not (−1) — a miner that did not train on its own assignment (a copier, a
// lazy or stale miner, noise) flips a coin, an honest one wins nearly always.
// Evaluation data is seeded by (window, uid, validator hotkey, beacon), the beacon being the hash of
// the first chain block sealed after the window's upload deadline (neurons/chaintime.ts evalBeacon):
// nobody knows it before the deadline, so no miner can train on the batches it will be scored on or
// run the validator's scoring ahead of time; after the deadline anyone can recompute the choice, and
// nothing reads a clock (Templar drew it from wall-clock time).
import { trainingOffsets } from '../protocol/assignment.js';
import type { RunConfig } from '../protocol/run.js';
import { makeRng } from '../util/rng.js';
import type { GauntletParams } from './params.js';

export interface LossPair { before: number; after: number }

export interface LossMeasure {
  /** Mean loss on the miner's assigned sequences, before and after the trial step. */
  own: LossPair;
  /** Mean loss on the random sequences, before and after. */
  random: LossPair;
  /**
   * Each assigned batch's own mean loss, before and after (one per batch of run.batch sequences of
   * plan.own, in order): whether the update improves every assigned batch, not only their mean
   * (ownCoverage). Absent in receipts before v4.
   */
  ownBatches?: LossPair[];
}

export interface LossScore {
  /** Relative improvement on random data: the main score. */
  score: number;
  ownImprovement: number;
  randomImprovement: number;
  /** +1 when the assigned data improved relatively more than random data, else −1. */
  indicator: 1 | -1;
}

/** (before − after) / before; 0 when before is not a positive number. */
export function relImprovement(p: LossPair): number {
  return p.before > 0 && Number.isFinite(p.before) ? (p.before - p.after) / p.before : 0;
}

export function lossScore(m: LossMeasure): LossScore {
  const own = relImprovement(m.own), random = relImprovement(m.random);
  return { score: random, ownImprovement: own, randomImprovement: random, indicator: own > random ? 1 : -1 };
}

/**
 * Own-data depth: the mean, over the lower half (⌈n/2⌉ smallest) of the evaluated assigned batches, of
 * each batch's relative improvement less the random data's. An honest update trained on every assigned
 * batch lifts them all above random data once the model has learned enough to remember batches; one
 * that skipped part of its assignment (trained other data, one step, half the batches) leaves that
 * part at random-data level, and the lower half shows it — the mean over all batches (the indicator)
 * does not, since the trained part carries it. null without per-batch losses.
 */
export function ownDepth(m: LossMeasure): number | null {
  if (!m.ownBatches || m.ownBatches.length === 0) return null;
  const random = relImprovement(m.random);
  const ex = m.ownBatches.map((b) => relImprovement(b) - random).sort((a, b) => a - b), k = Math.ceil(ex.length / 2);
  const d = ex.slice(0, k).reduce((a, b) => a + b, 0) / k;
  return Number.isFinite(d) ? d : null;
}

/** The indicator's moving average after one more value (T: ma ← (1 − α)·ma + α·x). */
export function foldIndicator(ma: number, indicator: number, alpha: number): number {
  return (1 - alpha) * ma + alpha * indicator;
}

/** ma / (1 − (1 − α)^n): the average the n values would have without the zero start; 0 for n = 0. */
export function biasCorrected(ma: number, evals: number, alpha: number): number {
  return evals > 0 ? ma / (1 - Math.pow(1 - alpha, evals)) : 0;
}

/** False once warm-up is over and the bias-corrected indicator average is below the threshold. */
export function ownDataOk(ma: number, evals: number, p: Pick<GauntletParams, 'indicatorAlpha' | 'indicatorWarmup' | 'indicatorThreshold'>): boolean {
  return evals < p.indicatorWarmup || biasCorrected(ma, evals, p.indicatorAlpha) >= p.indicatorThreshold;
}

/**
 * Seed of the validator's evaluation choices for (window, uid): unknown before the upload deadline
 * (beacon: the hash of the first block sealed after it), reproducible after, clock-free.
 */
export const evalSeed = (window: number, uid: number, validatorHotkey: string, beacon: string): string => `tessera/gauntlet/eval/v2:${window}:${uid}:${validatorHotkey}:${beacon}`;

export interface EvalPlan {
  seed: string;
  /** Inner steps the batches were picked among: the miner's declared steps, clamped to 1..innerSteps. */
  steps: number;
  /** Sequence offsets (train split) of the assigned batches evaluated, and of the random sequences. */
  own: number[];
  random: number[];
}

/** Declared inner steps clamped into 1..innerSteps (an integer; not a number → innerSteps). */
export function clampSteps(steps: number, innerSteps: number): number {
  if (Number.isNaN(steps)) return innerSteps;
  return Math.max(1, Math.min(innerSteps, Math.floor(steps)));
}

/**
 * Which data a validator evaluates a miner on: `batches` of the batches the miner trained on — the
 * first `steps` of its H assigned batches (steps: what it declares it trained this window, default H,
 * clamped to 1..H) — picked by the seed (all of them when steps ≤ batches), and as many random
 * sequences from the same split. With steps = H the plan is the one of before steps existed.
 */
export function evalPlan(run: Pick<RunConfig, 'seed' | 'innerSteps' | 'batch' | 'seq'>, window: number, uid: number, validatorHotkey: string, beacon: string,
  nTokens: number, batches: number, steps: number = run.innerSteps): EvalPlan {
  const seed = evalSeed(window, uid, validatorHotkey, beacon), rng = makeRng(seed);
  const trained = clampSteps(steps, run.innerSteps);
  const assigned = trainingOffsets(run, uid, window, nTokens).slice(0, trained);
  const picked = new Set<number>();
  const want = Math.min(assigned.length, Math.max(1, batches));
  while (picked.size < want) picked.add(rng.nextInt(assigned.length));
  const own = [...picked].sort((a, b) => a - b).flatMap((h) => assigned[h]!);
  const random = own.map(() => rng.nextInt(nTokens - run.seq));
  return { seed, steps: trained, own, random };
}
