// `tessera bench network`: a short devnet (chain + storage + miners + validator as processes), then
// what the nodes recorded: fingerprint agreement, measured utilization (train + encode over window time
// from timeline.jsonl), and the same payloads scaled to a 72B model on Covenant-72B's links.
//
// utilization_72b, per round (Covenant-72B: ~20 min of compute per round, 94.5% reported):
//   bits/param  = measured payload bytes × 8 / model parameters           (same codec settings at 72B)
//   payload_72b = bits/param × 72e9 / 8 bytes
//   upload_s    = payload_72b × 8 / 110e6                                  (110 Mb/s uplink)
//   download_s  = peers(20) × payload_72b × 8 / 500e6                      (500 Mb/s downlink)
//   compute_s   = 1200
//   utilization_72b            = compute_s / (compute_s + upload_s + download_s)   (nothing overlapped, as measured here)
//   utilization_72b_overlapped = compute_s / max(compute_s, upload_s + download_s) (communication hidden behind the next window's compute)
//
// Whether the network keeps learning (learningReport, from the leading validator's and the honest
// miners' timeline.jsonl; a window counts once the validator has scored it):
//   uploads_accepted_share   honest uploads the validator found valid and in time ÷ honest miner-windows
//                            (every window a running honest miner recorded, uploaded or not)
//   empty_aggregate_windows  windows whose aggregate was empty although ≥ 1 honest upload was valid
//   stalled_windows          windows whose fingerprint did not change although honest uploads were valid
//   late_uploads             honest miner-windows with nothing sent in time (late, skipped for lack of time,
//                            or anchored after the deadline)
//   leader_changes           windows whose leader (the validator whose peer list chose the aggregate)
//                            differs from the window before's
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Devnet, readStatus, readTimeline, type DevnetOptions } from '../devnet/index.js';
import { modelInfo } from '../model/index.js';
import type { TimelineEntry } from '../neurons/types.js';

/**
 * `--hosts` measures communication behind compute, so its window is sized a tenth shorter than H inner
 * steps take by the calibration: miners then compute for the whole window, as Templar's do, and the
 * step planner cuts the last steps to keep each upload before its deadline. At a share of 1 a calibration
 * a few percent pessimistic (it is one timed step, and blocks are whole) let miners finish H steps early
 * and wait for the window's end — idle that is not communication (bench/network.md: 2.2 s in 4 of 11
 * windows, utilization 0.946; on an idle machine the devnet's 15-block floor did the same, 0.952). The devnet's own default,
 * 0.9, leaves a tenth free by design.
 */
export const HOSTS_TRAIN_SHARE = 1.1;
/** …and the window may be as short as that needs (the devnet's floor of 15 blocks is a margin for a busy machine). */
export const HOSTS_MIN_BLOCKS = 8;
export const COVENANT = { params: 72e9, computeS: 20 * 60, uploadBps: 110e6, downloadBps: 500e6, peers: 20, reportedUtilization: 0.945 };

/** Timeline phases averaged in the report: the mean over the miners' complete windows (the first, partial window of each node is left out). */
const PHASES = ['window_s', 'train_s', 'encode_s', 'upload_s', 'gather_s', 'apply_s', 'idle_s'] as const;

export interface LearningReport {
  honest_miner_windows: number;
  uploads_accepted: number;
  uploads_accepted_share: number;
  empty_aggregate_windows: number;
  stalled_windows: number;
  late_uploads: number;
  leader_changes: number;
  /** Mean and minimum deadline − anchor inclusion (ms) over the honest uploads. */
  margin_ms_mean: number | null;
  margin_ms_min: number | null;
  /** Mean inner steps of the honest miners' uploads. */
  steps_mean: number | null;
}

/**
 * The learning figures (see the header) from the validator's timeline and each honest miner's
 * (uid → entries). Windows before the validator's first scored window are not counted.
 */
export function learningReport(validatorEntries: readonly TimelineEntry[], honestEntries: ReadonlyMap<number, readonly TimelineEntry[]>): LearningReport {
  // A window a node did again after a restart counts once (its last entry).
  const once = (es: readonly TimelineEntry[]): TimelineEntry[] => [...new Map(es.map((e) => [e.window, e])).values()];
  const validator = once(validatorEntries), honest = new Map([...honestEntries].map(([u, es]) => [u, once(es)]));
  const byWindow = new Map(validator.map((e) => [e.window, e]));
  const uids = new Set(honest.keys());
  let windows = 0, accepted = 0, late = 0;
  const margins: number[] = [], steps: number[] = [];
  for (const [uid, entries] of honest) {
    for (const e of entries) {
      const v = byWindow.get(e.window);
      if (!v) continue;
      windows++;
      if (v.valid?.includes(uid)) accepted++;
      if (e.outcome === 'late' || e.outcome === 'none' || (typeof e.margin_ms === 'number' && e.margin_ms < 0)) late++;
      if (typeof e.margin_ms === 'number') margins.push(e.margin_ms);
      if (e.steps) steps.push(e.steps);
    }
  }
  let empty = 0, stalled = 0, changes = 0, prevFp: string | null = null, prevLeader: number | null | undefined;
  for (const v of [...validator].sort((a, b) => a.window - b.window)) {
    const honestValid = (v.valid ?? []).some((u) => uids.has(u));
    if (honestValid && (v.aggregated ?? []).length === 0) empty++;
    if (honestValid && prevFp !== null && v.fingerprint === prevFp) stalled++;
    if (prevLeader !== undefined && v.leader !== prevLeader) changes++;
    prevFp = v.fingerprint;
    prevLeader = v.leader ?? null;
  }
  return {
    honest_miner_windows: windows, uploads_accepted: accepted, uploads_accepted_share: windows ? accepted / windows : 0,
    empty_aggregate_windows: empty, stalled_windows: stalled, late_uploads: late, leader_changes: changes,
    margin_ms_mean: margins.length ? mean(margins) : null, margin_ms_min: margins.length ? Math.min(...margins) : null, steps_mean: steps.length ? mean(steps) : null,
  };
}

/** --hosts: a host's link as shaped and the bytes it sent/received per window (mean over the windows after the first). */
export interface LinkReport { up: string | null; down: string | null; bytes_up: number; bytes_down: number }

export interface NetworkReport extends LearningReport, Pick<TimelineEntry, (typeof PHASES)[number]> {
  windows: number;
  /** Whether miners overlapped communication with compute (RunConfig.overlap). */
  overlap: boolean;
  /** Per miner: Σ (train + encode) ÷ Σ window time over its complete windows (the mean of these is `utilization`). */
  miner_utilization: number[];
  /** --hosts: every host's link and bytes per window (null: all nodes on loopback). */
  links: Record<string, LinkReport> | null;
  fingerprints_agree: boolean;
  windows_compared: number;
  mismatched_windows: number[];
  miners: number;
  params: number;
  utilization: number;
  payload_bytes: number;
  bits_per_param: number;
  val_loss_first: number | null;
  val_loss_last: number | null;
  weights_set: boolean;
  miner_emission: number[];
  utilization_72b: number;
  utilization_72b_overlapped: number;
  covenant_reported_utilization: number;
  model_72b: { payload_bytes: number; upload_s: number; download_s: number; compute_s: number };
}

const mean = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);

/** Utilization at 72B from a measured bits/parameter (see the header for the formula). */
export function utilization72b(bitsPerParam: number): Pick<NetworkReport, 'utilization_72b' | 'utilization_72b_overlapped' | 'model_72b'> {
  const c = COVENANT;
  const payload = (bitsPerParam * c.params) / 8;
  const upload = (payload * 8) / c.uploadBps;
  const download = (c.peers * payload * 8) / c.downloadBps;
  return {
    utilization_72b: c.computeS / (c.computeS + upload + download),
    utilization_72b_overlapped: c.computeS / Math.max(c.computeS, upload + download),
    model_72b: { payload_bytes: payload, upload_s: upload, download_s: download, compute_s: c.computeS },
  };
}

/** Reads what a (stopped or running) devnet's nodes recorded and turns it into the report. */
export async function networkReport(net: Devnet): Promise<NetworkReport> {
  const snap = await net.snapshot();
  const miners = [...net.nodes.values()].filter((n) => n.role === 'miner' && n.proc !== null);
  const perMiner = miners.map((n) => readTimeline(n.dataDir).slice(1));
  const entries: TimelineEntry[] = perMiner.flat();
  const utilOf = (es: TimelineEntry[]): number => es.reduce((a, e) => a + e.train_s + e.encode_s, 0) / es.reduce((a, e) => a + e.window_s, 0);
  const minerUtil = perMiner.filter((es) => es.length > 0).map(utilOf);
  const params = modelInfo(net.run.model).params;
  const sum = (k: keyof TimelineEntry): number => entries.reduce((a, e) => a + (e[k] as number), 0);
  const payloads = entries.map((e) => e.payloadBytes).filter((b) => b > 0);
  const payload = mean(payloads);
  const bitsPerParam = (payload * 8) / params;
  const validator = [...net.nodes.values()].find((n) => n.role === 'validator')!;
  const vs = readStatus(validator.dataDir);
  const valLosses = valLossHistory(net, validator.name);
  const a = snap.agreement;
  const honest = new Map(miners.filter((n) => !n.behavior).map((n) => [readStatus(n.dataDir)?.uid ?? -1, readTimeline(n.dataDir)] as const).filter(([u]) => u >= 0));
  return {
    ...learningReport(readTimeline(validator.dataDir), honest),
    windows: a.windowsChecked,
    overlap: net.run.overlap === true,
    miner_utilization: minerUtil,
    links: linkReport(net),
    fingerprints_agree: a.windowsChecked > 0 && a.mismatches.length === 0,
    windows_compared: a.windowsChecked,
    mismatched_windows: a.mismatches,
    miners: miners.length,
    params,
    ...(Object.fromEntries(PHASES.map((k) => [k, mean(entries.map((e) => e[k]))])) as Pick<NetworkReport, (typeof PHASES)[number]>),
    utilization: mean(minerUtil),
    payload_bytes: payload,
    bits_per_param: bitsPerParam,
    val_loss_first: valLosses[0] ?? null,
    val_loss_last: valLosses.at(-1) ?? vs?.valLoss ?? null,
    weights_set: Boolean(vs?.weights && Object.keys(vs.weights).length > 0),
    miner_emission: snap.nodes.filter((r) => r.role === 'miner').map((r) => r.emission ?? 0),
    ...utilization72b(bitsPerParam),
    covenant_reported_utilization: COVENANT.reportedUtilization,
  };
}

/** Bytes per window per host from the devnet's link samples (one per window change, one at the stop), from the second window on: Δbytes × window time ÷ Δt. */
export function linkReport(net: Pick<Devnet, 'hostNet' | 'linkSamples' | 'run' | 'record'>): Record<string, LinkReport> | null {
  if (!net.hostNet) return null;
  const s = net.linkSamples.filter((x) => x.window >= 0);
  const first = s[Math.min(1, s.length - 1)], last = s.at(-1);
  const windowMs = net.run.blocksPerWindow * net.record.blockMs, per = first && last && last.at > first.at ? windowMs / (last.at - first.at) : 0;
  const out: Record<string, LinkReport> = {};
  for (const h of net.hostNet.hosts) {
    const a = first?.bytes[h.name], b = last?.bytes[h.name];
    out[h.name] = { up: h.up, down: h.down, bytes_up: a && b ? Math.round((b.up - a.up) * per) : 0, bytes_down: a && b ? Math.round((b.down - a.down) * per) : 0 };
  }
  return out;
}

/** A node's validation losses as the devnet sampled them from its status.json (one per change). */
export function valLossHistory(net: Devnet, name: string): number[] {
  const out: number[] = [];
  for (const h of net.history.get(name) ?? []) if (h.valLoss !== null && Number.isFinite(h.valLoss) && h.valLoss !== out.at(-1)) out.push(h.valLoss);
  return out;
}

export interface BenchNetworkOptions extends Partial<Omit<DevnetOptions, 'log'>> {
  windows?: number;
  keep?: boolean;
  log?: (line: string) => void;
}

/** Runs a fresh devnet for `windows` windows in a temporary folder (or opts.dir) and reports. */
export async function benchNetwork(o: BenchNetworkOptions = {}): Promise<NetworkReport & { wall_s: number; dir: string }> {
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), 'tessera-bench-network-'));
  const t0 = performance.now();
  const net = await Devnet.start({
    dir, miners: o.miners ?? 3, run: o.run ?? {}, blockMs: o.blockMs ?? 1000, windows: o.windows ?? 5, storage: o.storage ?? { kind: 'fs' },
    data: o.data, vocabSize: o.vocabSize, tempo: o.tempo, nodeEnv: o.nodeEnv, log: o.log, hosts: o.hosts, trainShare: o.trainShare, minBlocks: o.minBlocks,
  });
  try {
    await net.done;
    return { ...(await networkReport(net)), wall_s: (performance.now() - t0) / 1000, dir };
  } finally {
    await net.stop();
    if (!o.keep && o.dir === undefined) rmSync(dir, { recursive: true, force: true });
  }
}
