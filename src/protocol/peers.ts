// Who is who, from the metagraph alone: the leader (whose checkpoints and aggregates everyone
// follows), the miners (registered, committed a bucket, no validator permit), and the ONE ranking
// that turns scores into the aggregated peers and their reserves.
import type { Metagraph } from '../chain/index.js';
import { validatorOrder } from './aggregation.js';

/** The first validator in leadership order (aggregation.ts validatorOrder): highest stake, then lower uid; null while there is none. */
export function leaderOf(m: Pick<Metagraph, 'uids' | 'stake' | 'validatorPermit'>): number | null {
  return validatorOrder(m)[0] ?? null;
}

/** Miners: uids with a commitment and no validator permit, ascending. */
export function minerUids(m: Pick<Metagraph, 'uids' | 'validatorPermit'>, commitments: Record<number, string>): number[] {
  return m.uids.filter((uid, i) => !m.validatorPermit[i] && typeof commitments[uid] === 'string').sort((a, b) => a - b);
}

/** Reserves kept behind the aggregated peers (Templar: ~10 behind ~20). */
export const reserveCount = (maxPeers: number): number => Math.ceil(maxPeers / 2);

/**
 * Ranks candidates by score (higher first; unscored = 0; ties → lower uid): the first maxPeers are
 * the peers, the next reserveCount(maxPeers) the reserves. Both lists come back ascending by uid.
 */
export function rankPeers(candidates: readonly number[], scores: ReadonlyMap<number, number>, maxPeers: number): { peers: number[]; reserves: number[]; order: number[] } {
  if (!Number.isSafeInteger(maxPeers) || maxPeers < 1) throw new RangeError(`maxPeers must be an integer ≥ 1, got ${maxPeers}`);
  const score = (u: number): number => { const s = scores.get(u); return s !== undefined && Number.isFinite(s) ? s : 0; };
  const order = [...new Set(candidates)].sort((a, b) => score(b) - score(a) || a - b);
  const asc = (xs: number[]): number[] => xs.sort((a, b) => a - b);
  return { peers: asc(order.slice(0, maxPeers)), reserves: asc(order.slice(maxPeers, maxPeers + reserveCount(maxPeers))), order };
}

/**
 * Fills the peer slots: the valid uploads of `order` (rank order) up to maxPeers, so a reserve takes
 * the slot of a peer whose upload is missing or invalid. Ascending by uid (the aggregation order).
 */
export function fillSlots(order: readonly number[], valid: ReadonlySet<number>, maxPeers: number): number[] {
  return order.filter((u) => valid.has(u)).slice(0, maxPeers).sort((a, b) => a - b);
}
