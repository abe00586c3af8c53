// The deterministic aggregate of a window (docs/protocol.md "The aggregate of a window"), as pure
// functions of what every node reads from the chain and the buckets:
//   1. in time   an upload of window W counts when its digest is anchored on chain in a block whose
//                timestamp is ≤ W's deadline (anchors() + blockTimestamp()); nothing a validator saw,
//                nothing a miner's own storage server says about time.
//   2. leader    the validators (permit, stake > 0) by stake, highest first (ties: lower uid); the
//                leader of W is the first of them that anchored a peer list for W in time. None did:
//                the leader of W − 1's rule, and so on back (the last published peer list stands);
//                no list in PEER_LIST_LOOKBACK windows (the run's first window): the open start —
//                the slots are every non-validator uid that anchored in time, ascending.
//   3. slots     the leader's peers, then its reserves, in that order; the aggregate is the first
//                maxPeers of them whose upload is valid (in time, digest = anchor, payload verifies).
import type { Anchor, Metagraph } from '../chain/types.js';
import { isLate } from './window.js';

/** Windows looked back for a peer list when no validator published one for the window itself. */
export const PEER_LIST_LOOKBACK = 64;

/** Validators in leadership order: permit and stake > 0, by stake (highest first), then lower uid. */
export function validatorOrder(m: Pick<Metagraph, 'uids' | 'stake' | 'validatorPermit'>): number[] {
  const idx = m.uids.map((_, i) => i).filter((i) => m.validatorPermit[i] && m.stake[i]! > 0);
  return idx.sort((a, b) => m.stake[b]! - m.stake[a]! || m.uids[a]! - m.uids[b]!).map((i) => m.uids[i]!);
}

/**
 * The anchors of a window that are in time: included in a block whose timestamp is ≤ the deadline.
 * `blockTs` returns a block's timestamp (chain ms). uid → digest.
 */
export function inTimeAnchors(anchors: readonly Anchor[], blockTs: (block: number) => number, deadlineMs: number): Map<number, string> {
  const out = new Map<number, string>();
  for (const a of anchors) if (!isLate(blockTs(a.block), deadlineMs)) out.set(a.uid, a.digest);
  return out;
}

/** The first validator (in leadership order) that anchored in time for the window; null if none. */
export function leaderAmong(order: readonly number[], inTime: ReadonlyMap<number, string>): number | null {
  for (const v of order) if (inTime.has(v)) return v;
  return null;
}

/** The slot order of a peer list: peers, then reserves (each list ascending, as published). */
export function slotOrder(list: { peers: readonly number[]; reserves: readonly number[] } | null): number[] {
  return list ? [...list.peers, ...list.reserves] : [];
}

/**
 * The uids whose uploads make the window's aggregate: the first maxPeers of the slot order whose upload
 * is valid, ascending (the aggregation order).
 */
export function chooseAggregate(slots: readonly number[], valid: ReadonlySet<number>, maxPeers: number): number[] {
  const out: number[] = [];
  for (const u of slots) {
    if (out.length >= maxPeers) break;
    if (valid.has(u) && !out.includes(u)) out.push(u);
  }
  return out.sort((a, b) => a - b);
}

/** What one validator says θ was at the start of a window: its checkpoint pointer or its record of the window before. */
export interface StateClaim { uid: number; stake: number; window: number; fingerprint: string }

/** Stake behind each (window, fingerprint): each validator counted once per pair. */
export function vouching(claims: readonly StateClaim[]): Map<string, { window: number; fingerprint: string; stake: number; uids: number[] }> {
  const out = new Map<string, { window: number; fingerprint: string; stake: number; uids: number[] }>();
  for (const c of claims) {
    const k = `${c.window}:${c.fingerprint}`, e = out.get(k) ?? { window: c.window, fingerprint: c.fingerprint, stake: 0, uids: [] };
    if (e.uids.includes(c.uid)) continue;
    e.stake += Number.isFinite(c.stake) && c.stake > 0 ? c.stake : 0;
    e.uids.push(c.uid);
    out.set(k, e);
  }
  return out;
}

/**
 * The state to start from: the (window, fingerprint) with the most validator stake behind it
 * (ties → the newer window, then the lower fingerprint). One validator, however much stake it holds,
 * cannot make newcomers load a model the rest of the stake does not vouch for unless it outweighs them
 * all together; stake is the root of trust, as in Yuma consensus.
 */
export function chooseVouched(claims: readonly StateClaim[]): { window: number; fingerprint: string; stake: number; uids: number[] } | null {
  let best: { window: number; fingerprint: string; stake: number; uids: number[] } | null = null;
  for (const e of vouching(claims).values()) {
    if (!best || e.stake > best.stake || (e.stake === best.stake && (e.window > best.window || (e.window === best.window && e.fingerprint < best.fingerprint)))) best = e;
  }
  return best;
}

/** Anchors per block the observation order tells apart (more share the last place). */
export const ANCHOR_ORDER_SLOTS = 4096;

/**
 * The order in which the chain observed an anchor: its block, then its arrival within the block. The
 * Gauntlet records it as each upload's sighting (copies.ts "seen"); within a window the data, not this
 * order, decides which of two overlapping uploads is the original (a replay of deterministic training can anchor first).
 */
export function observationOrder(a: Pick<Anchor, 'block' | 'index'>): number {
  return a.block * ANCHOR_ORDER_SLOTS + Math.min(ANCHOR_ORDER_SLOTS - 1, Math.max(0, a.index ?? 0));
}
