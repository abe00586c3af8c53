// Devnet settings: the options of `tessera devnet`, the default network hyperparameters (RunConfig)
// sized so a window takes ~10–30 s on a 2-core machine with 3 miners + a validator, and devnet.json,
// the record that lets a second run resume the same network (same run id, chain, wallets, storage).
import { randomBytes } from 'node:crypto';
import { CODEC_DEFAULTS } from '../compress/index.js';
import { getPreset } from '../model/config.js';
import type { NodeConfig, RunConfig } from '../neurons/types.js';
import { BEHAVIORS, parseBehavior, type BehaviorName } from '../scenario/adversaries.js';
import { TesseraError } from '../util/errors.js';
import { AUDIT_RATE } from '../neurons/audit.js';
import type { HostsOptions } from './hosts.js';
import { DEVNET_DIR, type DevnetRecord } from './record.js';
import type { ActivationKind } from '../hetero/activations.js';

export { DEVNET_DIR, RECORD_FILE, readRecord, writeRecord, type DevnetRecord } from './record.js';

/** How the devnet provides object storage. */
export type DevnetStorage =
  | { kind: 'fs' }
  | { kind: 's3'; endpoint: string; region: string; accessKeyId: string; secretAccessKey: string }
  | { kind: 'ceph' };

/** Network hyperparameters a user may set; undefined = the saved value (resume) or the default (new network). */
export interface RunOverrides {
  preset?: string;
  blocksPerWindow?: number;
  innerSteps?: number;
  batch?: number;
  seq?: number;
  innerLr?: number;
  alpha?: number;
  deadlineS?: number;
  weightsEvery?: number;
  checkpointEvery?: number;
  maxPeers?: number;
  indexMode?: RunConfig['indexMode'];
  seed?: number;
  /** Share of uploads picked for a replay audit (RunConfig.auditRate). */
  auditRate?: number;
  /** Train window W from θ of W − 1 while W − 1 is uploaded, gathered and applied (RunConfig.overlap). */
  overlap?: boolean;
}

/** What the devnet writes to a node's config.json: a miner that joins through the run manifest has no run (nor dataset) in it. */
export type NodeConfigFile = Omit<NodeConfig, 'run'> & { run?: RunConfig };

export interface DevnetOptions {
  /** 'devnet' (default): tessera's devnet chain; 'chopsticks': subtensor's real runtime in chopsticks (12 s blocks, not resumable). */
  chain?: 'devnet' | 'chopsticks';
  /** Everything lives here; a second run with the same dir resumes the network. */
  dir: string;
  miners: number;
  run: RunOverrides;
  /** Block time in ms; undefined = the saved one (resume) or DEVNET_DEFAULTS.blockMs. */
  blockMs?: number;
  /** Chain tempo (blocks between Yuma epochs), new chains only; default: blocksPerWindow. */
  tempo?: number;
  /** Stop after this many windows (counted from the window the chain is in when the nodes start); undefined = until stop(). */
  windows?: number;
  /** Start one extra miner once the chain reaches this window. */
  lateMinerWindow?: number;
  /** Pipeline groups (docs/hetero.md): this many groups of `stages` stage nodes each, named g<k>-stage-<s>. */
  pipelineGroups?: number;
  stages?: number;
  /** Their boundary codec; default subspace without overlap, int8 with it (subspace needs every stage to start from the same θ). */
  stageCodec?: ActivationKind;
  /** One extra miner per adversarial behaviour, named adv-<behavior> (parseAdversaries). */
  adversaries?: BehaviorName[];
  storage: DevnetStorage;
  /** A prepared dataset to use instead of <dir>/data (prepared on first run). */
  data?: string;
  /** BPE vocabulary when preparing <dir>/data. */
  vocabSize?: number;
  /** Validator stake from the devnet faucet (validator-k takes 1/k of it). */
  validatorStake?: number;
  /** Validators (default 1): validator, validator-2, ... by falling stake; a resumed network keeps as many as it had. */
  validators?: number;
  /** After --windows, stop the chain and storage as soon as the nodes are done (default true); false: wait for stop(). */
  autoStop?: boolean;
  /** Environment added to every node process (e.g. TESSERA_BACKEND). */
  /** Restart node processes that die, with backoff (default true; src/devnet/orchestrator.ts restartDelayMs). */
  supervise?: boolean;
  nodeEnv?: Record<string, string>;
  /** Window calibration of a new network: the share of a window H steps may take (calibrate.ts), and the fewest blocks. */
  trainShare?: number;
  minBlocks?: number;
  /** Run every node on its own network host with shaped links (hosts.ts; needs root and --ceph); undefined = loopback. */
  hosts?: HostsOptions;
  /** Hook (the chaos suite): rewrites a node's NodeConfig before it is written, e.g. to route its chain and store through a relay. */
  nodeConfig?: (name: string, cfg: NodeConfigFile) => NodeConfigFile;
  log?: (line: string) => void;
}

export const DEVNET_DEFAULTS = {
  dir: DEVNET_DIR,
  miners: 3,
  blockMs: 1000,
  vocabSize: 8192,
  validatorStake: 1000,
  run: {
    // Measured on 2 cores with 3 miners + validator (small preset): ~7 s of training in a 15 s window.
    preset: 'small', blocksPerWindow: 15, innerSteps: 30, batch: 8, seq: 128, innerLr: 2e-3, alpha: 1.0,
    weightsEvery: 1, checkpointEvery: 5, maxPeers: 20, indexMode: 'entropy', seed: 1, overlap: true,
    // Replay audits on this machine: one re-runs a miner-window (~7 s of the small preset's training) in a
    // validator that already scores 8 s of a 15 s window beside 3 training miners, so a tenth of the uploads
    // (an audit in ~27% of the windows); AUDIT_RATE (0.5) where validators have the compute.
    auditRate: 0.1,
  } satisfies Required<Omit<RunOverrides, 'deadlineS'>>,
};

/** Upload deadline: 40% of a window after W+1 starts (Templar: 70 s of a ~23 min window, but devnet blocks are fast). */
export function defaultDeadlineS(blocksPerWindow: number, blockMs: number): number {
  return Math.max(2, Math.round(0.4 * blocksPerWindow * blockMs) / 1000);
}

/** The RunConfig of a new network: defaults, then the overrides; the model's vocabulary is the dataset's. */
export function makeRunConfig(o: RunOverrides, blockMs: number, vocabSize: number, runId = `devnet-${randomBytes(4).toString('hex')}`): RunConfig {
  const d = DEVNET_DEFAULTS.run;
  const preset = o.preset ?? d.preset;
  const model = { ...getPreset(preset), vocabSize };
  const seq = o.seq ?? d.seq;
  if (seq > model.maxSeqLen) throw new TesseraError(`--seq ${seq} is longer than preset ${preset}'s maxSeqLen ${model.maxSeqLen}`, `use --seq ≤ ${model.maxSeqLen}`);
  const blocksPerWindow = o.blocksPerWindow ?? d.blocksPerWindow;
  const innerSteps = o.innerSteps ?? d.innerSteps;
  return {
    runId, model, blocksPerWindow,
    deadlineS: o.deadlineS ?? defaultDeadlineS(blocksPerWindow, blockMs),
    innerSteps, batch: o.batch ?? d.batch, seq, innerLr: o.innerLr ?? d.innerLr, warmup: innerSteps,
    alpha: o.alpha ?? d.alpha, codec: { ...CODEC_DEFAULTS }, indexMode: o.indexMode ?? d.indexMode,
    checkpointEvery: o.checkpointEvery ?? d.checkpointEvery, weightsEvery: o.weightsEvery ?? d.weightsEvery,
    maxPeers: o.maxPeers ?? d.maxPeers, seed: o.seed ?? d.seed, ...((o.overlap ?? d.overlap) ? { overlap: true } : {}),
    auditRate: o.auditRate ?? d.auditRate,
  };
}


/** Adversarial behaviours (every one but honest). */
export const ADVERSARIAL_BEHAVIORS: readonly BehaviorName[] = BEHAVIORS.filter((b) => b !== 'honest');

/** `--adversaries copy,noise,...` or `all`: validated behaviour names, each once (honest is not an adversary). */
export function parseAdversaries(list: string): BehaviorName[] {
  const names = list.split(',').map((x) => x.trim()).filter(Boolean);
  if (names.length === 0) throw new TesseraError('--adversaries needs at least one behaviour', `use all, or a comma-separated list of ${ADVERSARIAL_BEHAVIORS.join(', ')}`);
  if (names.includes('all')) return [...ADVERSARIAL_BEHAVIORS];
  const out: BehaviorName[] = [];
  for (const n of names) {
    let b: BehaviorName;
    try {
      b = parseBehavior(n);
    } catch (e) {
      throw new TesseraError(`--adversaries: ${(e as Error).message}`, `use all, or a comma-separated list of ${ADVERSARIAL_BEHAVIORS.join(', ')}`);
    }
    if (b === 'honest') throw new TesseraError('--adversaries: honest is not an adversarial behaviour', 'add honest miners with --miners N');
    if (!out.includes(b)) out.push(b);
  }
  return out;
}

/** The node name of the adversarial miner of a behaviour. */
export const adversaryName = (b: BehaviorName): string => `adv-${b}`;

/** A resumed network keeps its hyperparameters: an explicit option that differs is an error, not a silent change. */
export function checkResume(r: DevnetRecord, o: DevnetOptions): void {
  const saved: Record<string, unknown> = {
    preset: r.preset, blocksPerWindow: r.run.blocksPerWindow, innerSteps: r.run.innerSteps, batch: r.run.batch, seq: r.run.seq,
    innerLr: r.run.innerLr, alpha: r.run.alpha, deadlineS: r.run.deadlineS, weightsEvery: r.run.weightsEvery,
    checkpointEvery: r.run.checkpointEvery, maxPeers: r.run.maxPeers, indexMode: r.run.indexMode, seed: r.run.seed, overlap: r.run.overlap ?? false, auditRate: r.run.auditRate ?? AUDIT_RATE,
  };
  for (const [k, v] of Object.entries(o.run)) {
    if (v !== undefined && saved[k] !== v) {
      throw new TesseraError(`the devnet in ${o.dir} runs with ${k} = ${String(saved[k])}, not ${String(v)}`,
        `drop that option to resume it, or pass a new --dir for a network with ${k} = ${String(v)}`);
    }
  }
  if (o.storage.kind !== r.storage) {
    throw new TesseraError(`the devnet in ${o.dir} uses ${r.storage} storage, not ${o.storage.kind}`,
      `resume it with ${r.storage === 'fs' ? 'no storage option' : r.storage === 'ceph' ? '--ceph' : `--s3 ${r.s3Endpoint}`}, or pass a new --dir`);
  }
  if (o.data !== undefined && o.data !== r.data) {
    throw new TesseraError(`the devnet in ${o.dir} trains on ${r.data}, not ${o.data}`, 'drop --data to resume it, or pass a new --dir');
  }
}

/** The node name of stage s of pipeline group g (1-based group, 0-based stage). */
export const stageName = (g: number, s: number): string => `g${g}-stage-${s}`;
