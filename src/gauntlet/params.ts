// The Gauntlet's constants (docs/protocol.md "Gauntlet"; (T) = what Templar uses). Every receipt carries
// the parameters it was computed with, so a change of defaults never breaks recomputing old receipts.
import { TesseraError } from '../util/errors.js';

export interface GauntletParams {
  /** Trial step of one miner's update, as a fraction of the outer α (T: 0.2). */
  scoreStep: number;
  /** Weight of the newest own-vs-random indicator (±1) in its moving average (T: 0.05). */
  indicatorAlpha: number;
  /** Evaluations before the own-data threshold applies (the moving average is bias-corrected). */
  indicatorWarmup: number;
  /**
   * After warm-up, no reward while the bias-corrected indicator average ma / (1 − (1 − α)^n) is below
   * this: 0.5 asks for at least ~75% "own data beats random" outcomes (a coin-flipping free-rider
   * averages 0 ± 0.16 at steady state).
   */
  indicatorThreshold: number;
  /** OpenSkill Plackett-Luce (T: beta 7, tau 0.1; mu 25, sigma 25/3 are the library defaults). */
  openskillBeta: number;
  openskillTau: number;
  /** Added to the ordinal μ − 3σ before it is clamped at 0 in the final score (openskill's target; T: 0). */
  ordinalShift: number;
  /** Probe distance (in typical per-window changes) at which the sync score reaches 0 (T: 3). */
  syncMaxBehind: number;
  /** Top-k index overlap (|A∩B| / k) at which an upload counts as a copy of an earlier one. */
  copyThreshold: number;
  /**
   * Two uploads of a window whose tensors overlapping ≥ tensorCopyOverlap hold this share of the kept
   * positions are a copy pair too (sketch.ts tensorCopyShare: a stitched upload takes whole tensors,
   * overlap 1; honest tensors share large-gradient rows — an embedding's frequent tokens — but seldom
   * nearly all of them).
   */
  tensorCopyShare: number;
  tensorCopyOverlap: number;
  /** Values in each tensor's bottom-k sketch (the tensor comparison). */
  tensorSketchSize: number;
  /** A pair measured on its shared tensors: the data decides its origin only when one side's improvement sum exceeds the other's by this share of the larger (window.ts originOf). */
  originMargin: number;
  /** Own earlier uploads (windows) an upload is compared with: a re-sent old update is a copy too. */
  copyLookback: number;
  /** Values in the bottom-k sketch of an upload's index set (overlap estimate ± ~1/√size). */
  sketchSize: number;
  /** Consecutive evaluations with a negative main score that zero the final score. */
  negativeStreak: number;
  /** An update whose norm exceeds this multiple of the window's median norm is rejected. */
  normOutlier: number;
  /**
   * Missing or late upload: the final score is multiplied by this (T: 0.75, which slashes the indicator
   * average too — tessera does not: a window without data is no evidence about whose data a miner trains on).
   */
  missingSlash: number;
  /** Invalid or copied upload: moving average multiplied by this (T: 0.5 for index similarity). */
  offenceSlash: number;
  /** Share of the weight for the aggregated peers (the rest to reserves) and the ramp top/bottom (T: 0.75, 2; tessera 1: reserves unpaid, weights.ts). */
  peerShare: number;
  peerTopRatio: number;
  /** Weight of the newest main score in the quality average (MinerState.quality). */
  qualityAlpha: number;
  /**
   * Peers and pay only for a quality average ≥ this × the maxPeers-th best among eligible miners
   * (window.ts): the final score ranks within the field, so junk ranked above worse junk reached
   * honest finals; its measured improvement stayed half an honest one.
   */
  qualityFloor: number;
  /**
   * Own-data depth gate (window.ts depthGate): once the maxPeers-th best depth average among eligible
   * miners is positive and ≥ depthActivation × the window's median random improvement (the model
   * remembers what it trains on: early windows leave even honest last batches at random-data level),
   * peers and pay need a depth average ≥ depthFloor × it, after depthMinEvals evaluations.
   * Absent (receipts before it): no depth gate.
   */
  depthFloor?: number;
  depthActivation?: number;
  depthMinEvals?: number;
  /** Peer rotation (weights.ts rotatePeers): proven miners within this share of the best final take turns in the peer slots. */
  rotationBand: number;
  /**
   * Evaluations after which a miner whose bias-corrected indicator average clears indicatorThreshold
   * takes part in the rotation before it is proven (absent: only proven miners rotate). Rotation only
   * among the proven left the first eight windows of a new network to the three best early ratings
   * (of 6 honest miners one earned 7.7%, min ÷ mean 0.46); from the 2nd evaluation it let unjudged
   * junk into the aggregate (combined scenario: adversaries 32%, loss +5.2%); from the 4th: 0.63, 12.8%.
   */
  rotationMinEvals?: number;
  /**
   * Rotation takes only miners with a quality average ≥ this × the quality gate's reference (absent:
   * any). Honest miners stood at ≥ 0.86 of it after their first window (0.75 in it); one inner step
   * scaled by H, a half-sign-flipped update and half a training at ≤ 0.73 — and rotation, which puts
   * the never-aggregated first, gave each of those a slot when they passed the 0.65 gate.
   */
  rotationQualityFloor?: number;
  /** Geometric decay of the reserves' weights (T: 0.75). */
  reserveDecay: number;
  /** An offence (any penalty but missing and late) bars weight and peer selection in its window and the next penaltyMemory − 1 ones. */
  penaltyMemory: number;
  /** Windows without any upload after which a miner's state is dropped (a fresh start if it returns). */
  inactiveReset: number;
  /**
   * A failed replay audit (WindowInputs.audits; neurons/audit.ts) bars weight and peer selection in its
   * window and the next auditBan − 1 ones (besides the 'audit' penalty's slash). Absent (receipts before
   * audits): audits are not scored.
   */
  auditBan?: number;
}

export const GAUNTLET_DEFAULTS: Readonly<GauntletParams> = Object.freeze({
  scoreStep: 0.2,
  indicatorAlpha: 0.05,
  indicatorWarmup: 8,
  indicatorThreshold: 0.5,
  openskillBeta: 7,
  openskillTau: 0.1,
  ordinalShift: 25,
  syncMaxBehind: 3,
  copyThreshold: 0.5,
  tensorCopyShare: 0.25,
  tensorCopyOverlap: 0.9,
  originMargin: 0.25,
  tensorSketchSize: 16,
  copyLookback: 3,
  sketchSize: 64,
  negativeStreak: 2,
  normOutlier: 5,
  missingSlash: 0.75,
  offenceSlash: 0.5,
  peerShare: 1,
  peerTopRatio: 2,
  reserveDecay: 0.75,
  rotationBand: 0.5,
  rotationMinEvals: 4,
  rotationQualityFloor: 0.8,
  qualityAlpha: 0.3,
  qualityFloor: 0.65,
  depthFloor: 0.3,
  depthActivation: 0.25,
  depthMinEvals: 4,
  penaltyMemory: 2,
  inactiveReset: 50,
  auditBan: 200,
});

/** Throws a TesseraError naming the first parameter out of its range. */
export function checkParams(p: GauntletParams): void {
  const ranges: [keyof GauntletParams, number, number, boolean][] = [
    ['scoreStep', 0, 10, false], ['indicatorAlpha', 0, 1, false], ['indicatorWarmup', 0, 1e6, true], ['indicatorThreshold', -1, 1, false],
    ['openskillBeta', 0, 1e3, false], ['openskillTau', 0, 1e3, false], ['ordinalShift', -1e3, 1e3, false], ['syncMaxBehind', 0, 1e6, false], ['copyThreshold', 0, 1, false], ['tensorCopyShare', 0, 1, false], ['tensorCopyOverlap', 0, 1, false], ['originMargin', 0, 1, false], ['tensorSketchSize', 1, 4096, true],
    ['copyLookback', 0, 64, true], ['sketchSize', 1, 4096, true], ['negativeStreak', 1, 1e6, true], ['normOutlier', 1, 1e6, false],
    ['missingSlash', 0, 1, false], ['offenceSlash', 0, 1, false], ['peerShare', 0, 1, false], ['peerTopRatio', 1, 1e6, false],
    ['reserveDecay', 0, 1, false], ['rotationBand', 0, 1, false], ['rotationMinEvals', 0, 1e6, true], ['rotationQualityFloor', 0, 1, false], ['qualityAlpha', 0, 1, false], ['qualityFloor', 0, 1, false], ['depthFloor', 0, 1, false], ['depthActivation', 0, 1e6, false], ['depthMinEvals', 0, 1e6, true], ['penaltyMemory', 0, 1e6, true], ['inactiveReset', 1, 1e9, true], ['auditBan', 1, 1e9, true],
  ];
  const optional: readonly (keyof GauntletParams)[] = ['depthFloor', 'depthActivation', 'depthMinEvals', 'rotationMinEvals', 'rotationQualityFloor', 'auditBan'];
  for (const [k, lo, hi, int] of ranges) {
    const v = p[k];
    if (v === undefined && optional.includes(k)) continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi || (int && !Number.isInteger(v))) {
      throw new TesseraError(`gauntlet parameter ${k} = ${String(v)} is outside [${lo}, ${hi}]${int ? ' (integer)' : ''}`);
    }
  }
  if (p.scoreStep === 0 || p.indicatorAlpha === 0 || p.openskillBeta === 0) throw new TesseraError('gauntlet scoreStep, indicatorAlpha and openskillBeta must be > 0');
}
