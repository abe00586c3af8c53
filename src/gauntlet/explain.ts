// `tessera score explain --uid N`: why a miner scored what it scored, from a validator's receipts
// alone — one line per window (upload status, main score, own vs random improvement, match rank,
// rating, indicator average, sync, penalties, final score, weight), then the newest final score
// taken apart into its factors and every penalty with its reason.
import { recomputeFromReceipt, type ScoreReceipt } from './receipt.js';
import { eligibleFinals, recentlyPenalized } from './weights.js';
import { depthGate, depthReference, eligibleMedianRandom, qualityGate, qualityReference, type MinerResult } from './window.js';

const f = (x: number | null, d = 4): string => (x === null ? '-' : x.toFixed(d));
const sci = (x: number | null): string => (x === null ? '-' : x.toExponential(2));
const pad = (s: string, n: number): string => (s.length >= n ? s : s + ' '.repeat(n - s.length));

function weightOf(r: ScoreReceipt, uid: number): number {
  const i = r.result.weights.uids.indexOf(uid);
  return i < 0 ? 0 : r.result.weights.weights[i]!;
}

function role(r: ScoreReceipt, m: MinerResult): string {
  if (r.result.peers.includes(m.uid)) return 'peer next window';
  if (r.result.reserves.includes(m.uid)) return 'reserve next window';
  const last = m.penalties.length > 0 ? r.window : r.stateBefore.miners[m.uid]?.lastPenalty ?? -1;
  const ban = m.penalties.some((p) => p.kind === 'audit') && r.params.auditBan !== undefined ? r.window + r.params.auditBan - 1 : r.stateBefore.miners[m.uid]?.auditBanUntil ?? -1;
  const why = ban >= r.window
    ? `barred until window ${ban}: a failed replay audit (its upload must be what its training gives: train the assigned batches, declare the steps trained, keep the state the payload commits to until it is revealed)`
    : recentlyPenalized(last, r.window, r.params.penaltyMemory)
    ? `barred: penalized in window ${last} (a penalty bars weight and peer selection for ${r.params.penaltyMemory} window(s))`
    : m.final > 0 ? (heldBack(r, m.uid) ?? 'ranked below the peers and reserves') : 'final score 0';
  return `neither peer nor reserve next window (${why})`;
}

/**
 * Why a miner with a positive, unbarred final is kept out of peers and pay, from the receipt's own
 * recomputation: the quality gate or the own-data depth gate (window.ts); null when neither holds it.
 */
export function heldBack(r: ScoreReceipt, uid: number): string | null {
  let state;
  try { state = recomputeFromReceipt(r).state; } catch { return null; }
  const finals = eligibleFinals(state.miners, r.window, r.params.penaltyMemory), k = r.inputs.maxPeers, st = state.miners[uid];
  if (!st || !((finals.get(uid) ?? 0) > 0)) return null;
  if (!qualityGate(state.miners, finals, k, r.params.qualityFloor).has(uid)) {
    return `held out of peers and pay: quality average ${sci(st.quality ?? null)} < ${r.params.qualityFloor} × ${sci(qualityReference(state.miners, finals, k))}, ` +
      `the ${k}-th best among eligible miners — its updates improve random data too little`;
  }
  const med = eligibleMedianRandom(r.result.miners, finals);
  if (!depthGate(state.miners, finals, k, r.params, med).has(uid)) {
    return `held out of peers and pay: own-data depth average ${sci(st.depth ?? null)} < ${r.params.depthFloor} × ${sci(depthReference(state.miners, finals, k, r.params, med))}, ` +
      `the ${k}-th best among eligible miners — the lower half of its assigned batches improves like random data (train every assigned batch)`;
  }
  return null;
}

function row(r: ScoreReceipt, m: MinerResult): string {
  const cols = [
    String(r.window), m.status, sci(m.score), m.ownImprovement === null ? '-' : `${sci(m.ownImprovement)}/${sci(m.randomImprovement)}`,
    m.indicator === null ? '-' : m.indicator > 0 ? '+1' : '-1', m.rank === null ? '-' : String(m.rank), f(m.ordinal, 2),
    `${f(m.ma, 3)} (${f(m.maCorrected, 2)})`, f(m.sync, 2), f(m.final, 3), f(weightOf(r, m.uid), 3),
    m.penalties.map((p) => p.kind).join(',') || (m.gate ? 'own-data' : ''),
  ];
  return cols.map((c, i) => pad(c, WIDTHS[i]!)).join(' ').trimEnd();
}

const HEAD = ['window', 'upload', 'score', 'own/random', 'ind', 'rank', 'ordinal', 'ma (corr.)', 'sync', 'final', 'weight', 'penalties'];
const WIDTHS = [8, 8, 10, 20, 4, 5, 8, 15, 5, 9, 7, 0];

/**
 * A readable account of uid's scores over the given receipts (any order; one validator's): the table
 * of every window, then `window` (default: the newest in which uid was scored) taken apart.
 */
export function explainUid(receipts: readonly ScoreReceipt[], uid: number, opts: { window?: number } = {}): string {
  const rs = [...receipts].sort((a, b) => a.window - b.window);
  const seen = rs.map((r) => ({ r, m: r.result.miners.find((x) => x.uid === uid) })).filter((x): x is { r: ScoreReceipt; m: MinerResult } => x.m !== undefined);
  if (seen.length === 0) {
    return `uid ${uid}: not scored in ${rs.length} receipt(s)${rs.length ? ` (windows ${rs[0]!.window}–${rs[rs.length - 1]!.window})` : ''}; a miner appears once it uploads`;
  }
  const v = seen[seen.length - 1]!.r.validator;
  const out = [
    `uid ${uid}: scored in ${seen.length} of ${rs.length} window(s) by validator uid ${v.uid} (${v.hotkey})`,
    HEAD.map((h, i) => pad(h, WIDTHS[i]!)).join(' ').trimEnd(),
    ...seen.map(({ r, m }) => row(r, m)),
  ];
  const picked = opts.window === undefined ? seen[seen.length - 1]! : seen.find((x) => x.r.window === opts.window);
  if (!picked) {
    out.push('', `window ${opts.window}: uid ${uid} was not scored in it (scored windows: ${seen.map((x) => x.r.window).join(', ')})`);
    return out.join('\n');
  }
  const { r, m } = picked;
  out.push('', `window ${r.window}: ${m.status === 'ok' ? 'upload accepted' : `upload ${m.status}`}; ${role(r, m)}; weight ${f(weightOf(r, uid), 4)}`);
  if (m.evaluated) {
    const plan = r.inputs.miners.find((x) => x.uid === uid)?.measured?.plan;
    const data = plan ? ` (${plan.own.length} assigned sequences from its first ${plan.steps} inner step(s))` : '';
    out.push(`  main score ${sci(m.score)} = relative loss improvement on random data (${r.params.scoreStep}×α trial step); own data${data} ${sci(m.ownImprovement)} → indicator ${m.indicator! > 0 ? '+1' : '-1'}`);
  }
  out.push(`  rating μ ${f(m.ratingAfter.mu, 3)} σ ${f(m.ratingAfter.sigma, 3)} (was μ ${f(m.ratingBefore.mu, 3)} σ ${f(m.ratingBefore.sigma, 3)})${m.rank === null ? '' : `, match rank ${m.rank}`}`);
  if (m.penalties.length > 0) for (const p of m.penalties) out.push(`  PENALTY ${p.kind}: ${p.reason}`);
  else if (m.gate) out.push(`  NO REWARD: ${m.gate}`);
  if (m.evaluated && m.penalties.length === 0 && !m.gate) {
    out.push(`  final ${f(m.final, 4)} = max(0, ordinal ${f(m.ordinal, 3)} + ${r.params.ordinalShift}) × max(0, indicator average ${f(m.ma, 4)}) × sync ${f(m.sync, 3)}`);
  } else out.push(`  final ${f(m.final, 4)}`);
  const history = seen.filter((x) => x.r.window <= r.window).flatMap(({ r: rr, m: mm }) => mm.penalties.map((p) => `  window ${rr.window}: ${p.kind} — ${p.reason}`));
  if (history.length > 0) out.push('', `penalties (${history.length}):`, ...history.slice(-20));
  return out.join('\n');
}
