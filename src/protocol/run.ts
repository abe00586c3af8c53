// The network hyperparameters every node of one run must share. Their canonical hash (hash.ts runHash)
// is the payload's model hash, so nodes of different runs or shapes refuse each other's payloads.
import type { ModelConfig } from '../model/config.js';
import type { CodecConfig } from '../compress/types.js';
import { TesseraError } from '../util/errors.js';

/** Network hyperparameters every node of one run must share (part of the run id's identity). */
export interface RunConfig {
  /** Versions every storage key: nodes of different runs never read each other's objects. */
  runId: string;
  model: ModelConfig;
  /** window = floor(block / blocksPerWindow). */
  blocksPerWindow: number;
  /** Upload deadline: seconds after the chain timestamp of the first block of window W+1. */
  deadlineS: number;
  /** Inner steps per window (H). */
  innerSteps: number;
  batch: number;
  seq: number;
  innerLr: number;
  warmup: number;
  /** Outer SGD step α. */
  alpha: number;
  codec: CodecConfig;
  indexMode: '12bit' | 'entropy';
  /** Validator: checkpoint every this many windows. */
  checkpointEvery: number;
  /** Validator: set weights every this many windows. */
  weightsEvery: number;
  /** Peers aggregated per window (the best by score); the rest are reserves. */
  maxPeers: number;
  /** Seed of initialization and of the data assignment (seed, uid, window). */
  seed: number;
  /**
   * Communication behind compute (docs/protocol.md "Overlap"): a miner trains window W while θ is at
   * window W − 1 (from θ_{W−1} less its own update of W − 1: the eager base), so the upload of W − 1 and
   * the gather and apply of W − 1's aggregate run while W trains. Absent/false: W trains from θ of W.
   */
  overlap?: boolean;
  /**
   * Content hash of the dataset (data/dataset-index.ts datasetHash: tokenizer, every shard's sha256 and
   * chunk table, the validation split, the sampler): part of the run hash, so nodes training on other
   * tokens refuse each other. Absent in runs made before datasets were published (then nothing checks the data).
   */
  dataHash?: string;
  /**
   * Share of a window's uploads its evaluation beacon picks for a replay audit (neurons/audit.ts; each
   * picked miner reveals its pre-training state, a validator re-runs its window). Absent: AUDIT_RATE.
   */
  auditRate?: number;
}

/** The window whose model θ a miner trains window W from (before the eager step, miner.ts): W − 1 with overlap, W without. */
export function trainingBase(run: Pick<RunConfig, 'overlap'>, W: number): number {
  return run.overlap ? W - 1 : W;
}

/**
 * Refuses a run whose upload deadline does not end inside one window at this block time (ms). Window
 * W's deadline is deadlineS after W+1 starts and the leader aggregates W only then; with deadlineS ≥ a
 * window, W's aggregate lands in W+2 or later, so a miner that must apply it before training W+1 is
 * always catching up and never trains. Only the CLI and the devnet know the block time, so they call this.
 */
export function checkRunTiming(run: Pick<RunConfig, 'blocksPerWindow' | 'deadlineS'>, blockMs: number): void {
  if (!(Number.isFinite(blockMs) && blockMs > 0)) throw new RangeError(`blockMs must be > 0, got ${blockMs}`);
  const windowS = (run.blocksPerWindow * blockMs) / 1000;
  if (run.deadlineS >= windowS) {
    throw new TesseraError(
      `run deadlineS ${run.deadlineS} s is not shorter than a window (${run.blocksPerWindow} blocks × ${blockMs} ms = ${windowS} s): ` +
        `the leader aggregates window W only after its deadline, in window W+2 or later, so miners would spend every window catching up and never train`,
      `lower deadlineS (--deadline-s) below ${windowS} s (the devnet default is 40% of a window, at least 2 s), or lengthen the window ` +
        `(more blocksPerWindow with --blocks-per-window, or a slower chain with --block-ms)`);
  }
}
