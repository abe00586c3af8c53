// The Gauntlet (docs/protocol.md "Gauntlet"): how a validator scores miners — LossScore on assigned and
// random data, the own-data indicator, sync from probes, OpenSkill ratings, penalties (copies
// included), final scores, weights and the next peer list (eligible miners only) — as pure functions
// of a JSON state and the window's measurements, with a receipt per window that recomputes exactly,
// and its explanation.
export { GAUNTLET_DEFAULTS, checkParams, type GauntletParams } from './params.js';
export {
  emptyState, freshMiner, cloneState, serializeState, parseState, PENALTY_KINDS,
  type GauntletState, type MinerState, type PenaltyKind, type Rating,
} from './state.js';
export {
  lossScore, relImprovement, foldIndicator, biasCorrected, ownDataOk, ownDepth, evalSeed, evalPlan, clampSteps,
  type LossPair, type LossMeasure, type LossScore, type EvalPlan,
} from './loss-score.js';
export { makeEvaluator, measureLosses, meanLoss, ownLossAfter, type Evaluator } from './evaluate.js';
export { meanAbsDiff, windowsBehind, syncScore, foldChange } from './sync-score.js';
export { newRating, ordinalOf, matchRanks, rateMatch, type MatchEntry } from './ratings.js';
export { updateNorm, indexSketch, sketchOverlap, tensorSketches, tensorCopyShare, sharedTensors } from './sketch.js';
export { detectCopies, type Sighting, type PastUpload, type CopyFinding, type CopyReport } from './copies.js';
export { finalScore, rankPositive, shapeWeights, recentlyPenalized, eligibleFinals, provenMiners, selectPeers, rotatePeers, tiers, type WeightShape } from './weights.js';
export {
  scoreWindow, originOf, referenceMedian, pairTensorShare, qualityGate, depthGate, readableTimes, effectiveShares, splitGroupWeights, spreadGroups, type GroupInput, type UploadStatus, type Measured, type MinerInput, type AuditInput, type WindowInputs, type Penalty, type MinerResult, type WindowResult,
} from './window.js';
export {
  RECEIPT_FORMAT, RECEIPT_VERSION, scoreWithReceipt, recomputeFromReceipt, verifyReceipt, encodeReceipt, parseReceipt, stateHash, type ScoreReceipt,
} from './receipt.js';
export { explainUid } from './explain.js';
