// From ratings to rewards. Final score = max(0, ordinal + shift) × max(0, indicator average) × sync.
// Negative ordinals: T multiplies the raw ordinal μ − 3σ, which is 0 for a newcomer and negative for
// every below-average miner — in a network smaller than peers + reserves that pays nobody but the
// top half. tessera measures the ordinal from openskill's `target` baseline (shift = μ₀ = 25, so a
// newcomer's rating term is 25) and clamps at 0: only a miner rated far below a newcomer (penalized
// match after match) loses the rating term, and a negative term never multiplies into a score. Who is
// paid among many miners is decided by the top-k schedule below, not by the sign of the ordinal.
// Weights (T's piecewise schedule): the top maxPeers positive final scores share peerShare on a linear
// ramp (best = peerTopRatio × worst); the next reserves share the rest with geometric decay, never
// above the weakest peer; everyone else — penalized, zero or negative — gets 0. tessera's default
// peerShare is 1: a reserve is paid nothing for standing by. Templar's 0.25 for reserves paid anything
// with a positive score beyond the peers — one inner step scaled by H took 7.4% of the miner emission,
// an update with half its tensors sign-flipped 8.2%, half a training 8.2% (bench/adversarial.md). A
// reserve earns in a window where it rises into the top maxPeers: when a peer fails (a missing or late
// peer is paid 0, so the next one takes its place in the weights as its upload does in the aggregate).
// Reserves must be proven (provenMiners: past the own-data warm-up): a newcomer is paid as a peer or
// once its warm-up is over, so a free-rider cannot collect a reserve's share on a lucky coin flip.
// Peers: the same ranking picks the next window's peers and reserves (selectPeers), so the peer list
// holds exactly the miners with weight — never one that was not evaluated, is gated, was penalized
// within penaltyMemory windows, or scores 0. The nodes aggregate the valid uploads of the leader's
// list, peers first and reserves filling failed slots: an ineligible uid there would be aggregated unscored.
import type { MinerState } from './state.js';

export function finalScore(ordinal: number, ma: number, sync: number, shift = 0): number {
  return Math.max(0, ordinal + shift) * Math.max(0, ma) * Math.max(0, Math.min(1, sync));
}

/** Uids ranked by score (higher first; ties → lower uid), only those with a score above 0. */
export function rankPositive(scores: ReadonlyMap<number, number>): number[] {
  return [...scores].filter(([, s]) => s > 0 && Number.isFinite(s)).sort((a, b) => b[1] - a[1] || a[0] - b[0]).map(([u]) => u);
}

/**
 * A penalty in window lastPenalty bars weight and peer selection in that window and the next
 * penaltyMemory − 1 ones. lastPenalty < 0 means never penalized (a fresh miner is not barred).
 */
export function recentlyPenalized(lastPenalty: number, window: number, penaltyMemory: number): boolean {
  return lastPenalty >= 0 && window - lastPenalty < penaltyMemory;
}

/** Final scores as weights and peer selection see them in `window`: 0 while recently penalized or barred by a failed replay audit. */
export function eligibleFinals(miners: Readonly<Record<string, Pick<MinerState, 'final' | 'lastPenalty' | 'auditBanUntil'>>>, window: number, penaltyMemory: number): Map<number, number> {
  return new Map(Object.entries(miners).map(([u, m]) => [Number(u), recentlyPenalized(m.lastPenalty, window, penaltyMemory) || (m.auditBanUntil ?? -1) >= window ? 0 : m.final]));
}

/**
 * Miners that may stand as reserves: those past the own-data warm-up (evals ≥ warm-up; after it the
 * indicator gate zeroes a miner that does not train on its own data). A reserve is paid for standing
 * by, not for an aggregated contribution, so it must first have shown that its data is its own; a
 * newcomer earns as a peer (top maxPeers) or after its warm-up.
 */
export function provenMiners(miners: Readonly<Record<string, Pick<MinerState, 'evals'>>>, warmup: number): Set<number> {
  return new Set(Object.entries(miners).filter(([, m]) => m.evals >= warmup).map(([u]) => Number(u)));
}

/**
 * The two tiers, best first: peers = the best maxPeers positive scores; reserves = the next `reserves`
 * positive ones among `proven` (every uid when proven is not given). Ties → lower uid.
 */
export function tiers(finals: ReadonlyMap<number, number>, maxPeers: number, reserves: number, proven?: ReadonlySet<number>): { peers: number[]; reserves: number[] } {
  const ranked = rankPositive(finals), n = Math.max(0, maxPeers), r = Math.max(0, reserves);
  return { peers: ranked.slice(0, n), reserves: ranked.slice(n).filter((u) => !proven || proven.has(u)).slice(0, r) };
}

/**
 * The next window's peer list from eligible final scores (tiers), both ascending by uid. Exactly the
 * uids shapeWeights gives weight to.
 */
export function selectPeers(finals: ReadonlyMap<number, number>, maxPeers: number, reserves: number, proven?: ReadonlySet<number>): { peers: number[]; reserves: number[] } {
  const t = tiers(finals, maxPeers, reserves, proven), asc = (xs: number[]): number[] => xs.sort((a, b) => a - b);
  return { peers: asc(t.peers), reserves: asc(t.reserves) };
}

export interface WeightShape { peerShare: number; peerTopRatio: number; reserveDecay: number }

/** Weights summing to 1 (ascending uids), or empty when no miner has a positive final score. */
export function shapeWeights(finals: ReadonlyMap<number, number>, maxPeers: number, reserves: number, p: WeightShape, proven?: ReadonlySet<number>): { uids: number[]; weights: number[] } {
  const { peers, reserves: res } = tiers(finals, maxPeers, reserves, proven);
  const w = new Map<number, number>();
  const n = peers.length;
  const ramp = peers.map((_, i) => (n === 1 ? 1 : p.peerTopRatio + ((1 - p.peerTopRatio) * i) / (n - 1)));
  const rampSum = ramp.reduce((a, b) => a + b, 0);
  peers.forEach((u, i) => w.set(u, (p.peerShare * ramp[i]!) / rampSum));
  if (res.length > 0) {
    const decay = res.map((_, i) => Math.pow(p.reserveDecay, i)), decaySum = decay.reduce((a, b) => a + b, 0);
    res.forEach((u, i) => w.set(u, ((1 - p.peerShare) * decay[i]!) / decaySum));
    const minPeer = Math.min(...peers.map((u) => w.get(u)!)), maxRes = Math.max(...res.map((u) => w.get(u)!));
    if (maxRes > minPeer) for (const u of res) w.set(u, (w.get(u)! * minPeer * p.reserveDecay) / maxRes);
  }
  const total = [...w.values()].reduce((a, b) => a + b, 0);
  const uids = [...w.keys()].filter((u) => w.get(u)! > 0).sort((a, b) => a - b);
  return { uids, weights: total > 0 ? uids.map((u) => w.get(u)! / total) : [] };
}

/**
 * The next window's peer list with rotation: when more rotatable miners (default: the proven) than maxPeers stand within
 * `band` × the best eligible final (comparable contributors: honest equals differ by rating noise, a
 * junk upload ranked last every window falls far below), the peer slots go to those of them whose
 * upload was aggregated longest ago (never first), then by final; otherwise the best maxPeers by final
 * (selectPeers). Without rotation the same equals held the slots — and the pay — window after window
 * (measured: 6 honest miners, 3 slots, 18 windows: one honest miner earned 0%, another 1.9%).
 */
export function rotatePeers(finals: ReadonlyMap<number, number>, maxPeers: number, reserves: number, proven: ReadonlySet<number>,
  lastAggregated: ReadonlyMap<number, number>, band: number, rotatable: ReadonlySet<number> = proven): { peers: number[]; reserves: number[] } {
  const ranked = rankPositive(finals), best = ranked.length > 0 ? finals.get(ranked[0]!)! : 0;
  const within = ranked.filter((u) => rotatable.has(u) && finals.get(u)! >= band * best);
  if (within.length <= Math.max(0, maxPeers)) return selectPeers(finals, maxPeers, reserves, proven);
  const last = (u: number): number => lastAggregated.get(u) ?? -1;
  const peers = [...within].sort((a, b) => last(a) - last(b) || finals.get(b)! - finals.get(a)! || a - b).slice(0, Math.max(0, maxPeers));
  const rest = ranked.filter((u) => !peers.includes(u) && proven.has(u)).slice(0, Math.max(0, reserves));
  const asc = (xs: number[]): number[] => xs.sort((a, b) => a - b);
  return { peers: asc(peers), reserves: asc(rest) };
}
