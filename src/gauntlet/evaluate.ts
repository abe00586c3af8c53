// The forward passes behind LossScore: θ and θ − s·clip·α·update on the miner's assigned sequences
// and on random ones. Deterministic compute, no I/O. Cost per evaluated miner: 4 forward passes
// (before/after × assigned/random) over plan.own.length sequences each, in micro-batches of run.batch;
// the "before" losses cannot be shared between miners because every miner gets its own data.
import { applyAggregate, type SparseUpdate } from '../compress/index.js';
import { makeBatch } from '../data/index.js';
import { Graph, type Backend } from '../engine/index.js';
import { createLlama, type Llama } from '../model/index.js';
import type { RunConfig } from '../protocol/index.js';
import { evalLoss } from '../train/step.js';
import type { Tokens } from '../train/batches.js';
import type { EvalPlan, LossMeasure } from './loss-score.js';

export interface Evaluator {
  be: Backend;
  /** The shared model θ (never modified here). */
  model: Llama;
  /** θ + one trial update. */
  scratch: Llama;
  graph: Graph;
  tokens: Tokens;
  run: Pick<RunConfig, 'alpha' | 'batch' | 'seq' | 'codec'>;
}

export function makeEvaluator(be: Backend, model: Llama, tokens: Tokens, run: Evaluator['run']): Evaluator {
  return { be, model, scratch: createLlama(model.config), graph: new Graph(be, false), tokens, run };
}

/** Mean loss of `m` over the sequences at `offsets`, in micro-batches of run.batch (a short last one is fine). */
export function meanLoss(ev: Evaluator, m: Llama, offsets: readonly number[]): number {
  return batchLosses(ev, m, offsets).mean;
}

/** The mean loss over `offsets` and each micro-batch's own mean loss (in order). */
export function batchLosses(ev: Evaluator, m: Llama, offsets: readonly number[]): { mean: number; batches: number[] } {
  let sum = 0, n = 0;
  const batches: number[] = [];
  for (let i = 0; i < offsets.length; i += ev.run.batch) {
    const part = offsets.slice(i, i + ev.run.batch), b = makeBatch(ev.tokens, part, ev.run.seq);
    const loss = evalLoss(ev.be, m, b.inputs, b.targets, part.length, ev.run.seq, ev.graph);
    batches.push(loss);
    sum += loss * part.length;
    n += part.length;
  }
  return { mean: n > 0 ? sum / n : NaN, batches };
}

/**
 * Losses before and after θ − step·α·clipScale·update (step: GauntletParams.scoreStep; clipScale =
 * min(1, median norm / this norm), the aggregator's clip applied to one update).
 */
export function measureLosses(ev: Evaluator, update: SparseUpdate, plan: EvalPlan, step: number, clipScale: number): LossMeasure {
  const { model, scratch, run } = ev;
  const ownBefore = batchLosses(ev, model, plan.own), randomBefore = meanLoss(ev, model, plan.random);
  scratch.params.set(model.params);
  applyAggregate(scratch.params, [update], model.layout.specs, run.codec, step * run.alpha * clipScale);
  const ownAfter = batchLosses(ev, scratch, plan.own);
  return {
    own: { before: ownBefore.mean, after: ownAfter.mean },
    random: { before: randomBefore, after: meanLoss(ev, scratch, plan.random) },
    ownBatches: ownBefore.batches.map((before, i) => ({ before, after: ownAfter.batches[i]! })),
  };
}

/** Mean loss on the assigned sequences after θ − step·α·clipScale·update (a group's leave-one-out: one forward pass over plan.own). */
export function ownLossAfter(ev: Evaluator, update: SparseUpdate, plan: EvalPlan, step: number, clipScale: number): number {
  ev.scratch.params.set(ev.model.params);
  applyAggregate(ev.scratch.params, [update], ev.model.layout.specs, ev.run.codec, step * ev.run.alpha * clipScale);
  return meanLoss(ev, ev.scratch, plan.own);
}
