// A running node's context and its startup: wallet, registration (idempotent), the read descriptor
// committed on chain, the node's own bucket, status files, and the run's identity and model layout.
import { DevnetChainClient, type Chain, type Signer } from '../chain/index.js';
import { validateCodecConfig } from '../compress/index.js';
import { getBackend, type Backend } from '../engine/index.js';
import { createLlama, validateConfig, type Llama } from '../model/index.js';
import { runHash as hashRun, checkRunId } from '../protocol/index.js';
import { openStore, serializeDescriptor, type ObjectStore } from '../storage/index.js';
import type { TrainData } from '../train/batches.js';
import { openNodeData } from './join.js';
import { TesseraError } from '../util/errors.js';
import { armFailpoints } from '../util/failpoint.js';
import { loadWallet, signer as signerOf } from '../wallet/index.js';
import { retrying, type RetryContext } from './retry.js';
import { serveMetrics } from './metrics.js';
import { StatusBoard } from './status.js';
import type { NodeConfig, RunConfig } from './types.js';

export interface NodeOptions {
  signal?: AbortSignal;
  log?: (line: string) => void;
  /** Injected chain client (tests); default: DevnetChainClient on cfg.chainUrl. */
  chain?: Chain;
  /** Serve Prometheus metrics at http://metricsHost:metricsPort/metrics (0: any free port; the URL goes to status.json and the log). */
  metricsPort?: number;
  metricsHost?: string;
}

export interface Node extends RetryContext {
  cfg: NodeConfig;
  run: RunConfig;
  runHash: string;
  chain: Chain;
  signer: Signer;
  uid: number;
  store: ObjectStore;
  data: TrainData;
  be: Backend;
  /** The shared model θ (params = the model at the start of window `state.window`; see sync.ts). */
  model: Llama;
}

/** Checks the run against the dataset before anything touches the network (config errors throw). */
export function checkRun(run: RunConfig, data: TrainData): void {
  checkRunId(run.runId);
  validateConfig(run.model);
  if (run.model.vocabSize < data.vocabSize) {
    throw new TesseraError(`run model vocabSize ${run.model.vocabSize} is smaller than the dataset's tokenizer (${data.vocabSize})`, 'set the run model vocabSize to the tokenizer vocab size');
  }
  if (run.seq > run.model.maxSeqLen) throw new TesseraError(`run seq ${run.seq} exceeds the model's maxSeqLen ${run.model.maxSeqLen}`, 'lower seq or raise maxSeqLen');
  const ints: (keyof RunConfig)[] = ['blocksPerWindow', 'innerSteps', 'batch', 'seq', 'checkpointEvery', 'weightsEvery', 'maxPeers'];
  for (const k of ints) if (!Number.isSafeInteger(run[k]) || (run[k] as number) < 1) throw new TesseraError(`run ${k} must be an integer ≥ 1 (got ${String(run[k])})`);
  if (!(run.alpha > 0) || !(run.innerLr > 0) || !(run.deadlineS >= 0) || !(run.warmup >= 0)) throw new TesseraError('run alpha and innerLr must be > 0, deadlineS and warmup ≥ 0');
  if (run.indexMode !== '12bit' && run.indexMode !== 'entropy') throw new TesseraError(`run indexMode must be '12bit' or 'entropy' (got ${String(run.indexMode)})`);
  validateCodecConfig(run.codec);
}

/** Startup shared by both roles; status.json says 'starting' until the node is registered and committed. */
export async function startNode(cfg: NodeConfig, opts: NodeOptions): Promise<Node> {
  const signal = opts.signal ?? new AbortController().signal;
  armFailpoints(cfg.dataDir);
  // Output is best-effort: when stdout/stderr are a file on a full disk, a write error is an 'error' event
  // that would end the process; the status board counts what could not be written.
  for (const s of [process.stdout, process.stderr]) if (s.listenerCount('error') === 0) s.on('error', () => {});
  const status = new StatusBoard(cfg.dataDir, { name: cfg.name, role: cfg.role, hotkey: '' });
  const sink = opts.log ?? ((line: string) => process.stdout.write(line + '\n'));
  const log = (line: string): void => {
    const l = `[${cfg.name}] ${line}`;
    status.logLine(l);
    try { sink(l); } catch { /* stdout unwritable (a full disk): status.logLine counts the lost lines */ }
  };
  if (opts.metricsPort !== undefined) {
    const host = opts.metricsHost ?? '127.0.0.1';
    const { url, server } = await serveMetrics(status.metrics, opts.metricsPort, host).catch((e: Error) => {
      throw new TesseraError(`cannot serve metrics on ${host}:${opts.metricsPort}: ${e.message}`, 'pick another --metrics-port (0: any free port)');
    });
    signal.addEventListener('abort', () => server.close(), { once: true });
    status.note({ metricsUrl: url });
    log(`metrics at ${url}`);
  }
  const chain = opts.chain ?? new DevnetChainClient({ url: cfg.chainUrl, retries: 3, log });
  const data = await openNodeData(cfg, chain, log);
  checkRun(cfg.run, data);
  const pair = await loadWallet(cfg.walletDir, cfg.hotkey);
  const signer = signerOf(pair);
  status.set('starting', { hotkey: signer.address });
  const ctx = { signal, status, log };
  const uid = await retrying(ctx, 'register', () => chain.register(signer));
  const commitment = serializeDescriptor(cfg.publicRead);
  const committed = await retrying(ctx, 'read commitments', () => chain.commitments());
  if (committed[uid] !== commitment) await retrying(ctx, 'commit bucket', () => chain.commit(signer, commitment));
  const store = openStore(cfg.store, 'write');
  await retrying(ctx, 'create bucket', () => store.ensureBucket());
  const hash = hashRun(cfg.run);
  status.set('starting', { uid });
  log(`${cfg.role} uid ${uid} hotkey ${signer.address} run ${cfg.run.runId} (${hash.slice(0, 12)}${cfg.run.dataHash ? `, data ${cfg.run.dataHash.slice(0, 12)}` : ''}) model ${cfg.run.model.dim}d×${cfg.run.model.nLayers}L`);
  return { ...ctx, cfg, run: cfg.run, runHash: hash, chain, signer, uid, store, data, be: getBackend(), model: createLlama(cfg.run.model) };
}
