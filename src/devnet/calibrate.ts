// A new devnet's window, sized from the machine it runs on: one inner step of the run's shape is timed
// in a child process with one native thread (what each node process gets), then
//   contention = max(1, (miners + VALIDATOR_LOAD) / cores)       (every node shares the cores)
//   train_s    = H × step_ms × contention / 1000                    (one miner's window of training)
//   window_s   = max(minimum, train_s / share)                      (share = TRAIN_SHARE: training at most
//                                                                    half a window, so one more busy process
//                                                                    still fits; with overlap OVERLAP_TRAIN_SHARE:
//                                                                    miners train back to back, and a slower
//                                                                    window borrows from the next one's float)
//   validator_s = (miners × 4 × min(H, EVAL_BATCHES) + VAL_BATCHES) × step_ms × FORWARD_OF_STEP × contention / 1000
//                                                                   (the validator's fixed work per window: four
//                                                                    trial passes per miner over its evaluation batches)
//   window_s   = max(minimum, train_s / share, validator_s / VALIDATOR_SHARE)
// and blocksPerWindow = ceil(window_s × 1000 / blockMs). Miners still plan their steps each window
// (neurons/miner.ts), so a machine busier than this stays in time with fewer steps; the validator's work does
// not shrink, so it gets the margin: with it sized by the miners alone (15 s windows) it took 12–14 s a window
// idle and 16–19 s beside one busy process, falling behind.
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../util/paths.js';
import { EVAL_BATCHES, VAL_BATCHES } from '../neurons/scoring.js';

/** CPU a validator takes from the miners: it scores window W while they train W+1, a whole core meanwhile. */
export const VALIDATOR_LOAD = 1;
/** Share of an idle window the validator's evaluation may take (so one more busy process still fits). */
export const VALIDATOR_SHARE = 0.6;
/** A forward pass of a batch as a share of an inner step (forward, backward, optimizer). */
export const FORWARD_OF_STEP = 1 / 3;
/** Share of an idle window the training may take. */
export const TRAIN_SHARE = 0.5;
/**
 * With overlap: a window is trained from θ of W − 1 and its upload is due a window and 40% later, so a
 * miner whose training takes longer than calibrated starts later (up to a window) instead of missing its
 * deadline; the share can be close to 1. (Measured: bench/network.md "Communication behind compute".)
 */
export const OVERLAP_TRAIN_SHARE = 0.9;

export interface Calibration {
  stepMs: number;
  cores: number;
  contention: number;
  trainS: number;
  /** The validator's evaluation of every miner's upload, estimated (seconds). */
  validatorS: number;
  windowS: number;
  blocksPerWindow: number;
}

export interface CalibrationInput {
  preset: string; batch: number; seq: number; vocabSize: number; innerSteps: number; miners: number; blockMs: number; minBlocks: number; overlap?: boolean;
  /** Share of the window the training may take (default TRAIN_SHARE, or OVERLAP_TRAIN_SHARE with overlap). */
  share?: number;
  /** Share of the window the validator's evaluation may take (default VALIDATOR_SHARE; null: not counted). */
  validatorShare?: number | null;
}

/** The share a calibration uses. */
export const trainShareOf = (o: Pick<CalibrationInput, 'overlap' | 'share'>): number => o.share ?? (o.overlap ? OVERLAP_TRAIN_SHARE : TRAIN_SHARE);

/** The window for a measured step time (pure: see the header). */
export function windowFor(stepMs: number, o: Omit<CalibrationInput, 'preset' | 'batch' | 'seq' | 'vocabSize'>, cores: number): Calibration {
  const contention = Math.max(1, (o.miners + VALIDATOR_LOAD) / cores);
  const trainS = (o.innerSteps * stepMs * contention) / 1000;
  const passes = o.miners * 4 * Math.min(o.innerSteps, EVAL_BATCHES) + VAL_BATCHES;
  const validatorS = (passes * stepMs * FORWARD_OF_STEP * contention) / 1000;
  const needS = Math.max(trainS / trainShareOf(o), o.validatorShare === null ? 0 : validatorS / (o.validatorShare ?? VALIDATOR_SHARE));
  const blocksPerWindow = Math.max(o.minBlocks, Math.ceil((needS * 1000) / o.blockMs));
  return { stepMs, cores, contention, trainS, validatorS, windowS: (blocksPerWindow * o.blockMs) / 1000, blocksPerWindow };
}

/** Times the step in a child process (TESSERA_THREADS=1) and sizes the window; null if the measurement fails. */
export function calibrateWindow(o: CalibrationInput): Calibration | null {
  const r = spawnSync(process.execPath, [join(projectRoot(), 'bin', 'tessera.js'), 'bench', 'step', '--preset', o.preset, '--batch', String(o.batch), '--seq', String(o.seq),
    '--vocab-size', String(o.vocabSize), '--json'], { env: { ...process.env, TESSERA_THREADS: '1' }, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) return null;
  try {
    const ms = (JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { ms_per_step: number }).ms_per_step;
    return Number.isFinite(ms) && ms > 0 ? windowFor(ms, o, availableParallelism()) : null;
  } catch {
    return null;
  }
}
