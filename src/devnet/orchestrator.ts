// The devnet orchestrator: data, the chain as its own process, storage, wallets + stake, one process
// per miner/validator (each with a NodeConfig JSON and a log), a late miner, and an orderly stop
// (nodes first, then the chain, then Ceph). Everything lives under one folder; a second start resumes.
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile, rename } from 'node:fs/promises';
import { createServer } from 'node:net';
import { getPriority, setPriority } from 'node:os';
import { join, resolve } from 'node:path';
import { DEFAULT_FAUCET_CAP, DevnetChainClient, loadState, metagraphOf, type Chain, type Metagraph } from '../chain/index.js';
import { SUBTENSOR_BLOCK_MS, SubtensorChain } from '../chain/subtensor/chain.js';
import { Chopsticks, devKeys, devRpc, pairSigner, prepareLocalSubnet } from '../chain/subtensor/local.js';
import { blocksToEpochBlock } from '../chain/check.js';
import { indexDataset, prepareData, publishDataset } from '../data/index.js';
import { openStore, type StoreDescriptor } from '../storage/index.js';
import type { NodeConfig, RunConfig } from '../neurons/types.js';
import { checkRunTiming, windowOf } from '../protocol/index.js';
import { createWallet, keyfilePath, loadWallet, signer } from '../wallet/index.js';
import { TesseraError } from '../util/errors.js';
import type { BehaviorName } from '../scenario/adversaries.js';
import { modelInfo } from '../model/index.js';
import { covenantLinks } from '../hosts/links.js';
import { HostNet, hostsUnavailable, removeHosts } from '../hosts/netns.js';
import { calibrateWindow, trainShareOf, VALIDATOR_SHARE, type Calibration } from './calibrate.js';
import { CHAIN_HOST, hostSpecs, linkCounters, STORAGE_HOST } from './hosts.js';
import { checkPipeline, type PipelineConfig } from '../hetero/group.js';
import type { ActivationKind } from '../hetero/activations.js';
import { adversaryName, stageName, checkResume, defaultDeadlineS, DEVNET_DEFAULTS, makeRunConfig, readRecord, writeRecord, type DevnetOptions, type DevnetRecord, type NodeConfigFile } from './config.js';
import { CHAIN_READY_PREFIX, fileSize, TesseraProcess, waitForLine } from './process.js';
import { openDevnetStorage, type DevnetStorageProvider } from './storage.js';
import { applyMetagraph, fingerprintAgreement, readFingerprints, readStatus, type DevnetSnapshot, type NodeRow } from './view.js';

export interface DevnetNode {
  name: string;
  role: 'miner' | 'validator';
  dataDir: string;
  configFile: string;
  logFile: string;
  hotkey: string;
  /** Late miner: started once the chain reaches this window. */
  startAtWindow?: number;
  /** Adversarial miner: its behaviour (NodeConfig.behavior); undefined = honest. */
  behavior?: BehaviorName;
  proc: TesseraProcess | null;
  /** Supervision: times the process died unexpectedly (recent ones), whether a restart is pending, and whether it was given up on. */
  deaths?: number[];
  restartAt?: number | null;
  failing?: boolean;
  /** Stopped on purpose (killNode): not restarted by the supervisor. */
  killed?: boolean;
  /** A stage of a pipeline group (NodeConfig.pipeline). */
  pipeline?: PipelineConfig;
}

/** Supervision (as operators ran nodes under pm2): a node that dies is restarted after 2^k s (k = its recent deaths, at most 60 s)... */
export const RESTART_BASE_MS = 2_000;
export const RESTART_MAX_MS = 60_000;
/** ...unless it died this many times within RESTART_WINDOW_MS: then it is shown as failing with its log's tail and left stopped. */
export const RESTART_LIMIT = 5;
export const RESTART_WINDOW_MS = 10 * 60_000;

/** Delay before restarting a node that died `recent` times lately (1 → 2 s, 2 → 4 s, …, at most 60 s); null: give up. */
export function restartDelayMs(recent: number): number | null {
  if (recent >= RESTART_LIMIT) return null;
  return Math.min(RESTART_MAX_MS, RESTART_BASE_MS * 2 ** Math.max(0, recent - 1));
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Miners run this much nicer than the rest: on one machine the nodes stand for separate machines, and
 * a miner that trains back to back (overlap) must not take the CPU the validator scores with, or the
 * chain and the storage answer with.
 */
export const MINER_NICE = 5;

function lowerPriority(pid: number | undefined, by: number): void {
  if (pid === undefined) return;
  try { setPriority(pid, Math.min(19, getPriority(process.pid) + by)); } catch { /* not permitted: leave it */ }
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

/** The devnet's bucket for the published dataset (not a node). */
export const DATASET_BUCKET = 'dataset';

export class Devnet {
  readonly nodes = new Map<string, DevnetNode>();
  readonly events: string[] = [];
  /** Each node's status sampled once a second: one entry per (window, loss, valLoss) change. */
  readonly history = new Map<string, Array<{ at: number; window: number; phase: string; loss: number | null; valLoss: number | null }>>();
  chain: TesseraProcess | null = null;
  chainUrl = '';
  /** --hosts: the network namespaces every process runs in (null: all on this host's loopback). */
  hostNet: HostNet | null = null;
  /** --hosts: each host's link byte counters, sampled when the chain enters a new window. */
  readonly linkSamples: Array<{ window: number; at: number; bytes: Record<string, { up: number; down: number }> }> = [];
  /** A new network's window calibration (null: given by --blocks-per-window, or a resumed network). */
  calibration: Calibration | null = null;
  stopWindow: number | null = null;
  /** Resolves when the network has stopped (after --windows, or stop()). */
  readonly done: Promise<void>;
  /** Resolves when every node process has exited (before the chain and storage stop). */
  readonly nodesDone: Promise<void>;
  private resolveDone!: () => void;
  private resolveNodesDone!: () => void;
  private stopping: Promise<void> | null = null;
  private monitor: NodeJS.Timeout | undefined;
  private ticking = false;
  private restarting = false;
  private client!: Chain;
  /** --chain chopsticks: the runtime's process, the adapter the orchestrator uses (with the sudo key) and the block ticker. */
  private local: { node: Chopsticks; chain: SubtensorChain; ticker?: NodeJS.Timeout } | null = null;
  /** Subnet of a chopsticks devnet. */
  static readonly LOCAL_NETUID = 1;
  private storage!: DevnetStorageProvider;
  /** Read-only descriptor of the bucket the dataset is published to (null: a network made before datasets were published). */
  private datasetMirror: StoreDescriptor | null = null;
  private readonly log: (line: string) => void;

  private constructor(readonly root: string, readonly opts: DevnetOptions, public record: DevnetRecord) {
    this.log = opts.log ?? ((): void => {});
    this.done = new Promise((r) => { this.resolveDone = r; });
    this.nodesDone = new Promise((r) => { this.resolveNodesDone = r; });
  }

  get run(): RunConfig { return this.record.run; }
  get storageLine(): string { return this.storage?.describe ?? this.record.storage; }

  /** Starts (or resumes) the network in opts.dir; resolves once every node process is spawned. */
  static async start(opts: DevnetOptions): Promise<Devnet> {
    const root = resolve(opts.dir);
    await mkdir(root, { recursive: true });
    const saved = readRecord(root);
    let o = { ...opts, data: opts.data === undefined ? undefined : resolve(opts.data) };
    if (o.chain === 'chopsticks') {
      if (saved) throw new TesseraError(`${root} holds a devnet already; a chopsticks devnet keeps its chain in memory and cannot resume one`, 'pass a new --dir');
      if (o.blockMs !== undefined && o.blockMs !== SUBTENSOR_BLOCK_MS) throw new TesseraError(`--block-ms ${o.blockMs}: subtensor's blocks are ${SUBTENSOR_BLOCK_MS} ms apart`, 'drop --block-ms with --chain chopsticks');
      o = { ...o, blockMs: SUBTENSOR_BLOCK_MS };
    }
    let calibration: Calibration | null = null;
    const savedBlockMs = saved?.blockMs;
    if (saved) {
      checkResume(saved, o);
      saved.blockMs = o.blockMs ?? saved.blockMs ?? DEVNET_DEFAULTS.blockMs;
      // The run is fixed, the block time is not: a faster chain can shrink a window below the deadline.
      try {
        checkRunTiming(saved.run, saved.blockMs);
      } catch (e) {
        if (!(e instanceof TesseraError)) throw e;
        throw new TesseraError(`the devnet in ${o.dir} cannot run with --block-ms ${saved.blockMs}: ${e.message}`,
          `resume it with --block-ms above ${Math.floor((saved.run.deadlineS * 1000) / saved.run.blocksPerWindow)}${savedBlockMs !== undefined ? ` (it ran with ${savedBlockMs})` : ''}, or pass a new --dir`);
      }
    } else {
      // A new network's window: sized from this machine unless given (calibrate.ts), then checked with
      // the deadline before the corpus is prepared or anything starts (makeRunConfig's defaults).
      const blockMs = o.blockMs ?? DEVNET_DEFAULTS.blockMs;
      if (o.run.blocksPerWindow === undefined) { calibration = calibrate(o, blockMs); o = { ...o, run: { ...o.run, blocksPerWindow: calibration?.blocksPerWindow ?? DEVNET_DEFAULTS.run.blocksPerWindow } }; }
      const blocksPerWindow = o.run.blocksPerWindow ?? DEVNET_DEFAULTS.run.blocksPerWindow;
      checkRunTiming({ blocksPerWindow, deadlineS: o.run.deadlineS ?? defaultDeadlineS(blocksPerWindow, blockMs) }, blockMs);
    }
    const data = saved?.data ?? o.data ?? join(root, 'data');
    if (!existsSync(join(data, 'manifest.json'))) {
      if (o.data) throw new TesseraError(`${data} is not a prepared dataset (no manifest.json)`, `prepare it: tessera data prepare --out ${data}`);
      opts.log?.(`preparing the bundled corpus into ${data} (once) ...`);
      await prepareData({ outDir: data, vocabSize: opts.vocabSize ?? DEVNET_DEFAULTS.vocabSize, onProgress: (m: string) => opts.log?.(`  ${m}`) });
    }
    const vocab = (JSON.parse(readFileSync(join(data, 'manifest.json'), 'utf8')) as { tokenizer: { vocabSize: number } }).tokenizer.vocabSize;
    // A new network's run names its data by content hash (RunConfig.dataHash): miners fetch it through the run manifest.
    const record: DevnetRecord = saved ?? {
      format: 'tessera-devnet', version: 1, createdAt: new Date().toISOString(),
      run: { ...makeRunConfig(o.run, o.blockMs ?? DEVNET_DEFAULTS.blockMs, vocab), dataHash: indexDataset(data).hash },
      preset: o.run.preset ?? DEVNET_DEFAULTS.run.preset, chainPort: await freePort(), blockMs: o.blockMs ?? DEVNET_DEFAULTS.blockMs, storage: o.storage.kind,
      s3Endpoint: o.storage.kind === 's3' ? o.storage.endpoint : undefined, data, miners: [],
    };
    const d = new Devnet(root, o, record);
    d.calibration = calibration;
    try {
      await d.boot(saved === null);
    } catch (e) {
      await d.stop();
      throw e;
    }
    return d;
  }

  private async boot(fresh: boolean): Promise<void> {
    this.log(`${fresh ? 'creating' : 'resuming'} devnet ${this.run.runId} in ${this.root}`);
    // Validator wallets first: the chain exempts them from its faucet cap (docs/security.md).
    const validators = validatorNames(Math.max(this.opts.validators ?? 1, this.record.validators ?? 1));
    for (const v of validators) await this.addNode(v, 'validator');

    // A resumed network runs every miner it ran before (a late miner of an earlier run included), at least --miners,
    // then one adversarial miner per --adversaries behaviour (adversaries of an earlier run keep their behaviour).
    const late = this.opts.lateMinerWindow !== undefined ? `miner-${this.opts.miners + 1}` : null;
    const behaviorOf = new Map<string, BehaviorName>(Object.entries(this.record.behaviors ?? {}));
    for (const b of this.opts.adversaries ?? []) behaviorOf.set(adversaryName(b), b);
    const miners = [...new Set([...Array.from({ length: this.opts.miners }, (_, i) => `miner-${i + 1}`), ...this.record.miners,
      ...(this.opts.adversaries ?? []).map(adversaryName)])].filter((m) => m !== late);
    const stageNodes = await this.addStages();
    for (const m of miners.filter((x) => !stageNodes.includes(x))) await this.addNode(m, 'miner', undefined, behaviorOf.get(m));
    if (late) await this.addNode(late, 'miner', this.opts.lateMinerWindow);
    if (this.opts.hosts) await this.makeHosts();
    if (this.opts.chain === 'chopsticks') await this.startChopsticks();
    else await this.startChain(fresh);
    await writeRecord(this.root, this.record);
    const storageHost = this.hostNet?.host(STORAGE_HOST);
    this.storage = await openDevnetStorage(this.root, this.opts.storage, this.run.runId, this.log, storageHost ? { netns: storageHost.ns, addr: storageHost.ip } : undefined);
    this.client = this.local?.chain ?? new DevnetChainClient({ url: this.chainUrl, retries: 30, maxBackoffMs: 2000 });
    // The dataset goes up while wallets register (the chain is running: every second counts); awaited before any node starts.
    const published = this.run.dataHash !== undefined ? this.publishData() : Promise.resolve();
    published.catch(() => {}); // rethrown by the await below
    if (validators.length > (this.record.validators ?? 1)) { this.record.validators = validators.length; await writeRecord(this.root, this.record); }

    // The validators (uids 0.. on a new chain) get stake from the faucet, hence validator permits; the first
    // holds the most and leads, the others take over by stake order when it stops publishing.
    for (const name of validators) {
      const v = signer(await loadWallet(this.walletDir, name));
      await this.client.register(v);
      const m = await this.client.metagraph();
      const want = this.validatorStake(name), have = m.stake[m.hotkeys.indexOf(v.address)] ?? 0;
      if (have < want) await this.client.addStake(v, want - have);
    }
    for (const name of [...miners.filter((x) => !stageNodes.includes(x)), ...stageNodes]) await this.client.register(signer(await loadWallet(this.walletDir, name)));

    await published;
    if (this.local) await this.startTicker();
    const head = await this.client.head();
    const window = windowOf(head.height, this.run.blocksPerWindow);
    if (this.opts.windows !== undefined) this.stopWindow = window + this.opts.windows;
    for (const n of this.nodes.values()) if (n.startAtWindow === undefined) await this.spawnNode(n);
    this.log(`${this.nodes.size} nodes; chain ${this.chainUrl} at block ${head.height} (window ${window})` +
      `${this.stopWindow !== null ? `; stopping after window ${this.stopWindow}` : ''}`);
    this.monitor = setInterval(() => {
      if (this.ticking) return; // a slow tick (starting a late miner) must not overlap the next one
      this.ticking = true;
      this.tick().catch((e: Error) => this.event(`monitor: ${e.message}`)).finally(() => { this.ticking = false; });
    }, 1000);
  }

  get walletDir(): string { return join(this.root, 'wallets'); }

  /**
   * --hosts: one network namespace per node (hosts.ts), links shaped as asked; what a crashed earlier
   * run of this devnet left behind is removed first. Needs root; refuses with the reason otherwise.
   */
  private async makeHosts(): Promise<void> {
    const h = this.opts.hosts!;
    const why = await hostsUnavailable();
    if (why) throw new TesseraError(`--hosts: ${why}`, 'run as root on Linux, or without --hosts');
    if (this.opts.storage.kind !== 'ceph') throw new TesseraError('--hosts needs --ceph: the object storage must be a server on its own network host', 'add --ceph (a private Ceph RGW in its own namespace)');
    if (this.record.hostsId) await removeHosts(this.record.hostsId);
    let covenant = null;
    if (h.links === 'covenant') {
      const c = this.calibration ?? calibrate({ ...this.opts, run: { ...this.opts.run, blocksPerWindow: this.run.blocksPerWindow } }, this.record.blockMs);
      if (!c) throw new TesseraError('--links covenant needs the compute time of a window, and timing an inner step failed', 'give plain rates with --up/--down');
      covenant = covenantLinks(modelInfo(this.run.model).params, c.trainS);
      this.log(`links covenant: ${modelInfo(this.run.model).params} parameters computing ~${c.trainS.toFixed(1)} s per window → every miner up ${covenant.up}, down ${covenant.down} (Covenant-72B's 110/500 Mb/s scaled by params and compute time)`);
    }
    const specs = hostSpecs([...this.nodes.values()], h, covenant);
    this.hostNet = await HostNet.create(specs);
    this.record.hostsId = this.hostNet.id;
    await writeRecord(this.root, this.record);
    for (const x of this.hostNet.hosts) this.log(`host ${x.name}: ${x.ip} (netns ${x.ns}), up ${x.up ?? 'unshaped'}, down ${x.down ?? 'unshaped'}`);
  }

  /** --hosts: bytes each host has sent and received so far. */
  linkBytes(): Record<string, { up: number; down: number }> {
    const out: Record<string, { up: number; down: number }> = {};
    for (const x of this.hostNet?.hosts ?? []) {
      const c = linkCounters(this.hostNet!.veth(x.name));
      if (c) out[x.name] = c;
    }
    return out;
  }

  /** Publishes the dataset to its own bucket (tessera data publish; resumes, skipping what is there) for the miners to fetch. */
  private async publishData(): Promise<void> {
    const s = await this.storage.nodeStores(DATASET_BUCKET), store = openStore(s.write, 'write');
    try {
      const r = await publishDataset(this.record.data, [{ name: 'dataset bucket', descriptor: s.write, store }], { journalDir: join(this.root, 'publish') });
      if (r.hash !== this.run.dataHash) {
        throw new TesseraError(`the dataset in ${this.record.data} changed since this devnet was created: it hashes to ${r.hash}, the run trains on ${this.run.dataHash}`, 'restore that folder, or pass a new --dir');
      }
      const m = r.mirrors[0]!;
      this.log(`dataset ${r.hash.slice(0, 12)} published to the dataset bucket: ${m.uploaded} object(s) uploaded, ${m.skipped} already there`);
    } finally {
      store.close();
    }
    this.datasetMirror = s.read;
  }

  private event(line: string): void {
    this.events.push(`${new Date().toISOString().slice(11, 19)} ${line}`);
    if (this.events.length > 100) this.events.shift();
    this.log(line);
  }

  /**
   * --chain chopsticks: starts subtensor's spec-103 runtime in chopsticks (Instant blocks during setup),
   * makes //Alice the sudo key, creates subnet LOCAL_NETUID with tempo = blocks per window and funds
   * every node's hotkey (remark fees). Registration and stake then go through the runtime's calls.
   */
  private async startChopsticks(): Promise<void> {
    const node = await Chopsticks.start({ dir: join(this.root, 'chain'), log: this.log });
    try {
      const hotkeys = [...this.nodes.values()].map((n) => n.hotkey);
      for (let i = 1; i <= this.opts.miners + (this.opts.adversaries?.length ?? 0) + 1; i++) {
        const name = `miner-${i}`;
        if (!existsSync(keyfilePath(this.walletDir, name))) await createWallet(this.walletDir, name);
        hotkeys.push((await loadWallet(this.walletDir, name)).address);
      }
      for (const b of this.opts.adversaries ?? []) {
        const name = adversaryName(b);
        if (!existsSync(keyfilePath(this.walletDir, name))) await createWallet(this.walletDir, name);
        hotkeys.push((await loadWallet(this.walletDir, name)).address);
      }
      await prepareLocalSubnet(node.endpoint, { netuid: Devnet.LOCAL_NETUID, tempo: this.opts.tempo ?? this.run.blocksPerWindow, accounts: hotkeys, fund: 100,
        maxAllowedValidators: [...this.nodes.values()].filter((n) => n.role === 'validator').length, log: this.log });
      const chain = await SubtensorChain.connect({ endpoint: node.endpoint, netuid: Devnet.LOCAL_NETUID, sudo: pairSigner((await devKeys()).sudo), log: this.log });
      this.local = { node, chain };
      this.chainUrl = node.endpoint;
    } catch (e) {
      await node.close();
      throw e;
    }
  }

  /**
   * From here on blocks come every SUBTENSOR_BLOCK_MS on a fixed schedule (Manual mode + dev_newBlock), so
   * the runtime's timestamps (+12 s a block) keep pace with the clock, as on a real subtensor; extrinsics
   * wait in the pool for the next block.
   */
  private async startTicker(): Promise<void> {
    const l = this.local!;
    // Up to the first epoch (and the block that pays it) at Instant speed: the runtime gives the staked
    // validators their ValidatorPermit there, as they hold it on a live subnet before its nodes start.
    const tempo = Number((await l.chain.api.query.subtensorModule.tempo(Devnet.LOCAL_NETUID)).toString());
    await devRpc(l.chain.api, 'dev_newBlock', [{ count: blocksToEpochBlock((await l.chain.head()).height, Devnet.LOCAL_NETUID, tempo) + 1 }]);
    await devRpc(l.chain.api, 'dev_setBlockBuildMode', ['Manual']);
    let next = Date.now() + SUBTENSOR_BLOCK_MS;
    const tick = (): void => {
      devRpc(l.chain.api, 'dev_newBlock', [{ count: 1 }]).catch((e: Error) => this.event(`chopsticks: dev_newBlock failed: ${e.message}`)).finally(() => {
        next = Math.max(next + SUBTENSOR_BLOCK_MS, Date.now());
        if (this.local) l.ticker = setTimeout(tick, next - Date.now());
      });
    };
    l.ticker = setTimeout(tick, SUBTENSOR_BLOCK_MS);
  }

  /** Starts the chain process (on the saved port; a new one if that is taken). */
  private async startChain(fresh: boolean): Promise<void> {
    const dir = join(this.root, 'chain');
    for (let attempt = 0; ; attempt++) {
      const args = ['chain', '--dir', dir, '--port', String(this.record.chainPort), '--block-ms', String(this.record.blockMs)];
      const host = this.hostNet?.host(CHAIN_HOST);
      if (host) args.push('--host', host.ip);
      // The faucet gives others at most a tenth of the smallest validator stake (and DEFAULT_FAUCET_CAP at most).
      const vals = [...this.nodes.values()].filter((n) => n.role === 'validator');
      const cap = Math.min(DEFAULT_FAUCET_CAP, ...vals.map((n) => this.validatorStake(n.name) / 10));
      args.push('--faucet-cap', String(cap), '--faucet-exempt', vals.map((n) => n.hotkey).join(','));
      if (fresh && !existsSync(join(dir, 'chain-state.json'))) args.push('--tempo', String(this.opts.tempo ?? this.run.blocksPerWindow));
      else if (this.opts.tempo !== undefined) args.push('--tempo', String(this.opts.tempo));
      const logFile = join(dir, 'chain.log');
      const from = fileSize(logFile);
      this.chain = new TesseraProcess('chain', args, logFile, {}, host?.ns);
      try {
        const rest = await waitForLine(this.chain, from, CHAIN_READY_PREFIX, 30_000);
        this.chainUrl = rest.split(' ')[0]!;
        this.record.chainUrl = this.chainUrl;
        return;
      } catch (e) {
        if (attempt === 0 && /cannot listen/.test((e as Error).message)) {
          this.record.chainPort = await freePort();
          this.log(`chain port taken; using ${this.record.chainPort}`);
          continue;
        }
        throw e;
      }
    }
  }

  /** Stops the chain (SIGTERM: it saves its state) and starts it again on the same port after downMs. */
  async restartChain(downMs = 0): Promise<void> {
    this.restarting = true;
    try {
      this.event('restarting the chain');
      await this.chain?.stop('SIGTERM', 10_000);
      await sleep(downMs);
      await this.startChain(false);
      this.event(`chain back at ${this.chainUrl}`);
    } finally {
      this.restarting = false;
    }
  }

  /**
   * A storage outage (--ceph only): stops the S3 gateway, waits downMs and starts it again on the same
   * endpoint; buckets, users and objects are kept. Resolves once S3 answers again.
   */
  async restartStorage(downMs = 0): Promise<void> {
    if (!this.storage?.restart) throw new TesseraError(`restartStorage needs --ceph storage (this devnet uses ${this.storageLine})`, 'run the devnet with --ceph');
    this.event('stopping the S3 gateway (storage outage)');
    await this.storage.restart(downMs);
    this.event('S3 gateway back');
  }

  /**
   * --pipeline-groups G --stages S (or a resumed network's groups): G groups of S stage nodes, each a miner
   * with its own wallet, bucket and uid, and NodeConfig.pipeline naming its group's hotkeys in stage order.
   */
  private async addStages(): Promise<string[]> {
    const saved = this.record.pipeline, G = this.opts.pipelineGroups ?? saved?.groups ?? 0;
    if (G === 0) return [];
    const S = this.opts.stages ?? saved?.stages ?? 2;
    if (saved && (saved.groups !== G || saved.stages !== S)) throw new TesseraError(`the devnet in ${this.opts.dir} runs ${saved.groups} pipeline group(s) of ${saved.stages} stages`, 'drop --pipeline-groups and --stages to resume it, or pass a new --dir');
    const codec: ActivationKind = this.opts.stageCodec ?? saved?.codec ?? (this.run.overlap ? 'int8' : 'subspace');
    const micro = this.run.batch % 2 === 0 ? 2 : 1, rank = Math.max(4, Math.floor(this.run.model.dim / 8));
    const names: string[] = [];
    for (let g = 1; g <= G; g++) {
      const group = Array.from({ length: S }, (_, s) => stageName(g, s));
      for (const n of group) await this.addNode(n, 'miner');
      const members = group.map((n) => this.nodes.get(n)!.hotkey);
      group.forEach((n, s) => {
        const pipeline: PipelineConfig = { group: `g${g}`, stage: s, members, codec, rank, micro };
        checkPipeline(pipeline, this.run.model.nLayers, this.run.batch, !!this.run.overlap);
        this.nodes.get(n)!.pipeline = pipeline;
      });
      names.push(...group);
    }
    this.record.pipeline = { groups: G, stages: S, codec };
    this.log(`${G} pipeline group(s) of ${S} stages (${codec} boundaries${codec === 'subspace' ? `, k = ${rank}` : ''}, ${micro} micro-batch(es)): ${names.join(', ')}`);
    return names;
  }

  private async addNode(name: string, role: 'miner' | 'validator', startAtWindow?: number, behavior?: BehaviorName): Promise<void> {
    if (!existsSync(keyfilePath(this.walletDir, name))) await createWallet(this.walletDir, name);
    const pair = await loadWallet(this.walletDir, name);
    const dataDir = join(this.root, 'nodes', name);
    this.nodes.set(name, {
      name, role, dataDir, configFile: join(dataDir, 'config.json'), logFile: join(dataDir, 'node.log'), hotkey: pair.address, startAtWindow,
      ...(behavior && behavior !== 'honest' ? { behavior } : {}), proc: null,
    });
  }

  private async spawnNode(n: DevnetNode): Promise<void> {
    const stores = await this.storage.nodeStores(n.name);
    // Miners join the way any miner does (tessera miner --chain --wallet --store): run and data from the leader's run
    // manifest, data fetched from the dataset bucket. Validators keep the local dataset and list the bucket as a mirror.
    const joins = n.role === 'miner' && this.datasetMirror !== null;
    const base: NodeConfigFile = {
      role: n.role, name: n.name, dataDir: n.dataDir, chainUrl: this.chainUrl, walletDir: this.walletDir, hotkey: n.name,
      ...(this.local ? { netuid: Devnet.LOCAL_NETUID } : {}),
      store: stores.write, publicRead: stores.read, ...(joins ? {} : { dataset: this.record.data, run: this.run }),
      ...(n.role === 'validator' && this.datasetMirror ? { datasetMirrors: [this.datasetMirror] } : {}),
      ...(this.stopWindow !== null ? { stopAfterWindow: this.stopWindow } : {}),
      ...(n.role === 'validator' ? { stake: this.validatorStake(n.name) } : {}),
      ...(n.behavior ? { behavior: n.behavior } : {}),
      // On network hosts a stage listens on its own host's address, where its predecessor (another namespace) can reach it.
      ...(n.pipeline ? { pipeline: this.hostNet ? { ...n.pipeline, host: this.hostNet.host(n.name).ip } : n.pipeline } : {}),
    };
    const cfg = this.opts.nodeConfig ? this.opts.nodeConfig(n.name, base) : base; // the chaos suite's relays
    await mkdir(n.dataDir, { recursive: true });
    await writeFile(`${n.configFile}.tmp`, JSON.stringify(cfg, null, 2) + '\n', { mode: 0o600 });
    await rename(`${n.configFile}.tmp`, n.configFile);
    const env: Record<string, string> = { TESSERA_THREADS: process.env.TESSERA_THREADS ?? '1', ...this.opts.nodeEnv };
    n.proc = new TesseraProcess(n.name, [n.role, '--config', n.configFile], n.logFile, env, this.hostNet?.host(n.name).ns);
    if (n.role === 'miner') lowerPriority(n.proc.pid, MINER_NICE);
    if (n.role === 'miner' && (!this.record.miners.includes(n.name) || (n.behavior && this.record.behaviors?.[n.name] !== n.behavior))) {
      if (!this.record.miners.includes(n.name)) this.record.miners.push(n.name);
      if (n.behavior) this.record.behaviors = { ...this.record.behaviors, [n.name]: n.behavior };
      await writeRecord(this.root, this.record);
    }
    this.event(`started ${n.role} ${n.name}${n.behavior ? ` (ADVERSARIAL: ${n.behavior})` : ''} (pid ${n.proc.pid}, log ${n.logFile})`);
    const proc = n.proc;
    void proc.exited.then((x) => {
      if (this.stopping) return;
      const how = x.code === 0 ? 'exited normally' : `EXITED (${x.code ?? x.signal})`;
      this.event(`${n.name} ${how}${x.code === 0 ? '' : `; last log lines:\n${proc.tail(8)}`}`);
      if (x.code === 0 || n.killed || this.opts.supervise === false) return;
      const now = Date.now();
      n.deaths = [...(n.deaths ?? []).filter((t) => now - t < RESTART_WINDOW_MS), now];
      const delay = restartDelayMs(n.deaths.length);
      if (delay === null) {
        n.failing = true;
        n.restartAt = null;
        this.event(`${n.name} FAILING: died ${n.deaths.length} times in ${RESTART_WINDOW_MS / 60_000} min; not restarting it (fix the cause, then restart the devnet). Last log lines:\n${proc.tail(12)}`);
        return;
      }
      n.restartAt = now + delay;
      this.event(`${n.name} will be restarted in ${(delay / 1000).toFixed(0)} s (death ${n.deaths.length} of at most ${RESTART_LIMIT} in ${RESTART_WINDOW_MS / 60_000} min)`);
    });
  }

  private sample(): void {
    for (const n of this.nodes.values()) {
      const st = n.proc ? readStatus(n.dataDir) : null;
      if (!st) continue;
      const h = this.history.get(n.name) ?? [];
      const last = h.at(-1);
      if (!last || last.window !== st.window || last.loss !== st.loss || last.valLoss !== st.valLoss) {
        h.push({ at: Date.now(), window: st.window, phase: st.phase, loss: st.loss, valLoss: st.valLoss });
        this.history.set(n.name, h);
      }
    }
  }

  private async tick(): Promise<void> {
    if (this.stopping) return;
    this.sample();
    if (this.chain && !this.chain.running && !this.restarting) {
      this.event(`the chain process exited (${this.chain.exit!.code ?? this.chain.exit!.signal}); starting it again:\n${this.chain.tail(5)}`);
      await this.restartChain();
    }
    for (const n of this.nodes.values()) {
      if (n.restartAt == null || Date.now() < n.restartAt || n.proc?.running) continue;
      n.restartAt = null;
      this.event(`restarting ${n.name} (it died ${n.deaths?.length ?? 0} time(s) lately)`);
      await this.spawnNode(n);
    }
    const waiting = [...this.nodes.values()].filter((n) => n.proc === null && n.startAtWindow !== undefined);
    let window: number | null = null;
    if (waiting.length || this.stopWindow !== null || this.hostNet) {
      const head = await this.client.head().catch(() => null);
      if (head) window = windowOf(head.height, this.run.blocksPerWindow);
    }
    if (window !== null && this.hostNet && this.linkSamples.at(-1)?.window !== window) {
      this.linkSamples.push({ window, at: Date.now(), bytes: this.linkBytes() });
    }
    if (window !== null) {
      for (const n of waiting) {
        if (window < n.startAtWindow!) continue;
        await this.client.register(signer(await loadWallet(this.walletDir, n.name)));
        await this.spawnNode(n);
        this.event(`late miner ${n.name} joined at window ${window}`);
      }
    }
    if (this.stopWindow === null) return;
    const procs = [...this.nodes.values()].map((n) => n.proc).filter((p): p is TesseraProcess => p !== null);
    if (procs.every((p) => !p.running) && waiting.length === 0) {
      clearInterval(this.monitor);
      this.sample();
      this.event(`all nodes stopped after window ${this.stopWindow}`);
      this.resolveNodesDone();
      if (this.opts.autoStop !== false) await this.stop();
    } else if (window !== null && window > this.stopWindow + 3) {
      this.event(`nodes still running 3 windows after the stop window ${this.stopWindow}: stopping them`);
      await Promise.all(procs.map((p) => p.stop('SIGINT', 30_000)));
    }
  }

  /** Stops every node (SIGINT, then SIGKILL after a grace period), then the chain, then Ceph. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      clearInterval(this.monitor);
      this.sample();
      const running = [...this.nodes.values()].filter((n) => n.proc?.running);
      if (running.length) this.log(`stopping ${running.map((n) => n.name).join(', ')} ...`);
      await Promise.all(running.map((n) => n.proc!.stop('SIGINT', 30_000)));
      this.resolveNodesDone();
      if (this.chain?.running) {
        this.log('stopping the chain ...');
        await this.chain.stop('SIGTERM', 10_000);
      }
      if (this.local) {
        const l = this.local;
        this.local = null;
        clearTimeout(l.ticker);
        const m = await l.chain.metagraph().catch(() => null);
        if (m) {
          const f = (xs: number[]): string => `[${xs.map((x) => +x.toFixed(6)).join(', ')}]`;
          this.log(`subtensor runtime at block ${m.block} (last epoch ${m.lastEpoch}): Incentive ${f(m.Incentive)}, Dividends ${f(m.Dividends)}, Emission ${f(m.Emission)} TAO, ` +
            `weights rows set ${m.Weights.filter((r) => r.length > 0).length}, validator permits ${m.validatorPermit.filter(Boolean).length}`);
        }
        this.log('stopping chopsticks ...');
        await l.chain.close().catch(() => {});
        await l.node.close();
      }
      if (this.storage) await this.storage.close().catch((e: Error) => this.log(`storage: ${e.message}`));
      if (this.hostNet) {
        this.linkSamples.push({ window: this.linkSamples.at(-1)?.window ?? -1, at: Date.now(), bytes: this.linkBytes() });
        await this.hostNet.destroy().catch((e: Error) => this.log(`network hosts: ${e.message}`));
        this.log(`removed the ${this.hostNet.hosts.length} network hosts (${this.hostNet.id}*)`);
        delete this.record.hostsId;
        await writeRecord(this.root, this.record).catch(() => {});
      }
      this.log(`devnet stopped; state kept in ${this.root} (run again to resume)`);
      this.resolveDone();
    })();
    return this.stopping;
  }

  /** Faucet stake of a validator: validator-k holds 1/k of --stake (the first leads). */
  private validatorStake(name: string): number {
    const k = name === 'validator' ? 1 : Number(name.slice('validator-'.length));
    return (this.opts.validatorStake ?? DEVNET_DEFAULTS.validatorStake) / k;
  }

  /** Fault injection (tests, demos): SIGKILL one node's process; the monitor does not restart it. */
  killNode(name: string): void {
    const n = this.nodes.get(name);
    if (!n?.proc?.running) throw new TesseraError(`no running node '${name}'`, `nodes: ${[...this.nodes.keys()].join(', ')}`);
    this.event(`killing ${name} (SIGKILL)`);
    n.killed = true;
    n.restartAt = null;
    n.proc.signal('SIGKILL');
  }

  /** Starts a stopped or killed node again with its saved config and state. */
  async restartNode(name: string): Promise<void> {
    const n = this.nodes.get(name);
    if (!n) throw new TesseraError(`no node '${name}'`, `nodes: ${[...this.nodes.keys()].join(', ')}`);
    if (n.proc?.running) return;
    n.killed = false;
    n.failing = false;
    n.restartAt = null;
    await this.spawnNode(n);
  }

  /** Last resort (a second Ctrl-C): SIGKILL every process this devnet started; Ceph and network hosts are cleaned up on the next start. */
  kill(): void {
    clearInterval(this.monitor);
    for (const n of this.nodes.values()) n.proc?.signal('SIGKILL');
    this.chain?.signal('SIGKILL');
  }

  /** What the terminal view shows. */
  async snapshot(): Promise<DevnetSnapshot> {
    const rows: NodeRow[] = [...this.nodes.values()].map((n) => ({
      name: n.name, role: n.role, behavior: n.pipeline ? `stage ${n.pipeline.stage + 1}/${n.pipeline.members.length}` : n.role === 'miner' ? (n.behavior ?? 'honest') : null, status: readStatus(n.dataDir), uid: null, stake: null, incentive: null, emission: null, weight: null,
      state: n.proc === null ? `waiting w${n.startAtWindow}` : n.proc.running ? 'running' : n.failing ? 'FAILING'
        : n.restartAt != null ? `restart in ${Math.max(0, Math.ceil((n.restartAt - Date.now()) / 1000))}s` : n.proc.exit!.code === 0 ? 'stopped' : `exit ${n.proc.exit!.code ?? n.proc.exit!.signal}`,
    }));
    let m: Metagraph | null = null;
    if (this.local) m = await this.local.chain.metagraph().catch(() => null);
    else if (this.client && this.chain?.running) m = await new DevnetChainClient({ url: this.chainUrl, retries: 0, requestTimeoutMs: 2000 }).metagraph().catch(() => null);
    else if (this.chain) m = await loadState(join(this.root, 'chain')).then((st) => (st ? metagraphOf(st) : null), () => null); // stopped: its saved state
    if (m) applyMetagraph(rows, m, new Map([...this.nodes.values()].map((n) => [n.name, n.hotkey])));
    const block = m?.block ?? null;
    return {
      at: Date.now(), root: this.root, chainUrl: this.chainUrl, storage: this.storageLine, block,
      window: block === null ? null : windowOf(block, this.run.blocksPerWindow), blocksPerWindow: this.run.blocksPerWindow,
      lastEpoch: m?.lastEpoch ?? null, nodes: rows, stopWindow: this.stopWindow,
      agreement: fingerprintAgreement([...this.nodes.values()].map((n) => readFingerprints(n.dataDir))), events: [...this.events],
    };
  }
}

/** The window of a new network from a measured step time (null when the measurement fails: the default window); says what it chose. */
function calibrate(o: DevnetOptions, blockMs: number): Calibration | null {
  const r = o.run, d = DEVNET_DEFAULTS.run;
  const miners = o.miners + (o.adversaries?.length ?? 0) + (o.lateMinerWindow !== undefined ? 1 : 0) + (o.pipelineGroups ?? 0) * (o.stages ?? 2);
  const innerSteps = r.innerSteps ?? d.innerSteps;
  o.log?.(`calibrating the window: timing one inner step of ${r.preset ?? d.preset} ${r.batch ?? d.batch}×${r.seq ?? d.seq} on one thread ...`);
  const overlap = r.overlap ?? d.overlap;
  const c = calibrateWindow({ preset: r.preset ?? d.preset, batch: r.batch ?? d.batch, seq: r.seq ?? d.seq, vocabSize: o.vocabSize ?? DEVNET_DEFAULTS.vocabSize,
    innerSteps, miners, blockMs, minBlocks: o.minBlocks ?? d.blocksPerWindow, overlap, share: o.trainShare,
    // An explicit --train-share (bench network's utilization runs) sizes the window by the miners alone.
    validatorShare: o.trainShare !== undefined ? null : undefined });
  if (!c) { o.log?.(`calibration failed; using the default window of ${d.blocksPerWindow} blocks`); return null; }
  o.log?.(`calibrated: one inner step takes ${c.stepMs.toFixed(0)} ms here; ${miners} miner(s) and a validator share ${c.cores} core(s) (×${c.contention.toFixed(2)}), ` +
    `so H=${innerSteps} steps take ~${c.trainS.toFixed(1)} s and the validator's evaluation ~${c.validatorS.toFixed(1)} s; window = ${c.blocksPerWindow} blocks × ${blockMs} ms = ${c.windowS.toFixed(0)} s ` +
    `(training at most ${Math.round(trainShareOf({ overlap, share: o.trainShare }) * 100)}% of it${overlap ? ', overlapped with the upload and aggregate of the window before' : ''}` +
    `${o.trainShare === undefined ? `, the evaluation at most ${Math.round(VALIDATOR_SHARE * 100)}%` : ''}; at least ${o.minBlocks ?? d.blocksPerWindow} blocks; --blocks-per-window overrides)`);
  return c;
}

/** 'validator', then 'validator-2', 'validator-3', ... */
export const validatorNames = (n: number): string[] => Array.from({ length: n }, (_, i) => (i === 0 ? 'validator' : `validator-${i + 1}`));
