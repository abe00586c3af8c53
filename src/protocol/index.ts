// The rules of the network, all pure: window math on chain time, the ONE storage-key builder, run
// identity, payload signing and verification, the leader's records, peer ranking, deterministic
// assignments, and the checkpoint object.
export type { RunConfig } from './run.js';
export { checkRunTiming, trainingBase } from './run.js';
export { windowOf, firstBlockOf, deadlineBlockOf, uploadDeadlineMs, isLate } from './window.js';
export { keys, runPrefix, checkRunId, PROTOCOL_VERSION } from './keys.js';
export { canonicalJson, sha256Hex, runHash } from './hash.js';
export { signPayload, verifyPayload, type PayloadSigner, type PayloadExpect, type VerifyReason, type VerifyResult } from './sign.js';
export {
  encodeRecord, parseRecord, MAX_RECORD_BYTES,
  type StartRecord, type RunPointer, type PeerList, type AggregateRecord, type CheckpointPointer, type ProbeRecord, type ProtocolRecord, type ParseResult,
} from './records.js';
export { leaderOf, minerUids, rankPeers, fillSlots, reserveCount } from './peers.js';
export { trainingOffsets, scoringOffsets, probeIndices } from './assignment.js';
export { encodeCheckpoint, decodeCheckpoint, CHECKPOINT_OBJECT_FORMAT, type CheckpointObjectMeta, type CheckpointDecode } from './checkpoint.js';
export { validatorOrder, inTimeAnchors, leaderAmong, slotOrder, chooseAggregate, chooseVouched, vouching, observationOrder, ANCHOR_ORDER_SLOTS, PEER_LIST_LOOKBACK, type StateClaim } from './aggregation.js';
export { encodeManifest, parseManifest, manifestSha256, type RunManifest } from './run-manifest.js';
