// What the devnet shows: a snapshot read from the nodes' status.json / fingerprints.jsonl and the
// chain's metagraph, rendered as a full-screen ANSI table (TTY, ~1/s) or a compact line (logs, CI).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Metagraph } from '../chain/index.js';
import type { NodeStatus, TimelineEntry } from '../neurons/types.js';

export interface NodeRow {
  name: string;
  role: 'miner' | 'validator';
  /** Miners: 'honest' or the adversarial behaviour (tessera devnet --adversaries); validators: null. */
  behavior?: string | null;
  /** 'running', 'waiting' (late miner not started yet) or how it exited. */
  state: string;
  status: NodeStatus | null;
  uid: number | null;
  stake: number | null;
  incentive: number | null;
  emission: number | null;
  /** The validator's last weight for this miner (normalized), if any. */
  weight: number | null;
}

export interface Agreement {
  /** Newest window reported by at least two nodes, its fingerprint and how many nodes agree on it. */
  window: number | null;
  fingerprint: string | null;
  agreeing: number;
  reporting: number;
  /** Windows (reported by ≥ 2 nodes) checked so far, and those where nodes disagreed. */
  windowsChecked: number;
  mismatches: number[];
}

export interface DevnetSnapshot {
  at: number;
  root: string;
  chainUrl: string;
  storage: string;
  block: number | null;
  window: number | null;
  blocksPerWindow: number;
  lastEpoch: number | null;
  nodes: NodeRow[];
  agreement: Agreement;
  events: string[];
  stopWindow: number | null;
}

export function readJsonl<T>(file: string): T[] {
  if (!existsSync(file)) return [];
  const out: T[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try { out.push(JSON.parse(line) as T); } catch { /* a line being written */ }
  }
  return out;
}

export function readStatus(dataDir: string): NodeStatus | null {
  try { return JSON.parse(readFileSync(join(dataDir, 'status.json'), 'utf8')) as NodeStatus; } catch { return null; }
}

export const readTimeline = (dataDir: string): TimelineEntry[] => readJsonl<TimelineEntry>(join(dataDir, 'timeline.jsonl'));

/** window → fingerprint of one node (the last line wins if a window was re-applied). */
export function readFingerprints(dataDir: string): Map<number, string> {
  const m = new Map<number, string>();
  for (const r of readJsonl<{ window: number; fingerprint: string }>(join(dataDir, 'fingerprints.jsonl'))) m.set(r.window, r.fingerprint);
  return m;
}

/** Compares the nodes' fingerprints window by window. */
export function fingerprintAgreement(perNode: Map<number, string>[]): Agreement {
  const byWindow = new Map<number, string[]>();
  for (const m of perNode) for (const [w, fp] of m) byWindow.set(w, [...(byWindow.get(w) ?? []), fp]);
  const shared = [...byWindow.entries()].filter(([, fps]) => fps.length >= 2).sort((a, b) => a[0] - b[0]);
  const mismatches = shared.filter(([, fps]) => new Set(fps).size > 1).map(([w]) => w);
  const last = shared.at(-1);
  if (!last) return { window: null, fingerprint: null, agreeing: 0, reporting: 0, windowsChecked: 0, mismatches };
  const counts = new Map<string, number>();
  for (const fp of last[1]) counts.set(fp, (counts.get(fp) ?? 0) + 1);
  const [fingerprint, agreeing] = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]!;
  return { window: last[0], fingerprint, agreeing, reporting: last[1].length, windowsChecked: shared.length, mismatches };
}

/** Fills the chain-side columns of the rows from a metagraph. */
export function applyMetagraph(rows: NodeRow[], m: Metagraph, hotkeys: Map<string, string>): void {
  const validator = rows.find((r) => r.role === 'validator' && r.status?.weights);
  const weights = validator?.status?.weights ?? {};
  const total = Object.values(weights).reduce((a, b) => a + b, 0);
  for (const r of rows) {
    const uid = r.status?.uid ?? m.hotkeys.indexOf(hotkeys.get(r.name) ?? '');
    if (uid === null || uid < 0 || uid >= m.n) continue;
    Object.assign(r, { uid, stake: m.stake[uid], incentive: m.Incentive[uid], emission: m.Emission[uid] });
    if (r.role === 'miner' && total > 0) r.weight = (weights[uid] ?? 0) / total;
  }
}

const bytes = (b: number | undefined): string => (b === undefined ? '-' : b >= 1e9 ? `${(b / 1e9).toFixed(2)}G` : b >= 1e6 ? `${(b / 1e6).toFixed(1)}M` : b >= 1e3 ? `${(b / 1e3).toFixed(0)}k` : `${b}`);
const num = (x: number | null | undefined, d = 3): string => (x === null || x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(d));

const COLS: Array<[string, number]> = [['node', 13], ['behavior', 9], ['uid', 4], ['phase', 10], ['win', 5], ['loss', 7], ['val loss', 8], ['up', 7], ['down', 7],
  ['fingerprint', 13], ['weight', 7], ['emission', 9], ['state', 12]];

function cells(r: NodeRow, a: Agreement): string[] {
  const s = r.status;
  const fp = s?.fingerprint ? `${s.fingerprint.slice(0, 8)}${s.fingerprintWindow === a.window ? (s.fingerprint === a.fingerprint ? ' ✓' : ' ✗') : ''}` : '-';
  const weight = r.role === 'validator' ? (s?.weights ? `${Object.keys(s.weights).length} set` : '-') : num(r.weight, 3);
  return [r.name, r.behavior ?? '-', r.uid === null ? '-' : String(r.uid), s?.phase ?? '-', s ? String(s.window) : '-', num(s?.loss), num(s?.valLoss),
    bytes(s?.bytesUp), bytes(s?.bytesDown), fp, weight, num(r.emission, 4), r.state];
}

function agreementText(a: Agreement): string {
  if (a.window === null) return 'fingerprints: none compared yet';
  const now = a.agreeing === a.reporting ? `all ${a.reporting} agree` : `${a.agreeing}/${a.reporting} agree`;
  return `fingerprints: ${now} at window ${a.window} (${a.fingerprint!.slice(0, 12)}); ${a.windowsChecked} windows compared, ` +
    (a.mismatches.length ? `MISMATCH at ${a.mismatches.slice(-5).join(', ')}` : 'no mismatch');
}

/** The full-screen frame (plain ANSI: bold header, red errors). */
export function renderFrame(s: DevnetSnapshot, width = Math.max(80, process.stdout.columns || 120)): string {
  const bold = (t: string): string => `\x1b[1m${t}\x1b[0m`;
  const pad = (t: string, n: number): string => (t.length > n ? t.slice(0, n - 1) + '…' : t.padEnd(n));
  const inWindow = s.block === null ? '' : ` (block ${s.block % s.blocksPerWindow + 1}/${s.blocksPerWindow})`;
  const lines = [
    bold(`tessera devnet  ${s.root}`),
    `chain ${s.chainUrl}  block ${s.block ?? '?'}  window ${s.window ?? '?'}${inWindow}  last epoch @${s.lastEpoch ?? '-'}` +
      `${s.stopWindow !== null ? `  stops after window ${s.stopWindow}` : ''}`,
    `storage ${s.storage}`,
    '',
    bold(COLS.map(([h, w]) => pad(h, w)).join(' ')),
    ...s.nodes.map((r) => cells(r, s.agreement).map((c, i) => pad(c, COLS[i]![1])).join(' ')),
    '',
    s.agreement.mismatches.length ? `\x1b[31m${agreementText(s.agreement)}\x1b[0m` : agreementText(s.agreement),
  ];
  const errors = s.nodes.filter((r) => r.status?.lastError).map((r) => `${r.name}: ${r.status!.lastError}`);
  for (const e of [...errors, ...s.events.slice(-5)]) lines.push(`\x1b[33m${e.slice(0, width - 1)}\x1b[0m`);
  lines.push('', 'Ctrl-C stops every node, then the chain (state is kept; run again to resume)');
  return lines.map((l) => l.slice(0, width + 20)).join('\n');
}

/**
 * One compact line for non-TTY output (README "The plain live view"): block and window; per node its
 * phase (or process state), the window it works on (wN), its loss (miners) or val loss (validators)
 * and its emission in the last epoch; then the newest window ≥ 2 nodes applied, its fingerprint
 * prefix and how many of the nodes reporting it agree.
 */
export function renderLine(s: DevnetSnapshot): string {
  const nodes = s.nodes.map((r) => {
    const st = r.status;
    const loss = r.role === 'validator' ? `val ${num(st?.valLoss)}` : `loss ${num(st?.loss)}`;
    const state = r.state === 'running' ? `phase ${st?.phase ?? 'starting'}` : r.state;
    return `${r.name}${r.behavior && r.behavior !== 'honest' ? `[${r.behavior}]` : ''} ${state} w${st?.window ?? '-'} ${loss}${r.emission ? ` emission ${num(r.emission, 2)}` : ''}`;
  });
  const a = s.agreement;
  const fp = a.window === null ? 'fingerprints: none compared yet'
    : `fingerprints ${a.fingerprint!.slice(0, 8)} agree ${a.agreeing}/${a.reporting} nodes at w${a.window}${a.mismatches.length ? ` MISMATCH×${a.mismatches.length}` : ''}`;
  return `[devnet] block ${s.block ?? '?'} window ${s.window ?? '?'} | ${nodes.join(' | ')} | ${fp}`;
}
