// Resolves a node's NodeConfig once, from a JSON file (--config, as the devnet writes it) and/or flags:
// every field type-checked, unknown keys refused, relative paths made absolute; printed with secrets masked.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { NodeConfig, RunConfig } from '../neurons/types.js';
import { BEHAVIORS } from '../scenario/adversaries.js';
import type { PipelineConfig } from '../hetero/group.js';
import { ACTIVATION_KINDS } from '../hetero/activations.js';
import { fsNodeDescriptors, parseDescriptor, serializeDescriptor, type StoreDescriptor } from '../storage/index.js';
import { validateConfig, type ModelConfig } from '../model/config.js';
import type { CodecConfig } from '../compress/index.js';
import { makeRunConfig, type RunOverrides } from '../devnet/config.js';
import { indexDataset, loadDataset } from '../data/index.js';
import { DevnetChainClient } from '../chain/index.js';
import { NETWORK_ENDPOINTS, SUBTENSOR_BLOCK_MS, SubtensorChain } from '../chain/subtensor/chain.js';
import { checkRunTiming } from '../protocol/index.js';
import { TesseraError } from '../util/errors.js';
import { DEFAULT_WALLET_DIR } from './wallet.js';
import { join } from 'node:path';
import { discoverRun, type RemoteDataConfig } from '../neurons/join.js';
import { DEFAULT_CACHE_BYTES } from '../data/index.js';
import { modelInfo } from '../model/info.js';
import { runHash, type RunManifest } from '../protocol/index.js';

type Check = (v: unknown, path: string) => unknown;
const fail = (path: string, want: string, v: unknown): never => {
  throw new TesseraError(`config: ${path} must be ${want} (got ${JSON.stringify(v)})`, 'fix the value in the --config file or the matching flag');
};
const str: Check = (v, p) => (typeof v === 'string' && v.length > 0 ? v : fail(p, 'a non-empty string', v));
const num = (min = -Infinity): Check => (v, p) => (typeof v === 'number' && Number.isFinite(v) && v >= min ? v : fail(p, `a number ≥ ${min}`, v));
const int = (min = 0): Check => (v, p) => (Number.isSafeInteger(v) && (v as number) >= min ? v : fail(p, `an integer ≥ ${min}`, v));
const bool: Check = (v, p) => (typeof v === 'boolean' ? v : fail(p, 'true or false', v));
const oneOf = (...xs: string[]): Check => (v, p) => (xs.includes(v as string) ? v : fail(p, `one of ${xs.join(', ')}`, v));

/** Checks an object field by field; `fields` lists every key of T (the compiler keeps it in step with the type). */
function object<T>(fields: Record<keyof T & string, Check>, optional: Array<keyof T & string> = []): Check {
  return (v, path) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(path, 'an object', v);
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      if (!Object.hasOwn(fields, k)) throw new TesseraError(`config: unknown key ${path ? `${path}.` : ''}${k}`, `allowed keys${path ? ` in ${path}` : ''}: ${Object.keys(fields).join(', ')}`);
    }
    const out: Record<string, unknown> = {};
    const opt: readonly string[] = optional;
    for (const [k, check] of Object.entries(fields) as Array<[string, Check]>) {
      const p = path ? `${path}.${k}` : k;
      if (o[k] === undefined) {
        if (!opt.includes(k)) throw new TesseraError(`config: ${p} is missing`, 'set it in the --config file or with its flag');
        continue;
      }
      out[k] = check(o[k], p);
    }
    return out;
  };
}

const store: Check = (v, p) => {
  try {
    return parseDescriptor(serializeDescriptor(v as StoreDescriptor));
  } catch (e) {
    throw new TesseraError(`config: ${p}: ${(e as Error).message}`, (e as TesseraError).hint);
  }
};

const model: Check = (v, p) => {
  const m = object<ModelConfig>({
    vocabSize: int(1), dim: int(1), nLayers: int(1), nHeads: int(1), nKvHeads: int(1), ffnHidden: int(1), maxSeqLen: int(1),
    normEps: num(0), ropeTheta: num(0), tiedEmbeddings: bool,
  })(v, p) as unknown as ModelConfig;
  return validateConfig(m);
};

const run: Check = object<RunConfig>({
  runId: (v, p) => (typeof v === 'string' && /^[A-Za-z0-9._-]{1,64}$/.test(v) ? v : fail(p, 'a run id of letters, digits, . _ - (≤ 64)', v)),
  model, blocksPerWindow: int(1), deadlineS: num(0), innerSteps: int(1), batch: int(1), seq: int(2), innerLr: num(0), warmup: int(0),
  alpha: num(0), codec: object<CodecConfig>({ tile: int(1), vectorChunk: int(1), topk: int(1), beta: num(0) }), indexMode: oneOf('12bit', 'entropy'),
  checkpointEvery: int(1), weightsEvery: int(1), maxPeers: int(1), seed: int(0), overlap: bool,
  auditRate: (v, p) => (typeof v === 'number' && v >= 0 && v <= 1 ? v : fail(p, 'a share of uploads in [0, 1]', v)),
  dataHash: (v, p) => (typeof v === 'string' && /^[0-9a-f]{64}$/.test(v) ? v : fail(p, 'a dataset content hash (64 hex digits)', v)),
}, ['overlap', 'dataHash', 'auditRate']);

const stores: Check = (v, p) => (Array.isArray(v) && v.length <= 16 ? v.map((x, i) => store(x, `${p}[${i}]`)) : fail(p, 'a list of at most 16 store descriptors', v));
/** Set by the join path from a manifest parseManifest already checked; here only its shape. */
const remoteData: Check = (v, p) => object<RemoteDataConfig>({
  manifest: (m, q) => (typeof m === 'object' && m !== null && (m as RunManifest).format === 'tessera-run' ? m : fail(q, 'a run manifest', m)),
  cacheDir: str, cacheBytes: int(0),
})(v, p);

const pipeline: Check = object<PipelineConfig>({
  group: str, stage: int(0), members: (v, p) => (Array.isArray(v) && v.length >= 2 && v.length <= 16 ? v.map((x, i) => str(x, `${p}[${i}]`)) : fail(p, 'a list of 2..16 hotkeys', v)),
  codec: oneOf(...ACTIVATION_KINDS), rank: int(1), micro: int(1), host: str,
}, ['host']);

const nodeConfig: Check = object<NodeConfig>({
  role: oneOf('miner', 'validator'), name: (v, p) => (typeof v === 'string' && /^[a-z0-9][a-z0-9-]{0,40}$/.test(v) ? v : fail(p, 'a name of lowercase letters, digits and - (≤ 41)', v)),
  dataDir: str, chainUrl: (v, p) => (typeof v === 'string' && /^(https?|wss?):\/\/[^\s]+$/.test(v) ? v.replace(/\/+$/, '') : fail(p, 'an http(s) URL (devnet) or a ws(s) URL (subtensor)', v)),
  netuid: int(0),
  walletDir: str, hotkey: str, store, publicRead: store, dataset: str, run, behavior: oneOf(...BEHAVIORS), behaviorTarget: int(0), stopAfterWindow: int(0), stake: num(0),
  remoteData, datasetMirrors: stores, walletName: str, walletPath: str, pipeline,
}, ['pipeline', 'behavior', 'behaviorTarget', 'stopAfterWindow', 'stake', 'dataset', 'remoteData', 'datasetMirrors', 'netuid', 'walletName', 'walletPath']);

/** Type-checks a NodeConfig (unknown keys refused, every field checked) and makes its paths absolute. */
export function checkNodeConfig(raw: unknown): NodeConfig {
  const c = nodeConfig(raw, '') as unknown as NodeConfig;
  if (c.role === 'validator' && c.behavior !== undefined && c.behavior !== 'honest') {
    throw new TesseraError(`config: behavior '${c.behavior}' is for miners; a validator has none`, 'remove behavior from the validator\'s config');
  }
  if (c.pipeline && (c.role !== 'miner' || (c.behavior !== undefined && c.behavior !== 'honest'))) throw new TesseraError('config: pipeline is for honest miners (a stage of a group)', 'remove pipeline or behavior from the config');
  if (/^wss?:/.test(c.chainUrl) && c.netuid === undefined) throw new TesseraError(`config: a subtensor chain (${c.chainUrl}) needs netuid`, 'pass --netuid N (the subnet this run trains on)');
  if (c.run.seq > c.run.model.maxSeqLen) throw new TesseraError(`config: run.seq ${c.run.seq} exceeds run.model.maxSeqLen ${c.run.model.maxSeqLen}`, 'lower run.seq or raise maxSeqLen');
  if (c.dataset === undefined && c.remoteData === undefined) throw new TesseraError('config: dataset is missing', 'pass --dataset DIR (a folder prepared by tessera data prepare), or join a run through the chain (no --run, --run-id or run in the config)');
  return {
    ...c, dataDir: resolve(c.dataDir), walletDir: resolve(c.walletDir), ...(c.dataset !== undefined ? { dataset: resolve(c.dataset) } : {}),
    ...(c.remoteData ? { remoteData: { ...c.remoteData, cacheDir: resolve(c.remoteData.cacheDir) } } : {}),
    ...(c.walletPath ? { walletPath: resolve(c.walletPath) } : {}),
  };
}

export function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new TesseraError(`cannot read config file ${file}: ${(e as Error).message}`, 'pass the NodeConfig JSON written by tessera devnet (nodes/<name>/config.json)');
  }
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not a JSON object');
    return v as Record<string, unknown>;
  } catch (e) {
    throw new TesseraError(`config file ${file} is not a JSON object (${(e as Error).message})`, 'fix the JSON');
  }
}

/** Flags of `tessera miner|validator`; each overrides the config file's value. */
export interface NodeFlags extends RunOverrides {
  config?: string;
  name?: string;
  dataDir?: string;
  chain?: string;
  network?: string;
  walletDir?: string;
  walletName?: string;
  walletPath?: string;
  hotkey?: string;
  store?: string;
  publicRead?: string;
  dataset?: string;
  runFile?: string;
  runId?: string;
  /** Join mode: netuid of the subnet (the devnet chain serves one). */
  netuid?: number;
  /** Join mode: chunk cache folder and bound. */
  dataCache?: string;
  cacheMb?: number;
  /** Join mode: seconds to wait for a validator to publish a run manifest. */
  joinWait?: number;
  /** Validator: a bucket (folder or descriptor JSON, read-only) where the dataset is published; repeatable. */
  dataMirror?: string[];
  behavior?: string;
  stopAfterWindow?: number;
  stake?: number;
}

/** --store/--public-read: a bucket folder (filesystem store) or a descriptor JSON ({"v":1,"kind":"s3",...}). */
function storeFlag(text: string, flag: string): StoreDescriptor {
  if (text.trimStart().startsWith('{')) {
    try {
      return parseDescriptor(text);
    } catch (e) {
      throw new TesseraError(`${flag}: ${(e as Error).message}`, (e as TesseraError).hint);
    }
  }
  return fsNodeDescriptors(text).write;
}

/**
 * Config file, then flags; a RunConfig comes from the file, --run FILE, or the devnet defaults plus run
 * flags (then, without --deadline-s, the deadline is 40% of a window at the chain's block time, asked from the chain).
 * A deadline that does not end inside a window at the chain's block time is refused (checkRunTiming).
 */
export async function resolveNodeConfig(role: 'miner' | 'validator', f: NodeFlags): Promise<NodeConfig> {
  const c: Record<string, unknown> = f.config ? readConfigFile(f.config) : {};
  let joined: { leader: number; manifestSha256: string } | null = null;
  if (c.role !== undefined && c.role !== role) {
    throw new TesseraError(`config file ${f.config} is for a ${String(c.role)}, not a ${role}`, `run \`tessera ${String(c.role)} --config ${f.config}\``);
  }
  c.role = role;
  const set = (k: string, v: unknown): void => { if (v !== undefined) c[k] = v; };
  if (f.network !== undefined) {
    if (f.chain !== undefined) throw new TesseraError('--chain and --network exclude each other', '--network finney|test picks the public endpoint; --chain URL any other');
    const url = NETWORK_ENDPOINTS[f.network];
    if (!url) throw new TesseraError(`unknown --network ${f.network}`, `use one of ${Object.keys(NETWORK_ENDPOINTS).join(', ')}, or --chain ws://…`);
    c.chainUrl = url;
  }
  set('netuid', f.netuid); set('walletName', f.walletName); set('walletPath', f.walletPath);
  set('name', f.name); set('dataDir', f.dataDir); set('chainUrl', f.chain); set('walletDir', f.walletDir); set('hotkey', f.hotkey);
  set('dataset', f.dataset); set('behavior', f.behavior); set('stopAfterWindow', f.stopAfterWindow); set('stake', f.stake);
  c.walletDir ??= DEFAULT_WALLET_DIR;
  c.name ??= c.hotkey ?? role;
  c.hotkey ??= c.name;
  c.dataDir ??= resolve('.tessera', 'nodes', String(c.name));
  if (f.store !== undefined) {
    const d = storeFlag(f.store, '--store');
    c.store = d;
    if (f.publicRead === undefined) c.publicRead = d.kind === 'fs' ? { ...d, readOnly: true } : undefined;
  }
  if (f.publicRead !== undefined) c.publicRead = storeFlag(f.publicRead, '--public-read');
  if (c.store && (c.store as StoreDescriptor).kind === 's3' && c.publicRead === undefined) {
    throw new TesseraError('an S3 --store needs --public-read with the read-only credentials others will use', 'pass --public-read \'{"v":1,"kind":"s3",...read keys...}\'');
  }
  if (f.runFile !== undefined) c.run = readConfigFile(f.runFile);
  if (f.dataMirror !== undefined) c.datasetMirrors = f.dataMirror.map((m) => { const d = storeFlag(m, '--data-mirror'); return d.kind === 'fs' ? { ...d, readOnly: true } : d; });
  const runFlags: RunOverrides = {
    preset: f.preset, blocksPerWindow: f.blocksPerWindow, innerSteps: f.innerSteps, batch: f.batch, seq: f.seq, innerLr: f.innerLr,
    alpha: f.alpha, deadlineS: f.deadlineS, weightsEvery: f.weightsEvery, checkpointEvery: f.checkpointEvery, maxPeers: f.maxPeers,
    indexMode: f.indexMode, seed: f.seed,
  };
  const given = Object.entries(runFlags).filter(([, v]) => v !== undefined);
  let blockMs: number | undefined;
  if (c.run === undefined && f.runId === undefined) {
    // No run given at all: join the run the chain's validators publish (neurons/join.ts).
    if (given.length > 0) throw new TesseraError(`run flags (${given.map(([k]) => k).join(', ')}) cannot change a run joined through the chain`, 'drop them: the run manifest sets every hyperparameter');
    if (typeof c.chainUrl !== 'string') throw new TesseraError('no run configuration and no --chain to find one on', 'pass --chain URL (the run is read from its validators), or --config/--run/--run-id');
    const subtensor = /^wss?:/.test(c.chainUrl);
    const netuid = f.netuid ?? (c.netuid as number | undefined);
    if (!subtensor && f.netuid !== undefined && f.netuid !== DEVNET_NETUID) throw new TesseraError(`--netuid ${f.netuid}: the devnet chain at ${String(c.chainUrl)} serves one subnet (netuid ${DEVNET_NETUID})`, `drop --netuid or pass --netuid ${DEVNET_NETUID}`);
    if (subtensor && netuid === undefined) throw new TesseraError(`joining through the subtensor chain ${c.chainUrl} needs --netuid`, 'pass --netuid N (the subnet the run trains on)');
    // A chain that is down for a while (restarting) is waited out, like a node's own calls.
    const chain = subtensor ? await SubtensorChain.connect({ endpoint: c.chainUrl, netuid: netuid! }) : new DevnetChainClient({ url: c.chainUrl.replace(/\/+$/, ''), retries: 30, maxBackoffMs: 2000 });
    let found: Awaited<ReturnType<typeof discoverRun>>;
    try {
      found = await discoverRun(chain, { waitMs: (f.joinWait ?? 600) * 1000, log: (l) => console.log(`tessera ${role}: ${l}`) });
    } finally {
      if (chain instanceof SubtensorChain) await chain.close();
    }
    const info = chain instanceof SubtensorChain ? { blockMs: SUBTENSOR_BLOCK_MS }
      : await chain.info().catch((e: Error) => { throw new TesseraError(`cannot reach the chain at ${String(c.chainUrl)} (${e.message})`, 'start the chain first, or check --chain'); });
    c.run = found.manifest.run;
    c.remoteData = {
      manifest: found.manifest, cacheDir: f.dataCache ?? join(String(c.dataDir), 'data-cache'),
      cacheBytes: Math.round((f.cacheMb ?? DEFAULT_CACHE_BYTES / 1e6) * 1e6),
    };
    joined = { leader: found.leader, manifestSha256: found.manifestSha256 };
    blockMs = info.blockMs;
  } else if (c.run === undefined) {
    if (f.runId === undefined) throw new TesseraError('no run configuration: pass --config FILE, --run FILE, or --run-id ID (with run flags)', 'every node of one network must use the same run id and hyperparameters');
    if (typeof c.dataset !== 'string') throw new TesseraError('config: dataset is missing', 'pass --dataset DIR (a folder prepared by tessera data prepare)');
    if (typeof c.chainUrl === 'string' && /^wss?:/.test(c.chainUrl)) blockMs = SUBTENSOR_BLOCK_MS;
    else if (f.deadlineS === undefined && typeof c.chainUrl === 'string') {
      try {
        blockMs = (await new DevnetChainClient({ url: c.chainUrl, retries: 2 }).info()).blockMs;
      } catch (e) {
        throw new TesseraError(`cannot ask the chain at ${c.chainUrl} for its block time (${(e as Error).message})`, 'start the chain first, or pass --deadline-s');
      }
    }
    // A new run binds its data by content hash (RunConfig.dataHash): nodes with other data get another run hash.
    c.run = { ...makeRunConfig(runFlags, blockMs ?? 1000, loadDataset(resolve(c.dataset)).manifest.tokenizer.vocabSize, f.runId), dataHash: indexDataset(resolve(c.dataset)).hash };
  } else {
    const r = c.run as Record<string, unknown>;
    if (f.runId !== undefined) r.runId = f.runId;
    if (f.preset !== undefined) throw new TesseraError('--preset cannot change the model of a run given by a config file', 'edit run.model in the file instead');
    for (const [k, v] of given) if (k !== 'preset') r[k] = v;
  }
  const cfg = checkNodeConfig(c);
  if (joined) console.log(describeJoin(cfg, joined));
  // The deadline must end inside a window at the chain's block time. Not needed above (a deadline or a
  // whole run was given): asked once, best effort; a chain that does not answer now is checked by the devnet or not at all.
  if (/^wss?:/.test(cfg.chainUrl)) blockMs ??= SUBTENSOR_BLOCK_MS;
  blockMs ??= await new DevnetChainClient({ url: cfg.chainUrl, retries: 0, requestTimeoutMs: 2000 }).info().then((i) => i.blockMs, () => undefined);
  if (blockMs !== undefined) checkRunTiming(cfg.run, blockMs);
  return cfg;
}

/** The resolved config as printable JSON, with secret keys masked. */
export function describeNodeConfig(c: NodeConfig): string {
  return JSON.stringify(c, (k, v: unknown) => (k === 'secretAccessKey' && typeof v === 'string' ? `${v.slice(0, 2)}…(${v.length} chars)`
    : k === 'manifest' && typeof v === 'object' && v !== null ? `(run manifest: dataset ${String((v as RunManifest).run.dataHash)}, ${(v as RunManifest).mirrors.length} mirror(s))` : v), 2);
}

/** The devnet chain has one subnet; on subtensor --netuid names it. */
export const DEVNET_NETUID = 1;

const mb = (b: number): string => `${(b / 1e6).toFixed(1)} MB`;

/** What a node that joined through the chain will train and what it needs (printed before it starts). */
export function describeJoin(cfg: NodeConfig, j: { leader: number; manifestSha256: string }): string {
  const r = cfg.run, d = cfg.remoteData!.manifest.dataset, info = modelInfo(r.model);
  const dataBytes = [...d.train.shards, ...d.val.shards].reduce((n, s) => n + s.bytes, 0);
  const perWindow = r.innerSteps * r.batch * (r.seq + 1);
  const chunkBytes = d.chunkTokens * (d.dtype === 'uint16' ? 2 : 4);
  return [
    `joining run ${r.runId} from validator uid ${j.leader} (manifest ${j.manifestSha256.slice(0, 16)}, run hash ${runHash(r).slice(0, 16)})`,
    `  model   ${r.model.dim}d × ${r.model.nLayers} layers, ${r.model.nHeads} heads, vocab ${r.model.vocabSize}: ${(info.params / 1e6).toFixed(2)}M parameters`,
    `  window  H = ${r.innerSteps} inner steps of ${r.batch} × ${r.seq} tokens, ${r.blocksPerWindow} blocks, deadline ${r.deadlineS} s, α ${r.alpha}, inner lr ${r.innerLr}, ${r.indexMode} indices`,
    `  data    ${r.dataHash}: ${d.train.tokens.toLocaleString('en-US')} train + ${d.val.tokens.toLocaleString('en-US')} val tokens in ${d.train.shards.length + d.val.shards.length} shards (${mb(dataBytes)}), ` +
      `tokenizer ${d.tokenizer.hash.slice(0, 16)} (vocab ${d.tokenizer.vocabSize}), ${cfg.remoteData!.manifest.mirrors.length} mirror(s)` +
      `${cfg.dataset ? `; using the local copy ${cfg.dataset} (checked against the hash)` : `; fetched on demand, ${perWindow.toLocaleString('en-US')} tokens per window in chunks of ${d.chunkTokens} tokens`}`,
    `  disk    chunk cache ≤ ${mb(cfg.remoteData!.cacheBytes)} in ${cfg.remoteData!.cacheDir}, miner state ${mb(3 * info.params * 4)} (error feedback + AdamW moments)`,
    `  memory  ${mb(info.bytes.total)} for the model (weights, grads, AdamW, error feedback) + ≤ ${mb(Math.min(d.train.tokens * (d.dtype === 'uint16' ? 2 : 4), r.innerSteps * r.batch * chunkBytes * 2))} of token chunks per window (resident at most ${mb(d.train.tokens * (d.dtype === 'uint16' ? 2 : 4))})`,
  ].join('\n');
}

export type { RunConfig };
