// The Gauntlet against adversarial miners, in-process: ONE implementation shared by the scenario test
// (src/neurons/adversarial.test.ts), the two-validator test (src/neurons/validators.test.ts) and
// `tessera bench adversarial` (src/cli/bench-adversarial.ts).
//
// The scenario: a devnet chain (300 ms blocks, Yuma every 4 blocks), filesystem buckets, the tiny
// model on a slice of the bundled corpus, one validator (or several with different stakes), 3 honest
// miners and one miner per adversarial behaviour (copy, noise, scaled, signflip, lazy, late, malformed,
// stale; src/scenario/adversaries.ts). Wallets come from fixed mnemonics and register in a fixed order — validators,
// a-copy, h1..hN, the other adversaries — whether or not each adversary runs: the copier holds a lower
// uid than the honest miners (it must be caught by the order of observation, not the uid tie-break),
// and the honest-only twin (adversaries: []) gives the honest miners the same uids, data and seeds.
// Nodes start on a window boundary; the run stops after `windows` windows.
//
// Bench metrics (adversarialReport):
//   adversary_emission_share  Σ over the adversaries' uids of their emission, summed over every Yuma
//                             epoch of the run (the chain's per-uid total), ÷ the same sum over every
//                             miner uid (no validator permit). Target < 5%.
//   windows_to_zero[b]        n such that the leader's shaped weight for adversary b is 0 in its n-th
//                             scored window (1 = the first receipt) and in every later one; null when
//                             its weight is not 0 at the end. Same logic for below_honest_from (final
//                             score below every honest miner's).
//   loss_gap                  (val loss − twin's val loss) / twin's val loss, both the leader's loss
//                             on its fixed validation batches after the run's last window. Target |gap| ≤ 2%.
//   honest_fingerprints_agree every validator and honest miner holds the same parameter fingerprint
//                             after every window that more than one of them applied.
import { createHash } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { entropyToMnemonic } from '@polkadot/util-crypto/mnemonic/bip39';
import { DevnetChainClient, loadState, startDevnetChainServer, type Metagraph } from '../chain/index.js';
import { CODEC_DEFAULTS } from '../compress/index.js';
import { defaultCorpus, prepareData } from '../data/index.js';
import { verifyReceipt, type ScoreReceipt } from '../gauntlet/index.js';
import { getPreset } from '../model/index.js';
import {
  DEFAULT_STAKE, readReceipts, runMiner, runValidator, type MinerHooks, type NodeConfig, type NodeStatus, type RunConfig,
} from '../neurons/index.js';
import { firstBlockOf, windowOf } from '../protocol/index.js';
import { BEHAVIORS, runScenarioMiner, type BehaviorName } from '../scenario/index.js';
import { fsNodeDescriptors, FsStore, type StoreDescriptor } from '../storage/index.js';
import { openTrainData } from '../train/batches.js';
import { plotSvg, type Series } from '../util/plot.js';
import { createWallet, loadWallet, signer } from '../wallet/index.js';
import { TesseraError } from '../util/errors.js';
import { machineLine } from './machine.js';

export type Adversary = Exclude<BehaviorName, 'honest'>;
/** Every adversarial behaviour, in registration order after the honest miners (a-copy registers before them). */
export const ADVERSARIES: readonly Adversary[] = BEHAVIORS.filter((b): b is Adversary => b !== 'honest');
/**
 * What the combined scenario runs: every behaviour once, and the multi-uid attacks as groups — a
 * median-control group (mediangroup × MEDIAN_GROUP) and a sybil pair splitting one training (half × 2).
 */
export const MEDIAN_GROUP = 4;
export const COMBINED: readonly Adversary[] = [...ADVERSARIES, ...Array<Adversary>(MEDIAN_GROUP - 1).fill('mediangroup'), 'half'];

/** The miner names of a list of adversaries: a-<behaviour>, then a-<behaviour>-2, -3 … for repeats. */
export function adversaryNames(running: readonly Adversary[]): string[] {
  const seen = new Map<Adversary, number>();
  return running.map((b) => { const k = (seen.get(b) ?? 0) + 1; seen.set(b, k); return k === 1 ? `a-${b}` : `a-${b}-${k}`; });
}

/** A scenario miner's label in reports: its name less "a-" (the behaviour, -2, -3 … for further members of a group). */
export const labelOf = (name: string): string => name.replace(/^a-/, '');

/** "half*2,copy" → [half, half, copy]: names with an optional repeat count (a group of uids of one behaviour). */
export function parseAdversaryList(list: string): Adversary[] {
  return list.split(',').map((x) => x.trim()).filter(Boolean).flatMap((x) => {
    const m = /^([a-z]+)(?:\*([0-9]+))?$/.exec(x), b = m?.[1] as Adversary | undefined, n = m?.[2] === undefined ? 1 : Number(m[2]);
    if (!m || !ADVERSARIES.includes(b!) || !(n >= 1 && n <= 16)) throw new TesseraError(`--adversaries: '${x}' is not a behaviour (with an optional *count, 1..16)`, `use names from: ${ADVERSARIES.join(', ')}, e.g. half*2`);
    return Array<Adversary>(n).fill(b!);
  });
}
export const SCENARIO_BLOCKS_PER_WINDOW = 8;
export const SCENARIO_WINDOWS = 18;
export const SCENARIO_TEMPO = 4;
/**
 * Every node of the scenario runs in this one process, and every miner gathers and applies each
 * window's aggregate itself: with 200 ms blocks (1.6 s windows) 12 nodes left honest miners no time to
 * train in some windows ("no time left to train before the deadline", up to 6 of 18 windows missed by
 * one miner), and adversaries took their peer slots. 300 ms (2.4 s windows) leaves them margin.
 */
export const SCENARIO_BLOCK_MS = 300;
/** Targets of the bench (README, issue "Gauntlet"). */
export const TARGETS = { adversaryEmissionShare: 0.05, lossGap: 0.02 } as const;

export interface ScenarioValidator { name: string; stake: number }

export interface ScenarioOptions {
  /** Adversaries that run (one miner each, named a-<behavior>, repeats a-<behavior>-2 …); default COMBINED. The wallets of one of each are registered either way (repeats after them). */
  adversaries?: readonly Adversary[];
  /** Validators (first = highest stake leads); default one, v0 with DEFAULT_STAKE. */
  validators?: readonly ScenarioValidator[];
  /** Honest miners h1..hN (default 3). */
  honest?: number;
  /** Hooks for named honest miners (e.g. flakyHooks: an honest miner that misses windows). */
  honestHooks?: Readonly<Record<string, MinerHooks>>;
  /** Per named node: the read descriptor it commits on chain instead of its own bucket's (a hostile or broken bucket). */
  publicRead?: Readonly<Record<string, StoreDescriptor>>;
  /** Runs beside the nodes once they start, until they stop (ctx.signal) (e.g. a hijacker acting on the chain and its own bucket). */
  during?: (ctx: ScenarioContext) => Promise<void>;
  /** Per honest miner: windows after the start at which it joins (default 0 for each: all start together). */
  honestJoin?: readonly number[];
  /** Windows the nodes run: startWindow .. startWindow + windows − 1 (default 18). */
  windows?: number;
  blockMs?: number;
  /** Abort everything after this long (default 100 s). */
  guardMs?: number;
  /** A prepared dataset (prepareScenarioData); default: prepared inside the scenario folder. */
  dataset?: string;
  /** Scenario folder (kept); default a temporary folder, removed afterwards unless keep. */
  root?: string;
  keep?: boolean;
  log?: (line: string) => void;
}

export interface ScenarioContext {
  root: string;
  run: RunConfig;
  chain: DevnetChainClient;
  walletDir: string;
  uidOf: Record<string, number>;
  startWindow: number;
  blockMs: number;
  signal: AbortSignal;
}

export interface EpochSample { block: number; window: number; emission: number[]; dividends: number[] }

export interface ScenarioResult {
  root: string;
  run: RunConfig;
  /** The chain's block interval. */
  blockMs: number;
  /** The first window the nodes ran in, and the last one they run. */
  startWindow: number;
  stopAfterWindow: number;
  uidOf: Record<string, number>;
  validators: Array<ScenarioValidator & { uid: number }>;
  honest: Array<{ name: string; uid: number }>;
  adversaries: Array<{ behavior: Adversary; name: string; uid: number }>;
  /** Each validator's receipts (ascending window), and each receipt's recompute check. */
  receipts: Record<string, ScoreReceipt[]>;
  verification: Record<string, Array<{ window: number; ok: boolean; mismatch?: string }>>;
  rejectedReceipts: Record<string, Array<{ key: string; reason: string }>>;
  /** Each validator's validation loss after each window (its log line "window W: val loss X"). */
  valLoss: Record<string, Array<{ window: number; loss: number }>>;
  /** Each node's fingerprint after each applied window. */
  fingerprints: Record<string, Map<number, string>>;
  status: Record<string, NodeStatus | null>;
  /** The metagraph when the nodes stopped. */
  metagraph: Metagraph;
  /** Per uid: emission summed over every epoch of the run (the chain's own total). */
  totalEmission: number[];
  /** Each Yuma epoch as sampled from the metagraph during the run. */
  epochs: EpochSample[];
  /** The guard timeout fired. */
  aborted: boolean;
  wall_s: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const readLines = <T>(path: string): T[] => existsSync(path) ? readFileSync(path, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as T) : [];
const VAL_LINE = /^\[([a-z0-9-]+)\] window (\d+): val loss (\S+);/;

/** The scenario's dataset: 120 kB of the bundled corpus, 300-token BPE, 20% validation. */
export async function prepareScenarioData(outDir: string): Promise<string> {
  const corpus = `${outDir}-corpus`;
  const text = defaultCorpus().join('\n\n').slice(0, 120_000);
  mkdirSync(corpus, { recursive: true });
  for (let i = 0; i < 6; i++) writeFileSync(join(corpus, `part${i}.txt`), text.slice(i * 20_000, (i + 1) * 20_000));
  await prepareData({ inputs: [corpus], outDir, vocabSize: 300, valFraction: 0.2 });
  return outDir;
}

export function scenarioRun(vocabSize: number): RunConfig {
  return {
    runId: 'adv-test', model: { ...getPreset('tiny'), vocabSize }, blocksPerWindow: SCENARIO_BLOCKS_PER_WINDOW, deadlineS: 0.5,
    innerSteps: 8, batch: 4, seq: 32, innerLr: 3e-3, warmup: 2, alpha: 0.7, codec: { ...CODEC_DEFAULTS }, indexMode: '12bit',
    checkpointEvery: 4, weightsEvery: 1, maxPeers: 3, seed: 11,
  };
}

export async function runAdversarialScenario(o: ScenarioOptions = {}): Promise<ScenarioResult> {
  const t0 = performance.now();
  const windows = o.windows ?? SCENARIO_WINDOWS, blockMs = o.blockMs ?? SCENARIO_BLOCK_MS, bpw = SCENARIO_BLOCKS_PER_WINDOW;
  const running = [...(o.adversaries ?? COMBINED)], runningNames = adversaryNames(running);
  for (const b of running) if (!ADVERSARIES.includes(b)) throw new RangeError(`not an adversarial behavior: ${String(b)}`);
  const validators = [...(o.validators ?? [{ name: 'v0', stake: DEFAULT_STAKE }])];
  const honestNames = Array.from({ length: o.honest ?? 3 }, (_, i) => `h${i + 1}`);
  const root = o.root ?? mkdtempSync(join(tmpdir(), 'tessera-adv-'));
  mkdirSync(root, { recursive: true });
  const log = o.log ?? ((): void => {});
  const losses = new Map<string, Map<number, number>>();
  const sink = (line: string): void => {
    const m = VAL_LINE.exec(line);
    if (m) { const l = losses.get(m[1]!) ?? new Map<number, number>(); l.set(Number(m[2]), Number(m[3])); losses.set(m[1]!, l); }
    log(line);
  };
  const server = await startDevnetChainServer({ dir: join(root, 'chain'), blockMs, tempo: SCENARIO_TEMPO });
  const abort = new AbortController();
  setMaxListeners(64, abort.signal); // every node listens on it
  const guard = setTimeout(() => abort.abort(), o.guardMs ?? 100_000);
  let closed = false, sampling = true, sampler: Promise<void> = Promise.resolve();
  try {
    const dataset = o.dataset ?? (await prepareScenarioData(join(root, 'data')));
    const run = scenarioRun(openTrainData(dataset).vocabSize);
    // Deterministic keys and uids (registered in this order): the run replays the same data and seeds.
    const walletDir = join(root, 'wallets'), chain = new DevnetChainClient({ url: server.url });
    const first = ADVERSARIES.filter((b) => b !== 'copy').map((b) => `a-${b}`);
    const names = [...validators.map((v) => v.name), 'a-copy', ...honestNames, ...first, ...runningNames.filter((n) => n !== 'a-copy' && !first.includes(n))];
    const uidOf: Record<string, number> = {};
    for (const name of names) {
      await createWallet(walletDir, name, { mnemonic: entropyToMnemonic(createHash('sha256').update(`tessera-adversarial-test:${name}`).digest().subarray(0, 16)) });
      uidOf[name] = await chain.register(signer(await loadWallet(walletDir, name)));
    }
    // Stake before any node starts, so the leader (highest stake) is settled when the first one asks.
    for (const v of validators) await chain.addStake(signer(await loadWallet(walletDir, v.name)), v.stake);
    const startWindow = windowOf((await chain.head()).height, bpw) + 1;
    await chain.waitForBlock(firstBlockOf(startWindow, bpw), 30_000);
    const stopAfterWindow = startWindow + windows - 1;
    const cfgOf = (name: string, role: NodeConfig['role'], extra: Partial<NodeConfig> = {}): NodeConfig => {
      const d = fsNodeDescriptors(join(root, 'buckets', name));
      return { role, name, dataDir: join(root, 'nodes', name), chainUrl: server.url, walletDir, hotkey: name, store: d.write, publicRead: o.publicRead?.[name] ?? d.read, dataset, run, stopAfterWindow, ...extra };
    };
    const vCfgs = validators.map((v) => cfgOf(v.name, 'validator', { stake: v.stake }));
    const mCfgs = [...honestNames.map((n) => cfgOf(n, 'miner')), ...running.map((b, i) => cfgOf(runningNames[i]!, 'miner', { behavior: b, ...(b === 'replay' ? { behaviorTarget: uidOf[honestNames[0]!]! } : {}) }))];
    const epochs: EpochSample[] = [];
    sampler = (async () => {
      let last = 0;
      while (sampling) {
        const m = await chain.metagraph().catch(() => null);
        if (m && m.lastEpoch > last) {
          last = m.lastEpoch;
          epochs.push({ block: m.lastEpoch, window: windowOf(m.lastEpoch, bpw), emission: [...m.Emission], dividends: [...m.Dividends] });
        }
        await sleep(blockMs / 2);
      }
    })();
    const opts = { signal: abort.signal, log: sink };
    // A late honest miner starts a block into its join window (from the leader's checkpoint, like any newcomer).
    const joinOf = (name: string): number => o.honestJoin?.[honestNames.indexOf(name)] ?? 0;
    const start = (c: NodeConfig): Promise<void> => (o.honestHooks?.[c.name] ? runMiner(c, { ...opts, hooks: o.honestHooks[c.name] }) : runScenarioMiner(c, opts));
    const mine = (c: NodeConfig): Promise<void> => joinOf(c.name) > 0
      ? chain.waitForBlock(firstBlockOf(startWindow + joinOf(c.name), bpw) + 1, o.guardMs ?? 100_000).then(() => (abort.signal.aborted ? undefined : start(c)))
      : start(c);
    // `during` runs until the nodes stop (its signal then aborts).
    const besideStop = new AbortController(), stopBeside = (): void => besideStop.abort();
    abort.signal.addEventListener('abort', stopBeside, { once: true });
    const beside = o.during?.({ root, run, chain, walletDir, uidOf, startWindow, blockMs, signal: besideStop.signal });
    await Promise.all([...vCfgs.map((c) => runValidator(c, opts)), ...mCfgs.map(mine)]);
    besideStop.abort();
    await beside;
    const aborted = abort.signal.aborted;
    sampling = false;
    await sampler;
    const metagraph = await chain.metagraph();

    const receipts: ScenarioResult['receipts'] = {}, verification: ScenarioResult['verification'] = {}, rejectedReceipts: ScenarioResult['rejectedReceipts'] = {};
    for (const v of validators) {
      const bucket = new FsStore(join(root, 'buckets', v.name), { readOnly: true });
      const got = await readReceipts(bucket, run.runId);
      bucket.close();
      receipts[v.name] = got.receipts;
      rejectedReceipts[v.name] = got.rejected;
      verification[v.name] = got.receipts.map((r) => ({ window: r.window, ...verifyReceipt(r) }));
    }
    const fingerprints: ScenarioResult['fingerprints'] = {}, status: ScenarioResult['status'] = {};
    for (const c of [...vCfgs, ...mCfgs]) {
      fingerprints[c.name] = new Map(readLines<{ window: number; fingerprint: string }>(join(c.dataDir, 'fingerprints.jsonl')).map((e) => [e.window, e.fingerprint]));
      status[c.name] = existsSync(join(c.dataDir, 'status.json')) ? (JSON.parse(readFileSync(join(c.dataDir, 'status.json'), 'utf8')) as NodeStatus) : null;
    }
    await server.close();
    closed = true;
    const final = await loadState(join(root, 'chain'));
    return {
      root, run, blockMs, startWindow, stopAfterWindow, uidOf,
      validators: validators.map((v) => ({ ...v, uid: uidOf[v.name]! })),
      honest: honestNames.map((name) => ({ name, uid: uidOf[name]! })),
      adversaries: running.map((behavior, i) => ({ behavior, name: runningNames[i]!, uid: uidOf[runningNames[i]!]! })),
      receipts, verification, rejectedReceipts,
      valLoss: Object.fromEntries(validators.map((v) => [v.name, [...(losses.get(v.name) ?? new Map<number, number>())].sort((a, b) => a[0] - b[0]).map(([window, loss]) => ({ window, loss }))])),
      fingerprints, status, metagraph, totalEmission: (final?.neurons ?? []).map((n) => n.totalEmission), epochs, aborted,
      wall_s: (performance.now() - t0) / 1000,
    };
  } finally {
    sampling = false;
    clearTimeout(guard);
    abort.abort();
    await sampler.catch(() => undefined);
    if (!closed) await server.close();
    if (o.root === undefined && !o.keep) rmSync(root, { recursive: true, force: true });
  }
}

// ---- What the receipts say about a uid ------------------------------------------------------------

export const minerOf = (r: ScoreReceipt, uid: number) => r.result.miners.find((m) => m.uid === uid);
export function weightOf(r: ScoreReceipt, uid: number): number {
  const i = r.result.weights.uids.indexOf(uid);
  return i < 0 ? 0 : r.result.weights.weights[i]!;
}
export const finalOf = (r: ScoreReceipt, uid: number): number => minerOf(r, uid)?.final ?? 0;

/** 1-based index of the receipt from which `ok` holds in that receipt and every later one (receipts.length + 1: not even in the last). */
export function holdsFrom(receipts: readonly ScoreReceipt[], ok: (r: ScoreReceipt) => boolean): number {
  let i = receipts.length;
  while (i > 0 && ok(receipts[i - 1]!)) i--;
  return i + 1;
}

/** From which scored window (1-based) uid's weight stays 0, and its final score stays below every honest miner's. */
export function caughtFrom(receipts: readonly ScoreReceipt[], uid: number, honestUids: readonly number[]): { zeroFrom: number; belowFrom: number } {
  const below = (r: ScoreReceipt): boolean => finalOf(r, uid) < Math.min(...honestUids.map((h) => finalOf(r, h)));
  return { zeroFrom: holdsFrom(receipts, (r) => weightOf(r, uid) === 0), belowFrom: holdsFrom(receipts, below) };
}

/** Penalty kinds (and 'own-data' for a withheld reward) uid received over the receipts. */
export function penaltyKinds(receipts: readonly ScoreReceipt[], uid: number): string[] {
  return [...new Set(receipts.flatMap((r) => [...(minerOf(r, uid)?.penalties.map((p) => p.kind) ?? []), ...(minerOf(r, uid)?.gate ? ['own-data'] : [])]))];
}

/** Spearman rank correlation (average ranks for ties); NaN for fewer than 2 items or a constant side. */
export function spearman(a: readonly number[], b: readonly number[]): number {
  if (a.length !== b.length) throw new RangeError('spearman: lengths differ');
  const ranks = (x: readonly number[]): number[] => {
    const idx = x.map((v, i) => [v, i] as const).sort((p, q) => p[0] - q[0]);
    const r = new Array<number>(x.length);
    for (let i = 0; i < idx.length;) {
      let j = i;
      while (j + 1 < idx.length && idx[j + 1]![0] === idx[i]![0]) j++;
      for (let k = i; k <= j; k++) r[idx[k]![1]] = (i + j) / 2 + 1;
      i = j + 1;
    }
    return r;
  };
  const ra = ranks(a), rb = ranks(b), n = a.length;
  const mean = (n + 1) / 2;
  let num = 0, da = 0, db = 0;
  for (let i = 0; i < n; i++) { num += (ra[i]! - mean) * (rb[i]! - mean); da += (ra[i]! - mean) ** 2; db += (rb[i]! - mean) ** 2; }
  return num / Math.sqrt(da * db);
}

/** True when every listed node reports the same fingerprint for each window more than one of them applied; with the windows compared. */
export function fingerprintsAgree(fps: readonly Map<number, string>[]): { agree: boolean; windows: number; mismatches: number[] } {
  const byWindow = new Map<number, Set<string>>(), count = new Map<number, number>();
  for (const f of fps) for (const [w, fp] of f) { byWindow.set(w, (byWindow.get(w) ?? new Set()).add(fp)); count.set(w, (count.get(w) ?? 0) + 1); }
  const shared = [...count].filter(([, n]) => n > 1).map(([w]) => w).sort((a, b) => a - b);
  const mismatches = shared.filter((w) => byWindow.get(w)!.size > 1);
  return { agree: shared.length > 0 && mismatches.length === 0, windows: shared.length, mismatches };
}

// ---- The bench ------------------------------------------------------------------------------------

export interface AdversaryRow {
  behavior: Adversary;
  /** The miner's name less "a-": the behaviour, with -2, -3 … for the further members of a group. */
  label: string;
  uid: number;
  windows_to_zero: number | null;
  below_honest_from: number | null;
  emission_share: number;
  /** Receipts in which the uid appears (0: never seen by a deadline, hence never scored nor paid). */
  scored_in: number;
  penalties: string[];
}

export interface AdversarialReport {
  windows: number;
  scored_windows: number;
  start_window: number;
  twin_start_window: number;
  honest_uids: number[];
  adversary_emission_share: number;
  adversary_emission_share_last_epoch: number;
  /** Each honest uid's share of the miner emission, and the smallest ÷ their mean (no false positives: ≥ 0.5). */
  honest_emission_shares: Record<string, number>;
  honest_min_over_mean: number | null;
  adversaries_caught: boolean;
  windows_to_zero: Record<string, number | null>;
  adversaries: AdversaryRow[];
  final_val_loss: number | null;
  twin_final_val_loss: number | null;
  loss_gap: number | null;
  /** The leader's model after the last window is bit-identical to the twin's. */
  same_model_as_twin: boolean;
  honest_fingerprints_agree: boolean;
  fingerprint_windows_compared: number;
  twin_fingerprints_agree: boolean;
  receipts_verified: number;
  receipts_total: number;
  receipt_mismatches: string[];
  targets: { adversary_emission_share: number; loss_gap: number };
  meets_targets: boolean;
  scenario_wall_s: number;
  twin_wall_s: number;
  wall_s: number;
}

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);
const lastLoss = (r: ScenarioResult): { window: number; loss: number } | null => r.valLoss[r.validators[0]!.name]?.at(-1) ?? null;
const honestAgree = (r: ScenarioResult): ReturnType<typeof fingerprintsAgree> =>
  fingerprintsAgree([...r.validators, ...r.honest].map((n) => r.fingerprints[n.name] ?? new Map<number, string>()));

/** Miner uids: registered without a validator permit. */
const minerUidsOf = (r: ScenarioResult): number[] => r.metagraph.uids.filter((u) => !r.metagraph.validatorPermit[u]);

export function adversarialReport(s: ScenarioResult, twin: ScenarioResult, wallS: number): AdversarialReport {
  const leader = s.validators[0]!.name, receipts = s.receipts[leader] ?? [];
  const hUids = s.honest.map((h) => h.uid), miners = minerUidsOf(s);
  const minerTotal = sum(miners.map((u) => s.totalEmission[u] ?? 0));
  const share = (uids: number[]): number => (minerTotal > 0 ? sum(uids.map((u) => s.totalEmission[u] ?? 0)) / minerTotal : 0);
  const lastEmission = s.metagraph.Emission, lastMinerTotal = sum(miners.map((u) => lastEmission[u] ?? 0));
  const advUids = s.adversaries.map((a) => a.uid);
  const rows: AdversaryRow[] = s.adversaries.map((a) => {
    const c = caughtFrom(receipts, a.uid, hUids);
    return {
      behavior: a.behavior, label: labelOf(a.name), uid: a.uid, windows_to_zero: c.zeroFrom <= receipts.length ? c.zeroFrom : null,
      below_honest_from: c.belowFrom <= receipts.length ? c.belowFrom : null, emission_share: share([a.uid]),
      scored_in: receipts.filter((r) => minerOf(r, a.uid) !== undefined).length, penalties: penaltyKinds(receipts, a.uid),
    };
  });
  const l = lastLoss(s), lt = lastLoss(twin);
  const gap = l && lt ? (l.loss - lt.loss) / lt.loss : null;
  const ver = Object.values(s.verification).flat();
  const fpS = s.fingerprints[leader], fpT = twin.fingerprints[twin.validators[0]!.name];
  const lastS = fpS ? Math.max(...fpS.keys()) : -1;
  const ag = honestAgree(s);
  const share_ = share(advUids);
  return {
    windows: s.stopAfterWindow - s.startWindow + 1, scored_windows: receipts.length, start_window: s.startWindow, twin_start_window: twin.startWindow,
    honest_uids: hUids,
    honest_emission_shares: Object.fromEntries(hUids.map((u) => [u, share([u])])),
    honest_min_over_mean: (() => { const xs = hUids.map((u) => share([u])), m = sum(xs) / Math.max(1, xs.length); return m > 0 ? Math.min(...xs) / m : null; })(),
    adversary_emission_share: share_,
    adversary_emission_share_last_epoch: lastMinerTotal > 0 ? sum(advUids.map((u) => lastEmission[u] ?? 0)) / lastMinerTotal : 0,
    adversaries_caught: rows.every((r) => r.windows_to_zero !== null && r.below_honest_from !== null),
    windows_to_zero: Object.fromEntries(rows.map((r) => [r.label, r.windows_to_zero])),
    adversaries: rows,
    final_val_loss: l?.loss ?? null, twin_final_val_loss: lt?.loss ?? null, loss_gap: gap,
    same_model_as_twin: lastS >= 0 && fpS!.get(lastS) === fpT?.get(lastS),
    honest_fingerprints_agree: ag.agree, fingerprint_windows_compared: ag.windows, twin_fingerprints_agree: honestAgree(twin).agree,
    receipts_verified: ver.filter((v) => v.ok).length, receipts_total: ver.length,
    receipt_mismatches: ver.filter((v) => !v.ok).map((v) => `window ${v.window}: ${v.mismatch}`),
    targets: { adversary_emission_share: TARGETS.adversaryEmissionShare, loss_gap: TARGETS.lossGap },
    meets_targets: share_ < TARGETS.adversaryEmissionShare && gap !== null && Math.abs(gap) <= TARGETS.lossGap,
    scenario_wall_s: s.wall_s, twin_wall_s: twin.wall_s, wall_s: wallS,
  };
}

export interface BenchAdversarialOptions {
  windows?: number;
  /** Where adversarial.md/.svg are written (null: nowhere). */
  out?: string | null;
  /** Keep the scenario folders here (default: a temporary folder, removed afterwards). */
  dir?: string;
  guardMs?: number;
  log?: (line: string) => void;
  /** The adversaries that run (default all; a solo run names one). */
  adversaries?: readonly Adversary[];
  /** Honest miners (default 3). */
  honest?: number;
}

/** Runs the scenario and its honest-only twin (same seeds, uids and length), reports, and writes the report files. */
export async function benchAdversarial(o: BenchAdversarialOptions = {}): Promise<{ report: AdversarialReport; scenario: ScenarioResult; twin: ScenarioResult }> {
  const t0 = performance.now();
  const root = o.dir ?? mkdtempSync(join(tmpdir(), 'tessera-bench-adv-'));
  mkdirSync(root, { recursive: true });
  const windows = o.windows ?? SCENARIO_WINDOWS, guardMs = o.guardMs ?? Math.max(300_000, windows * 20_000);
  try {
    o.log?.('preparing the scenario dataset');
    const dataset = await prepareScenarioData(join(root, 'data'));
    const running = o.adversaries ?? COMBINED;
    const honest = o.honest ?? 3;
    o.log?.(`scenario: ${honest} honest miners + ${running.length} adversaries (${running.join(', ')}), ${windows} windows`);
    const scenario = await runAdversarialScenario({ windows, dataset, root: join(root, 'scenario'), guardMs, adversaries: running, honest });
    o.log?.(`  done in ${scenario.wall_s.toFixed(0)} s; honest-only twin: 3 honest miners, same seeds and uids`);
    const twin = await runAdversarialScenario({ windows, dataset, root: join(root, 'twin'), adversaries: [], guardMs, honest });
    o.log?.(`  done in ${twin.wall_s.toFixed(0)} s`);
    if (scenario.aborted || twin.aborted) throw new Error(`the ${scenario.aborted ? 'scenario' : 'twin'} hit its ${guardMs / 1000} s guard timeout`);
    const report = adversarialReport(scenario, twin, (performance.now() - t0) / 1000);
    if (o.out) writeAdversarialReport(o.out, report, scenario, twin);
    return { report, scenario, twin };
  } finally {
    if (o.dir === undefined) rmSync(root, { recursive: true, force: true });
  }
}

// ---- Report files ---------------------------------------------------------------------------------

const fx = (x: number | null | undefined, d = 3): string => (x === null || x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(d));
const pct = (x: number | null, d = 2): string => (x === null ? '-' : `${(100 * x).toFixed(d)}%`);

interface Column { label: string; uid: number }

function columnsOf(s: ScenarioResult): Column[] {
  return [...s.honest.map((h) => ({ label: h.name, uid: h.uid })), ...s.adversaries.map((a) => ({ label: labelOf(a.name), uid: a.uid }))];
}

/** Miner emission per window (Σ of the window's sampled epochs), by uid. */
function emissionByWindow(s: ScenarioResult): Map<number, number[]> {
  const out = new Map<number, number[]>();
  for (const e of s.epochs) {
    const acc = out.get(e.window) ?? new Array<number>(e.emission.length).fill(0);
    e.emission.forEach((x, u) => { acc[u] = (acc[u] ?? 0) + x; });
    out.set(e.window, acc);
  }
  return out;
}

function table(head: string[], rows: string[][]): string {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

export function adversarialSummary(r: AdversarialReport): string {
  return [
    `adversary_emission_share ${pct(r.adversary_emission_share)} (target < ${pct(r.targets.adversary_emission_share, 0)}; last epoch ${pct(r.adversary_emission_share_last_epoch)})`,
    `windows_to_zero ${r.adversaries.map((a) => `${a.label} ${a.windows_to_zero ?? 'never'}`).join(', ')} (of ${r.scored_windows} scored windows)`,
    `loss_gap ${r.loss_gap === null ? '-' : `${r.loss_gap >= 0 ? '+' : ''}${pct(r.loss_gap)}`} (val loss ${fx(r.final_val_loss, 4)} vs honest-only twin ${fx(r.twin_final_val_loss, 4)}; target within ±${pct(r.targets.loss_gap, 0)})` +
      `${r.same_model_as_twin ? '; the final model is bit-identical to the twin\'s' : ''}`,
    `honest_fingerprints_agree ${r.honest_fingerprints_agree} (${r.fingerprint_windows_compared} windows); receipts_verified ${r.receipts_verified}/${r.receipts_total}` +
      `${r.receipt_mismatches.length ? ` MISMATCHES: ${r.receipt_mismatches.join('; ')}` : ''}`,
    `all adversaries caught: ${r.adversaries_caught}; targets met: ${r.meets_targets}; wall ${r.wall_s.toFixed(0)} s (scenario ${r.scenario_wall_s.toFixed(0)} s, twin ${r.twin_wall_s.toFixed(0)} s)`,
  ].join('\n');
}

export function writeAdversarialReport(dir: string, r: AdversarialReport, s: ScenarioResult, twin: ScenarioResult): void {
  mkdirSync(dir, { recursive: true });
  const machine = machineLine(), leader = s.validators[0]!.name, receipts = s.receipts[leader] ?? [];
  const cols = columnsOf(s), em = emissionByWindow(s), miners = minerUidsOf(s);
  const lossAt = (x: ScenarioResult, w: number): number | undefined => x.valLoss[x.validators[0]!.name]?.find((e) => e.window === w)?.loss;
  const settings = `tiny model (dim ${s.run.model.dim}, ${s.run.model.nLayers} layers, vocab ${s.run.model.vocabSize}), ${s.run.blocksPerWindow} blocks × ${s.blockMs} ms per window, ` +
    `Yuma every ${SCENARIO_TEMPO} blocks, H=${s.run.innerSteps}, batch ${s.run.batch}×${s.run.seq}, α ${s.run.alpha}, max peers ${s.run.maxPeers}, seed ${s.run.seed}; ` +
    `one validator, honest miners ${s.honest.map((h) => `${h.name} (uid ${h.uid})`).join(', ')}, adversaries ${s.adversaries.map((a) => `${labelOf(a.name)} (uid ${a.uid})`).join(', ')}`;
  const scoredIdx = (w: number): number => receipts.findIndex((x) => x.window === w) + 1;
  const perWindow = (cell: (rc: ScoreReceipt, uid: number) => string, extra: (rc: ScoreReceipt) => string[]): string[][] =>
    receipts.map((rc) => [`${rc.window} (${scoredIdx(rc.window)})`, ...cols.map((c) => cell(rc, c.uid)), ...extra(rc)]);
  const advSum = (rc: ScoreReceipt): number => sum(s.adversaries.map((a) => weightOf(rc, a.uid)));
  const emRows = [...em.keys()].sort((a, b) => a - b).map((w) => {
    const e = em.get(w)!, tot = sum(miners.map((u) => e[u] ?? 0));
    return [String(w), ...cols.map((c) => fx(e[c.uid] ?? 0, 3)), tot > 0 ? pct(sum(s.adversaries.map((a) => e[a.uid] ?? 0)) / tot, 1) : '-'];
  });
  const md = `# Gauntlet vs adversarial miners

Recorded ${machine}. Produced by \`tessera bench adversarial\` (src/bench/adversarial.ts; metric definitions in its header).

Settings: ${settings}. ${r.windows} windows from window ${r.start_window} (twin: from window ${r.twin_start_window}); the honest-only twin runs the same
3 honest miners with the same wallets, uids, data and seeds, without the adversaries.

| metric | value | target |
|---|---|---|
| adversary_emission_share (Σ over all epochs) | ${pct(r.adversary_emission_share)} | < ${pct(r.targets.adversary_emission_share, 0)} |
| adversary share of the last epoch's miner emission | ${pct(r.adversary_emission_share_last_epoch)} | |
| loss_gap (val loss vs honest-only twin) | ${r.loss_gap === null ? '-' : pct(r.loss_gap)} (${fx(r.final_val_loss, 4)} vs ${fx(r.twin_final_val_loss, 4)}) | within ±${pct(r.targets.loss_gap, 0)} |
| final model bit-identical to the twin's | ${r.same_model_as_twin} | |
| honest_fingerprints_agree | ${r.honest_fingerprints_agree} (${r.fingerprint_windows_compared} windows) | true |
| receipts_verified | ${r.receipts_verified}/${r.receipts_total} | all |
| every adversary at weight 0 and below every honest miner at the end | ${r.adversaries_caught} | true |
| wall time | ${r.wall_s.toFixed(0)} s (scenario ${r.scenario_wall_s.toFixed(0)} s, twin ${r.twin_wall_s.toFixed(0)} s) | |

## Adversaries

windows_to_zero: the scored window (1 = the first receipt) from which the validator's weight for the
adversary is 0 in every later window (1: it never had any weight); below honest: the same for a final
score below every honest miner's (in the first scored window nobody has a final score above 0 yet).

${table(['behavior', 'uid', 'windows_to_zero', 'below honest from', 'emission share', 'in receipts', 'penalties'],
    r.adversaries.map((a) => [a.label, String(a.uid), String(a.windows_to_zero ?? 'never'), String(a.below_honest_from ?? 'never'), pct(a.emission_share),
      `${a.scored_in}/${r.scored_windows}`, a.penalties.join(', ') || (a.scored_in === 0 ? 'never seen by a deadline' : '-')]))}

## Weights per window

The validator's shaped weights (from its receipts); window (scored index).

${table(['window', ...cols.map((c) => c.label), 'adversaries Σ'], perWindow((rc, u) => fx(weightOf(rc, u), 3), (rc) => [fx(advSum(rc), 3)]))}

## Final scores per window

${table(['window', ...cols.map((c) => c.label), 'val loss', 'twin val loss'], perWindow((rc, u) => fx(finalOf(rc, u), 2), (rc) => [fx(lossAt(s, rc.window), 4), fx(lossAt(twin, rc.window), 4)]))}

## Emission per window

Each uid's Yuma emission summed over the epochs in each chain window (${SCENARIO_TEMPO}-block tempo, sampled from the metagraph), and the adversaries'
share of the miners'. The weights from the receipt of window W reach the chain while window W + 1 runs (scoring waits for W's
upload deadline), so emission trails the weights above by one to two windows. The headline share is the chain's own per-uid total
over every epoch, not this sample.

${table(['window', ...cols.map((c) => c.label), 'adversary share'], emRows)}

Plot: adversarial.svg.
`;
  writeFileSync(join(dir, 'adversarial.md'), md);
  const xs = receipts.map((rc) => rc.window);
  const weights: Series[] = [
    ...s.honest.map((h) => ({ name: `honest ${h.name}`, x: xs, y: receipts.map((rc) => weightOf(rc, h.uid)) })),
    { name: 'adversaries (sum)', x: xs, y: receipts.map(advSum) },
    { name: 'adversaries (max)', x: xs, y: receipts.map((rc) => Math.max(...s.adversaries.map((a) => weightOf(rc, a.uid)))) },
  ];
  const lossSeries = (x: ScenarioResult, name: string): Series => {
    const v = x.valLoss[x.validators[0]!.name] ?? [];
    return { name, x: v.map((e) => e.window), y: v.map((e) => e.loss) };
  };
  const ew = [...em.keys()].sort((a, b) => a - b);
  const emShare = (uids: number[]): number[] => ew.map((w) => { const e = em.get(w)!, t = sum(miners.map((u) => e[u] ?? 0)); return t > 0 ? sum(uids.map((u) => e[u] ?? 0)) / t : 0; });
  writeFileSync(join(dir, 'adversarial.svg'), plotSvg([
    { title: 'validator weights per window', xLabel: 'window', yLabel: 'weight', series: weights },
    { title: 'share of miner emission per window', xLabel: 'window', yLabel: 'share', series: [
      { name: 'honest miners', x: ew, y: emShare(s.honest.map((h) => h.uid)) }, { name: 'adversaries', x: ew, y: emShare(s.adversaries.map((a) => a.uid)) }] },
    { title: 'validation loss', xLabel: 'window', yLabel: 'validation loss (nats)', series: [lossSeries(s, 'with adversaries'), lossSeries(twin, 'honest-only twin')] },
  ], `${machine} | ${r.windows} windows; adversary emission share ${pct(r.adversary_emission_share)}; loss gap ${r.loss_gap === null ? '-' : pct(r.loss_gap)}`.slice(0, 260)));
}
