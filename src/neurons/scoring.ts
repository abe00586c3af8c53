// Validator scoring for this issue (the full Gauntlet comes next): each valid miner's loss
// improvement on a seeded held-out batch when its update alone is applied with a reduced step
// (0.2·α, Templar), an EMA of scores, normalized positive weights, and validation loss.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { applyAggregate } from '../compress/index.js';
import { makeBatch } from '../data/index.js';
import { Graph } from '../engine/index.js';
import { createLlama, type Llama } from '../model/index.js';
import { scoringOffsets } from '../protocol/index.js';
import { validationBatches, type Batch } from '../train/batches.js';
import { evaluate } from '../train/evaluate.js';
import { evalLoss } from '../train/step.js';
import type { Verified } from './gather.js';
import { writeJsonAtomic } from './status.js';
import type { Node } from './node.js';

/** Step of the single-miner trial update, relative to α (Templar: 0.2 × outer lr). */
export const SCORE_STEP = 0.2;
/** Weight of the newest window in the score EMA. */
export const SCORE_EMA = 0.3;
/** Fixed validation batches evaluated each window. */
export const VAL_BATCHES = 2;
const SCORES_FILE = 'scores.json';

export class Scorer {
  /** uid → EMA of per-window scores (missing or invalid uploads score 0). */
  readonly ema = new Map<number, number>();
  private readonly scratch: Llama;
  private readonly graph: Graph;
  private readonly val: Batch[];

  constructor(private readonly node: Node) {
    this.scratch = createLlama(node.run.model);
    this.graph = new Graph(node.be, false);
    this.val = validationBatches(node.data, node.run.batch, node.run.seq, VAL_BATCHES);
    const path = join(node.cfg.dataDir, SCORES_FILE);
    if (existsSync(path)) {
      try {
        const saved = JSON.parse(readFileSync(path, 'utf8')) as { runHash?: string; ema?: Record<string, number> };
        if (saved.runHash === node.runHash) for (const [u, s] of Object.entries(saved.ema ?? {})) if (Number.isFinite(s)) this.ema.set(Number(u), s);
      } catch { /* a damaged score file: start over */ }
    }
  }

  /** Relative loss improvement of θ − 0.2·α·update(uid) over θ, per valid miner, on window W's scoring batch. */
  windowScores(W: number, valid: readonly Verified[]): Map<number, number> {
    const { run, model, data, be } = this.node;
    const b = makeBatch(data.val, scoringOffsets(run.seed, W, run.batch, data.val.length, run.seq), run.seq);
    const before = evalLoss(be, model, b.inputs, b.targets, run.batch, run.seq, this.graph);
    const out = new Map<number, number>();
    for (const v of valid) {
      this.scratch.params.set(model.params);
      applyAggregate(this.scratch.params, [v.update], model.layout.specs, run.codec, SCORE_STEP * run.alpha);
      const after = evalLoss(be, this.scratch, b.inputs, b.targets, run.batch, run.seq, this.graph);
      out.set(v.uid, Number.isFinite(after) && before > 0 ? (before - after) / before : 0);
    }
    return out;
  }

  /** EMA update for every candidate (those without a score this window get 0); persisted to dataDir. */
  update(candidates: readonly number[], scores: ReadonlyMap<number, number>): void {
    for (const uid of new Set([...candidates, ...scores.keys()])) {
      const prev = this.ema.get(uid) ?? 0;
      this.ema.set(uid, (1 - SCORE_EMA) * prev + SCORE_EMA * (scores.get(uid) ?? 0));
    }
    writeJsonAtomic(join(this.node.cfg.dataDir, SCORES_FILE), { runHash: this.node.runHash, ema: Object.fromEntries(this.ema) });
  }

  /** Positive EMA scores normalized to sum 1 (ascending uids); empty when no miner scores above 0. */
  weights(): { uids: number[]; weights: number[] } {
    const pos = [...this.ema].filter(([, s]) => s > 0).sort((a, b) => a[0] - b[0]);
    const sum = pos.reduce((a, [, s]) => a + s, 0);
    return { uids: pos.map(([u]) => u), weights: pos.map(([, s]) => s / sum) };
  }

  /** Mean loss of θ on the fixed validation batches. */
  valLoss(): number {
    return evaluate(this.node.be, this.node.model, this.val, this.node.run.batch, this.node.run.seq);
  }
}
