// The contract between the node processes (miner, validator) and whatever starts and watches them
// (the devnet orchestrator, tests, the dashboard): resolved configuration in, status files out.
import type { StoreDescriptor } from '../storage/index.js';
import type { RunConfig } from '../protocol/run.js';
import type { RemoteDataConfig } from './join.js';
import type { PipelineConfig } from '../hetero/group.js';

/** Network hyperparameters (defined by the protocol; re-exported here as part of the contract). */
export type { RunConfig } from '../protocol/run.js';

export interface NodeConfig {
  role: 'miner' | 'validator';
  name: string;
  /** This node's local state (status.json, timeline.jsonl, local checkpoints, logs). */
  dataDir: string;
  /** http(s):// a devnet chain (tessera chain); ws(s):// a subtensor node (then `netuid` names the subnet). */
  chainUrl: string;
  /** Subtensor subnet (ws(s):// chains only). */
  netuid?: number;
  walletDir: string;
  /** A btcli wallet instead of walletDir: the hotkey is <walletPath>/<walletName>/hotkeys/<hotkey> (walletPath default ~/.bittensor/wallets). */
  walletName?: string;
  walletPath?: string;
  hotkey: string;
  /** Write access to this node's own bucket. */
  store: StoreDescriptor;
  /** What the node commits on chain so others can read its bucket. */
  publicRead: StoreDescriptor;
  /**
   * Prepared dataset directory (tessera data prepare). With run.dataHash set it must hash to it (checked
   * at start). Absent: the node reads the dataset of `remoteData` from its mirrors.
   */
  dataset?: string;
  run: RunConfig;
  /** A node that joined through the chain: the run manifest it read, and its local chunk cache (neurons/join.ts). */
  remoteData?: RemoteDataConfig;
  /**
   * Validator: read-only descriptors of buckets where the dataset is published (tessera data publish),
   * listed in the run manifest it publishes so miners can fetch from them.
   */
  datasetMirrors?: StoreDescriptor[];
  /**
   * Miner only: adversarial behaviour for tests and demos (src/scenario/adversaries.ts: copy, noise,
   * scaled, signflip, lazy, late, malformed, stale); 'honest' by default. Resolved by the CLI.
   */
  behavior?: string;
  /** Scenarios only: the uid an adversarial behaviour aims at (replay: whose training it replays). */
  behaviorTarget?: number;
  /** Miner only: this node is a stage of a pipeline group (docs/hetero.md "Groups in the network"). */
  pipeline?: PipelineConfig;
  /** Stop after this window (tests); undefined = run until signalled. */
  stopAfterWindow?: number;
  /**
   * Validator on a devnet: stake to take from the faucet (Chain.addStake) at startup when its hotkey
   * holds none, so it gets a validator permit (default 1000). 0 disables.
   */
  stake?: number;
}

export type Phase = 'starting' | 'catchup' | 'sync' | 'train' | 'encode' | 'upload' | 'wait' | 'gather' | 'apply' | 'score' | 'audit' | 'checkpoint' | 'idle' | 'retry' | 'stopped';

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
  /** Miner: deadline minus the time its last anchor was included (ms; negative: late), and the inner steps it trained. */
  marginMs?: number | null;
  steps?: number;
  /** Validator: the weights it last set, by uid. */
  weights?: Record<number, number>;
  lastError?: string;
  /** Where this node serves its Prometheus metrics (--metrics-port), if it does. */
  metricsUrl?: string;
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
  /** Validator: scoring and validation-loss compute (not counted as idle). */
  score_s?: number;
  window_s: number;
  payloadBytes: number;
  bytesDown: number;
  /** The fingerprint after applying this window. */
  fingerprint: string;
  /** Miner: inner steps trained, what became of the upload, deadline − anchor inclusion time (ms). */
  steps?: number;
  /** Miner: the inner-loop training loss of the window's work (absent when it sent nothing). */
  loss?: number;
  outcome?: string;
  margin_ms?: number | null;
  /** Miner with run.overlap: upload, gather and apply ran during the next window's training (idle_s = window_s − train − encode). */
  overlapped?: boolean;
  /** The uids whose uploads made the window's aggregate, and the leader whose peer list chose them. */
  aggregated?: number[];
  leader?: number | null;
  /** Validator: validation loss after applying the window; uids with a valid in-time upload, uids that anchored after the deadline. */
  val_loss?: number;
  valid?: number[];
  late?: number[];
}
