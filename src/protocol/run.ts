// The network hyperparameters every node of one run must share. Their canonical hash (hash.ts runHash)
// is the payload's model hash, so nodes of different runs or shapes refuse each other's payloads.
import type { ModelConfig } from '../model/config.js';
import type { CodecConfig } from '../compress/types.js';

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
}
