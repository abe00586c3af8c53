// What the dashboard shows, as plain data (GET /api/state), and the pure rules that derive it from
// the nodes' timelines and the validator's receipts: loss series per window, per-miner score rows,
// and the alerts ("miner-2 late 3 of the last 5 windows by 1.2 s", "no aggregate for 4 windows: all
// miners gated by own-data"). src/dashboard/collect.ts reads the files and the chain into these inputs.
import type { ScoreReceipt } from '../gauntlet/index.js';
import type { TimelineEntry } from '../neurons/types.js';
import type { Agreement } from '../devnet/view.js';

export interface NodeView {
  name: string;
  role: 'miner' | 'validator';
  behavior: string | null;
  uid: number | null;
  /** Process state ('running', 'stopped', 'FAILING', ...; 'unknown' when read from files only). */
  state: string;
  phase: string | null;
  window: number | null;
  loss: number | null;
  valLoss: number | null;
  bytesUp: number;
  bytesDown: number;
  fingerprint: string | null;
  /** Whether its fingerprint is the majority one at the newest compared window (null: not compared). */
  agrees: boolean | null;
  marginMs: number | null;
  steps: number | null;
  lastError: string | null;
  metricsUrl: string | null;
  stake: number | null;
  incentive: number | null;
  emission: number | null;
  updatedAt: string | null;
}

/** One miner's numbers in one receipt window. */
export interface ScoreRow {
  window: number;
  status: string;
  score: number | null;
  indicator: number | null;
  ma: number;
  sync: number;
  ordinal: number;
  mu: number;
  sigma: number;
  penalties: string[];
  gate: string | null;
  final: number;
  weight: number;
}

export interface MinerView {
  name: string | null;
  uid: number;
  /** The newest receipt's row (null: not scored yet). */
  last: ScoreRow | null;
  /** Every receipt window's row, ascending. */
  history: ScoreRow[];
  incentive: number | null;
  emission: number | null;
}

export interface Alert { level: 'warn' | 'error'; text: string }

export interface LossSeries {
  windows: number[];
  /** Validation loss (the leading validator's timeline) per window; null where none. */
  val: Array<number | null>;
  /** Each miner's training loss per window. */
  train: Record<string, Array<number | null>>;
}

export interface DashboardState {
  at: number;
  source: string;
  /** True when what is shown comes from a running network. */
  live: boolean;
  runId: string | null;
  preset: string | null;
  params: number | null;
  blockMs: number | null;
  blocksPerWindow: number | null;
  innerSteps: number | null;
  chain: { block: number | null; window: number | null; lastEpoch: number | null; tempo: number | null };
  entropy: number | null;
  nodes: NodeView[];
  losses: LossSeries;
  /** The newest windows of each node's timeline. */
  timeline: Record<string, TimelineEntry[]>;
  miners: MinerView[];
  network: {
    agreement: Agreement;
    bytesUp: number;
    bytesDown: number;
    payloadBytes: number | null;
    bitsPerParam: number | null;
    leader: { uid: number; name: string | null } | null;
    receipts: number;
    aggregated: number[] | null;
  };
  alerts: Alert[];
  events: string[];
  /** What this source cannot show (e.g. --chain has no node files). */
  notes: string[];
}

/** Window → value from timeline-like rows; the last row of a window wins. */
export function seriesOf<T extends { window: number }>(rows: readonly T[], value: (r: T) => number | null | undefined): Map<number, number> {
  const m = new Map<number, number>();
  for (const r of rows) {
    const v = value(r);
    if (typeof v === 'number' && Number.isFinite(v)) m.set(r.window, v);
  }
  return m;
}

/** Aligns per-window maps on one ascending window axis (every window any map has). */
export function lossSeries(val: Map<number, number>, train: Map<string, Map<number, number>>): LossSeries {
  const ws = new Set<number>(val.keys());
  for (const m of train.values()) for (const w of m.keys()) ws.add(w);
  const windows = [...ws].sort((a, b) => a - b);
  return {
    windows,
    val: windows.map((w) => val.get(w) ?? null),
    train: Object.fromEntries([...train].map(([name, m]) => [name, windows.map((w) => m.get(w) ?? null)])),
  };
}

/** Training loss per window from a miner's node.log ("window W: loss X, ..."), for networks run before the timeline carried it. */
export function lossesFromLog(log: string): Map<number, number> {
  const m = new Map<number, number>();
  for (const x of log.matchAll(/window (\d+): loss (\d+(?:\.\d+)?)/g)) m.set(Number(x[1]), Number(x[2]));
  return m;
}

const weightIn = (r: ScoreReceipt, uid: number): number => {
  const i = r.result.weights.uids.indexOf(uid);
  return i < 0 ? 0 : r.result.weights.weights[i]!;
};

/** Each scored uid's rows across the receipts (ascending windows). */
export function scoreRows(receipts: readonly ScoreReceipt[]): Map<number, ScoreRow[]> {
  const out = new Map<number, ScoreRow[]>();
  for (const r of [...receipts].sort((a, b) => a.window - b.window)) {
    for (const m of r.result.miners) {
      const row: ScoreRow = {
        window: r.window, status: m.status, score: m.score, indicator: m.indicator, ma: m.ma, sync: m.sync, ordinal: m.ordinal,
        mu: m.ratingAfter.mu, sigma: m.ratingAfter.sigma, penalties: m.penalties.map((p) => p.kind), gate: m.gate, final: m.final, weight: weightIn(r, m.uid),
      };
      out.set(m.uid, [...(out.get(m.uid) ?? []), row]);
    }
  }
  return out;
}

export interface AlertInput {
  /** Miner name → its timeline (ascending windows). */
  miners: Map<string, readonly TimelineEntry[]>;
  /** The leading validator's timeline (ascending windows); empty when unknown. */
  validator: readonly TimelineEntry[];
  receipts: readonly ScoreReceipt[];
  agreement: Agreement;
  nodes: readonly Pick<NodeView, 'name' | 'state' | 'lastError'>[];
  /** Inner steps per window (H): a miner that trains fewer is reported. */
  innerSteps: number | null;
  /** How many recent windows the "late" and "fewer steps" rules look at (default 5). */
  recent?: number;
  /** The chain's current window and the leading validator's name: a validator that falls behind is reported. */
  chainWindow?: number | null;
  validatorName?: string | null;
}

const s1 = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

/** The alerts, most severe first. */
export function alertsOf(a: AlertInput): Alert[] {
  const out: Alert[] = [];
  const recent = a.recent ?? 5;
  if (a.agreement.mismatches.length > 0) {
    out.push({ level: 'error', text: `fingerprints disagree at window${a.agreement.mismatches.length > 1 ? 's' : ''} ${a.agreement.mismatches.slice(-5).join(', ')}: nodes hold different models` });
  }
  for (const n of a.nodes) {
    if (n.state === 'FAILING' || n.state.startsWith('exit') || n.state.startsWith('restart')) out.push({ level: 'error', text: `${n.name}: ${n.state}${n.lastError ? ` (${n.lastError.slice(0, 160)})` : ''}` });
    else if (n.state.startsWith('silent')) out.push({ level: 'warn', text: `${n.name}: ${n.state} (no status update; is its process running?)` });
  }
  // No aggregate for N consecutive windows (the newest ones), and why, from the receipts of those windows.
  const v = a.validator;
  let empty = 0;
  for (let i = v.length - 1; i >= 0 && v[i]!.aggregated !== undefined && v[i]!.aggregated!.length === 0; i--) empty++;
  if (empty >= 2) {
    const ws = new Set(v.slice(v.length - empty).map((e) => e.window));
    const rs = a.receipts.filter((r) => ws.has(r.window + 1) || ws.has(r.window)); // window W's peers come from the receipt of W − 1
    out.push({ level: 'error', text: `no aggregate for ${empty} windows (${[...ws][0]}–${[...ws].at(-1)}): ${whyNoAggregate(rs)}` });
  }
  // In window W + 1 a validator works on W (W's deadline falls in W + 1): its newest finished window is W − 1.
  const behind = a.chainWindow != null && v.length > 0 ? a.chainWindow - v.at(-1)!.window - 2 : 0;
  if (behind >= 2) out.push({ level: 'warn', text: `${a.validatorName ?? 'the leading validator'} is ${behind} windows behind the chain (its work on a window takes longer than a window)` });
  for (const [name, tl] of a.miners) {
    const last = tl.slice(-recent);
    if (last.length === 0) continue;
    const late = last.filter((e) => e.outcome === 'late' || (typeof e.margin_ms === 'number' && e.margin_ms < 0));
    if (late.length > 0) {
      const by = late.map((e) => e.margin_ms).filter((x): x is number => typeof x === 'number' && x < 0);
      const amount = by.length ? ` by ${s1(-by.reduce((s, x) => s + x, 0) / by.length)}` : '';
      out.push({ level: 'warn', text: `${name} late ${late.length} of the last ${last.length} windows${amount}` });
    }
    const none = last.filter((e) => e.outcome === undefined || e.outcome === 'none').length;
    if (none > 0 && late.length === 0) out.push({ level: 'warn', text: `${name} sent nothing in ${none} of the last ${last.length} windows` });
    if (a.innerSteps !== null) {
      const short = last.filter((e) => e.steps !== undefined && e.steps > 0 && e.steps < a.innerSteps!);
      if (short.length > 0) {
        const avg = short.reduce((s, e) => s + e.steps!, 0) / short.length;
        out.push({ level: 'warn', text: `${name} trained fewer than H=${a.innerSteps} steps in ${short.length} of the last ${last.length} windows (${avg.toFixed(0)} on average): not enough time before the deadline` });
      }
    }
  }
  // Miners the newest receipt withholds reward from, by reason.
  const newest = [...a.receipts].sort((x, y) => x.window - y.window).at(-1);
  if (newest && empty < 2) {
    const gated = newest.result.miners.filter((m) => m.gate);
    if (gated.length > 0 && gated.length === newest.result.miners.filter((m) => m.evaluated).length) {
      out.push({ level: 'warn', text: `window ${newest.window}: every evaluated miner gated by own-data (no reward, no peers for the next window)` });
    }
  }
  return out.sort((x, y) => (x.level === y.level ? 0 : x.level === 'error' ? -1 : 1));
}

/** Why receipts' windows produced no aggregate, in a few words. */
export function whyNoAggregate(receipts: readonly ScoreReceipt[]): string {
  if (receipts.length === 0) return 'no receipts for these windows (is a validator scoring?)';
  const miners = receipts.flatMap((r) => r.result.miners);
  if (miners.length === 0) return 'no miner uploaded';
  const ok = miners.filter((m) => m.status === 'ok');
  if (ok.length === 0) return `no upload was valid (${[...new Set(miners.map((m) => m.status))].join(', ')})`;
  const evaluated = ok.filter((m) => m.evaluated);
  if (evaluated.length > 0 && evaluated.every((m) => m.gate)) return 'all miners gated by own-data';
  if (evaluated.length > 0 && evaluated.every((m) => m.penalties.length > 0 || m.gate)) return 'every evaluated miner penalized or gated by own-data';
  if (receipts.every((r) => r.result.peers.length === 0)) return 'the validator named no peers (no miner eligible: evaluated, ungated, unpenalized, final score > 0)';
  return 'the peers named did not upload in time';
}
