// The contract between the node processes (miner, validator) and whatever starts and watches them
// (the devnet orchestrator, tests, the dashboard): resolved configuration in, status files out.
import type { ModelConfig } from '../model/config.js';
import type { CodecConfig } from '../compress/types.js';
import type { StoreDescriptor } from '../storage/index.js';

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

export interface NodeConfig {
  role: 'miner' | 'validator';
  name: string;
  /** This node's local state (status.json, timeline.jsonl, local checkpoints, logs). */
  dataDir: string;
  chainUrl: string;
  walletDir: string;
  hotkey: string;
  /** Write access to this node's own bucket. */
  store: StoreDescriptor;
  /** What the node commits on chain so others can read its bucket. */
  publicRead: StoreDescriptor;
  /** Prepared dataset directory (tessera data prepare). */
  dataset: string;
  run: RunConfig;
  /** Miner only: adversarial behaviour for tests and demos (next issue); 'honest' by default. */
  behavior?: string;
  /** Stop after this window (tests); undefined = run until signalled. */
  stopAfterWindow?: number;
}

export type Phase = 'starting' | 'catchup' | 'sync' | 'train' | 'encode' | 'upload' | 'wait' | 'gather' | 'apply' | 'score' | 'checkpoint' | 'idle' | 'retry' | 'stopped';

/** Written atomically to <dataDir>/status.json on every phase change. */
export interface NodeStatus {
  name: string;
  role: 'miner' | 'validator';
  uid: number | null;
  hotkey: string;
  phase: Phase;
  window: number;
  block: number;
  /** Last inner-loop training loss (miner) or evaluation loss (validator). */
  loss: number | null;
  valLoss: number | null;
  /** Parameter fingerprint after the last applied window. */
  fingerprint: string | null;
  fingerprintWindow: number | null;
  bytesUp: number;
  bytesDown: number;
  /** Validator: the weights it last set, by uid. */
  weights?: Record<number, number>;
  lastError?: string;
  updatedAt: string;
}

/** One line of <dataDir>/timeline.jsonl per window: where the time went. */
export interface TimelineEntry {
  window: number;
  train_s: number;
  encode_s: number;
  upload_s: number;
  gather_s: number;
  apply_s: number;
  idle_s: number;
  window_s: number;
  payloadBytes: number;
  bytesDown: number;
  fingerprint: string;
}
