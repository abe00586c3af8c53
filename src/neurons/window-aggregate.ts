// The aggregate of window W as every node computes it by itself, with no validator on the path
// (docs/protocol.md "The aggregate of a window"; the pure rules are protocol/aggregation.ts):
// once the chain is past W's deadline, read W's anchors, find the leader of W and its peer list,
// fetch and verify the slot uploads in order, and apply the first maxPeers valid ones in uid order.
// The validators' AggregateRecords remain the catch-up and cross-check records (sync.ts).
import type { SparseUpdate } from '../compress/index.js';
import { maxPayloadBytes } from '../compress/index.js';
import {
  chooseAggregate, inTimeAnchors, keys, leaderAmong, PEER_LIST_LOOKBACK, sha256Hex, slotOrder, validatorOrder, verifyPayload, parseRecord,
  MAX_RECORD_BYTES, observationOrder, reserveCount, type PeerList, type VerifyReason,
} from '../protocol/index.js';
import { blockTimestamp, deadlinePassed } from './chaintime.js';
import type { Directory } from './directory.js';
import { fetchObject } from './model-state.js';
import { describeFailure, readPeer } from './peer-read.js';
import { retrying } from './retry.js';
import type { Stopwatch } from './status.js';
import type { Node } from './node.js';

export interface WindowAnchors {
  window: number;
  deadlineMs: number;
  /** In-time anchors: uid → digest. */
  inTime: Map<number, string>;
  /** Anchors included after the deadline: uid → the including block's timestamp. */
  late: Map<number, number>;
  /** uid → the block that included its anchor (in time or not). */
  block: Map<number, number>;
  /** uid → the chain's order of observation of its anchor (block, then arrival in it: observationOrder). */
  order: Map<number, number>;
}

export interface WindowPlan extends WindowAnchors {
  /** The validator whose peer list makes the slots (null: none published yet), and the window it published it for. */
  leader: number | null;
  listWindow: number | null;
  slots: number[];
}

export type Fetched =
  | { ok: true; uid: number; update: SparseUpdate; sha256: string; bytes: number; steps: number; stateCommitment: string | null; raw: Uint8Array }
  | { ok: false; uid: number; reason: VerifyReason | 'missing'; detail: string };

export interface WindowAggregate {
  window: number;
  uids: number[];
  payloadSha256: string[];
  updates: { uid: number; update: SparseUpdate }[];
  /** The applied payloads' bytes, in `uids` order (validators keep copies of them: publish.ts keepAppliedCopies). */
  raw: Uint8Array[];
}

interface Resolved { leader: number | null; listWindow: number | null; slots: number[] }
const resolvedLists = new WeakMap<Node, Map<number, Resolved>>();
const anchorCache = new WeakMap<Node, Map<number, WindowAnchors>>();

/** W's anchors split by the deadline; waits until the chain is past W's deadline (then they are final). Cached. */
export async function windowAnchors(node: Node, W: number): Promise<WindowAnchors> {
  let cache = anchorCache.get(node);
  if (!cache) anchorCache.set(node, (cache = new Map()));
  const hit = cache.get(W);
  if (hit) return hit;
  const deadlineMs = await deadlinePassed(node, W);
  const list = await retrying(node, `read anchors of window ${W}`, () => node.chain.anchors(W));
  const ts = new Map<number, number>();
  for (const a of list) ts.set(a.block, await blockTimestamp(node, a.block));
  const inTime = inTimeAnchors(list, (b) => ts.get(b)!, deadlineMs);
  const late = new Map(list.filter((a) => !inTime.has(a.uid)).map((a) => [a.uid, ts.get(a.block)!]));
  const out: WindowAnchors = { window: W, deadlineMs, inTime, late, block: new Map(list.map((a) => [a.uid, a.block])), order: new Map(list.map((a) => [a.uid, observationOrder(a)])) };
  cache.set(W, out);
  for (const k of cache.keys()) if (k < W - PEER_LIST_LOOKBACK - 2) cache.delete(k);
  return out;
}

/** The anchors of an older window for the peer-list lookback (no wait: its deadline has passed). */
async function pastAnchors(node: Node, w: number): Promise<Map<number, string>> {
  return (await windowAnchors(node, w)).inTime;
}

/** A validator's peer list of window w, if it is in its bucket with the anchored digest. */
async function peerListOf(node: Node, dir: Directory, v: number, w: number, digest: string): Promise<PeerList | null> {
  const store = dir.bucket(v);
  const bytes = store ? await fetchObject(node, store, keys.peers(node.run.runId, w), MAX_RECORD_BYTES) : null;
  if (!bytes || sha256Hex(bytes) !== digest) return null;
  const r = parseRecord(bytes, 'peers');
  if (!r.ok || r.value.window !== w) return null;
  // A list longer than the protocol's slots would make every node fetch (and wait on) more uploads
  // than an aggregate can use: such a list is unreadable, like a missing one.
  const { maxPeers } = node.run;
  if (r.value.peers.length > maxPeers || r.value.reserves.length > reserveCount(maxPeers)) {
    node.log(`ignoring validator uid ${v}'s peer list of window ${w}: ${r.value.peers.length} peers and ${r.value.reserves.length} reserves (at most ${maxPeers} and ${reserveCount(maxPeers)})`);
    return null;
  }
  return r.value;
}

/**
 * W's plan: its anchors, its leader (the first validator by stake that anchored a peer list for W in
 * time, whose list can be read) and the slot order; with no list for W, the plan of W − 1 stands.
 */
export async function planWindow(node: Node, dir: Directory, W: number): Promise<WindowPlan> {
  const anchors = await windowAnchors(node, W);
  let lists = resolvedLists.get(node);
  if (!lists) resolvedLists.set(node, (lists = new Map()));
  const order = validatorOrder((await dir.refresh()).metagraph!);
  const resolve = async (w: number, inTime: Map<number, string>): Promise<Resolved | null> => {
    for (const v of order) {
      const digest = inTime.get(v);
      if (digest === undefined) continue;
      const list = await peerListOf(node, dir, v, w, digest);
      if (list) return { leader: v, listWindow: w, slots: slotOrder(list) };
    }
    return null;
  };
  let r = await resolve(W, anchors.inTime);
  for (let w = W - 1; !r && w >= Math.max(0, W - PEER_LIST_LOOKBACK); w--) {
    const known = lists.get(w);
    if (known) { r = known; break; }
    if (leaderAmong(order, await pastAnchors(node, w)) === null) continue;
    r = await resolve(w, await pastAnchors(node, w));
  }
  // No peer list at all yet (the run's first window): the open start, every in-time miner upload.
  const res = r ?? { leader: null, listWindow: null, slots: openSlots(anchors.inTime, new Set(order)) };
  if (r) lists.set(W, r); // only a published list stands for later windows; the open start is per window
  for (const k of lists.keys()) if (k < W - PEER_LIST_LOOKBACK) lists.delete(k);
  return { ...anchors, ...res };
}

/** The open start's slots: every uid that anchored in time and is not a validator, ascending. */
function openSlots(inTime: ReadonlyMap<number, string>, validators: ReadonlySet<number>): number[] {
  return [...inTime.keys()].filter((u) => !validators.has(u)).sort((a, b) => a - b);
}

/** One uid's upload of W, fetched (or taken from `own`) and fully verified against its in-time anchor. */
export async function fetchVerified(node: Node, dir: Directory, anchors: WindowAnchors, uid: number, own?: Map<string, Uint8Array>, sw?: Stopwatch): Promise<Fetched> {
  const W = anchors.window, digest = anchors.inTime.get(uid);
  if (digest === undefined) {
    const late = anchors.late.get(uid);
    return late !== undefined
      ? { ok: false, uid, reason: 'not_anchored', detail: `anchored ${late - anchors.deadlineMs} ms after the deadline (${new Date(anchors.deadlineMs).toISOString()})` }
      : { ok: false, uid, reason: 'missing', detail: 'nothing anchored on chain by the deadline' };
  }
  return fetchPayload(node, dir, W, uid, digest, own, sw);
}

/**
 * uid's payload of W with this digest (its in-time anchor, or the one a record lists), taken from
 * `own`, else the miner's bucket, else a validator's applied copy (`prefer` first), and verified as a
 * validator verifies it (signature of the uid's hotkey, window, uid, digest, steps).
 */
export async function fetchPayload(node: Node, dir: Directory, W: number, uid: number, digest: string, own?: Map<string, Uint8Array>, sw?: Stopwatch,
  prefer: number | null = null): Promise<Fetched> {
  const shapes = node.model.layout.specs.map((s) => s.shape), key = keys.gradient(node.run.runId, W, uid), cap = maxPayloadBytes(shapes, node.run.codec);
  let bytes = own?.get(digest) ?? null;
  if (!bytes) {
    const store = await dir.bucketFresh(uid), hotkey = await dir.hotkeyOf(uid);
    if (!store || !hotkey) return { ok: false, uid, reason: 'missing', detail: 'no readable bucket or hotkey on chain' };
    const r = await readPeer(node, store, key, { cap });
    if (r.ok && sha256Hex(r.bytes) === digest) bytes = r.bytes;
    else {
      // Not the anchored bytes (replaced, deleted, unreachable): a validator may hold its applied copy.
      bytes = await fetchCopy(node, dir, W, uid, digest, prefer);
      if (!bytes) {
        if (r.ok) bytes = r.bytes; // verified below: the digest mismatch is the rejection
        else if (r.why === 'too_large') return { ok: false, uid, reason: 'too_large', detail: r.detail };
        else return { ok: false, uid, reason: 'missing', detail: r.why === 'absent' ? `anchored in time, but ${key} is not in its bucket` : `anchored in time, but its ${describeFailure(r)}` };
      }
    }
    if (sw) sw.bytesDown += bytes.length;
  }
  const hotkey = (await dir.hotkeyOf(uid)) ?? '';
  const v = await verifyPayload(bytes, { shapes, cfg: node.run.codec, modelHash: node.runHash, window: W, uid, anchored: digest, maxSteps: node.run.innerSteps }, hotkey);
  if (!v.ok) return { ok: false, uid, reason: v.reason, detail: v.detail };
  return { ok: true, uid, update: v.payload.update, sha256: digest, bytes: bytes.length, steps: v.payload.steps, stateCommitment: v.payload.stateCommitment, raw: bytes };
}

/** Validators tried for an applied copy (by stake; `prefer` first). */
const COPY_SOURCES = 3;

/** A validator's applied copy of uid's payload of W with this digest (keys.applied), or null. */
export async function fetchCopy(node: Node, dir: Directory, W: number, uid: number, digest: string, prefer: number | null = null): Promise<Uint8Array | null> {
  const order = validatorOrder((await dir.refresh()).metagraph!).filter((v) => v !== node.uid);
  const from = (prefer === null || prefer === node.uid ? order : [prefer, ...order.filter((v) => v !== prefer)]).slice(0, COPY_SOURCES);
  const cap = maxPayloadBytes(node.model.layout.specs.map((s) => s.shape), node.run.codec);
  for (const v of from) {
    const store = dir.bucket(v);
    const r = store ? await readPeer(node, store, keys.applied(node.run.runId, W, uid), { cap }) : null;
    if (r?.ok && sha256Hex(r.bytes) === digest) {
      node.log(`window ${W}: uid ${uid}'s payload taken from validator uid ${v}'s applied copy (its own bucket no longer serves it)`);
      return r.bytes;
    }
  }
  return null;
}

/** The aggregate of a plan: the first maxPeers valid slot uploads (fetched in slot order), in uid order. */
export async function gatherAggregate(node: Node, dir: Directory, plan: WindowPlan, own?: Map<string, Uint8Array>, sw?: Stopwatch,
  known?: ReadonlyMap<number, Fetched>): Promise<WindowAggregate> {
  const valid = new Map<number, Fetched & { ok: true }>();
  for (const uid of plan.slots) {
    if (valid.size >= node.run.maxPeers) break;
    if (valid.has(uid) || !plan.inTime.has(uid)) continue;
    const f = known?.get(uid) ?? await fetchVerified(node, dir, plan, uid, own, sw);
    if (f.ok) valid.set(uid, f);
  }
  const uids = chooseAggregate(plan.slots, new Set(valid.keys()), node.run.maxPeers);
  return { window: plan.window, uids, payloadSha256: uids.map((u) => valid.get(u)!.sha256), updates: uids.map((u) => ({ uid: u, update: valid.get(u)!.update })), raw: uids.map((u) => valid.get(u)!.raw) };
}
