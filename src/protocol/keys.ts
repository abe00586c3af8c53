// THE one builder of every storage key of the protocol. Keys are versioned and scoped by run id, so
// nodes of different runs or protocol versions never read each other's objects; windows are
// zero-padded so a listing sorts by window.
import { TesseraError } from '../util/errors.js';

/** Bump when an object format changes incompatibly: old and new nodes then use disjoint keys. */
export const PROTOCOL_VERSION = 2;
const ROOT = 'tessera';
const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function checkRunId(runId: string): void {
  if (typeof runId !== 'string' || !RUN_ID.test(runId)) {
    throw new TesseraError(`run id ${JSON.stringify(runId)} is not allowed`, 'use 1–64 characters: letters, digits, . _ - (starting with a letter or digit)');
  }
}

const nat = (what: string, v: number): string => {
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`${what} must be an integer ≥ 0, got ${v}`);
  return String(v);
};
const win = (w: number): string => nat('window', w).padStart(10, '0');

/** `tessera/v<version>/<runId>`: every key of a run starts with this. */
export function runPrefix(runId: string): string {
  checkRunId(runId);
  return `${ROOT}/v${PROTOCOL_VERSION}/${runId}`;
}

const HEX64 = /^[0-9a-f]{64}$/;
const DATA_FILE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export const keys = {
  /**
   * A file of a published dataset (tessera data publish): content-addressed by the dataset's hash, not
   * scoped by run (one dataset serves many runs): the index (`index.json`), tokenizer, shards, chunk tables.
   */
  dataset: (hash: string, file: string): string => {
    if (!HEX64.test(hash)) throw new RangeError(`dataset hash must be 64 hex digits, got ${JSON.stringify(hash)}`);
    if (!DATA_FILE.test(file)) throw new RangeError(`dataset file name ${JSON.stringify(file)} is not allowed`);
    return `${ROOT}/datasets/${hash}/${file}`;
  },
  /** The run manifest a validator publishes (RunConfig, dataset index, mirrors, tokenizer; protocol/run-manifest.ts). */
  runManifest: (runId: string): string => `${runPrefix(runId)}/manifest.json`,
  /** Which run a validator's bucket serves (overwritten at its start): how a joining node finds the run id. */
  currentRun: (): string => `${ROOT}/v${PROTOCOL_VERSION}/run.json`,
  /** A miner's signed SparseLoCo payload for window W (its own bucket; immutable). */
  gradient: (runId: string, window: number, uid: number): string => `${runPrefix(runId)}/gradients/${win(window)}/${nat('uid', uid)}.tslc`,
  /** Prefix of all gradients of window W (for listing). */
  gradients: (runId: string, window: number): string => `${runPrefix(runId)}/gradients/${win(window)}/`,
  /** A miner's revealed pre-training state of window W, when W's beacon picked its upload for a replay audit (its own bucket; neurons/audit.ts). */
  auditState: (runId: string, window: number, uid: number): string => `${runPrefix(runId)}/audit/${win(window)}/${nat('uid', uid)}.tsar`,
  /** Prefix of a run's revealed states (a miner lists its own to drop the old ones). */
  auditStates: (runId: string): string => `${runPrefix(runId)}/audit/`,
  /** A miner's parameter probe after applying window W (its own bucket). */
  probe: (runId: string, window: number, uid: number): string => `${runPrefix(runId)}/probes/${win(window)}/${nat('uid', uid)}.json`,
  /** A validator's peer list for window W (whose uploads make W's aggregate, then reserves; its digest is anchored on chain). */
  peers: (runId: string, window: number): string => `${runPrefix(runId)}/peers/${win(window)}.json`,
  /**
   * A validator's copy of a payload it applied in window W (its own bucket): the payload stays
   * available to replays when its owner replaces or deletes the original (docs/security.md).
   */
  applied: (runId: string, window: number, uid: number): string => `${runPrefix(runId)}/applied/${win(window)}/${nat('uid', uid)}.tslc`,
  /** Prefix of the applied copies of window W. */
  appliedOf: (runId: string, window: number): string => `${runPrefix(runId)}/applied/${win(window)}/`,
  /** A validator's AggregateRecord of window W: exactly which payloads it applied (immutable; the cross-check record). */
  aggregate: (runId: string, window: number): string => `${runPrefix(runId)}/aggregates/${win(window)}.json`,
  /** A validator's model at the START of window W (after the aggregates of all windows < W; immutable). */
  checkpoint: (runId: string, window: number): string => `${runPrefix(runId)}/checkpoints/${win(window)}.safetensors`,
  /** Pointer to the newest checkpoint (overwritten). */
  latestCheckpoint: (runId: string): string => `${runPrefix(runId)}/checkpoints/latest.json`,
  /** Where the run starts: its first window and the fingerprint of the seeded initial model (immutable). */
  startWindow: (runId: string): string => `${runPrefix(runId)}/start.json`,
  /**
   * The receipt of window W in its writer's bucket: a validator's score receipt (gauntlet/receipt.ts:
   * inputs, seeds, losses, ratings, penalties, final scores, weights; recomputable).
   */
  receipt: (runId: string, window: number): string => `${runPrefix(runId)}/receipts/${win(window)}.json`,
} as const;
