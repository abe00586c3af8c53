// Reading another node's bucket (docs/security.md "Peers"): its owner — or whoever runs its storage —
// may answer slowly, endlessly, never, with errors or with junk. Every read of a peer's object runs
// under a time budget and a byte cap, is retried only while its budget lasts, and ends in a result:
// never an exception (only Stopped when the node stops) and never a wait beyond its budget. A failure
// is the peer's problem — the caller scores it (a `missing` or `invalid` upload), skips it (a record)
// or tries another source (a payload copy) — never a reason to stop a window.
import { isStorageError, type ReadOnlyStore } from '../storage/index.js';
import { blockIntervalMs } from './chaintime.js';
import { isOutage, sleep, Stopped, throwIfStopped } from './retry.js';
import type { Node } from './node.js';

export type PeerFailure = 'absent' | 'unreachable' | 'denied' | 'too_large' | 'timeout';
/** `refused`: some attempt failed to connect (refused, reset) — a service that is down, not one that hangs. */
export type PeerRead = { ok: true; bytes: Uint8Array } | { ok: false; why: PeerFailure; detail: string; refused?: boolean };

/** A peer read gets at least this long, whatever the window. */
export const PEER_READ_MIN_MS = 2_000;
/** …and this share of a window (a 25 s window: 2.5 s): a dead bucket costs a bounded slice of it. */
export const PEER_READ_WINDOW_SHARE = 0.1;
/** Retries inside the budget start at this delay and double. */
const RETRY_BASE_MS = 200;

/** The time budget of one peer read in this run: max(2 s, 10% of a window). */
export function peerBudgetMs(node: Node): number {
  return Math.max(PEER_READ_MIN_MS, Math.round(PEER_READ_WINDOW_SHARE * node.run.blocksPerWindow * blockIntervalMs(node)));
}

export interface PeerReadOptions {
  /** Largest acceptable object: more is too_large (at most cap + 1 bytes are read). Required: nothing from a peer is unbounded. */
  cap: number;
  /** Time budget in ms (default peerBudgetMs). */
  budgetMs?: number;
}

class Timeout extends Error {}

/** Rejects with Timeout after ms even if `p` never settles (a store that ignores its signal). */
function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  const timer = new Promise<never>((_, reject) => { t = setTimeout(() => reject(new Timeout()), ms); });
  return Promise.race([p, timer]).finally(() => clearTimeout(t));
}

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e)).slice(0, 200);

/** Reads of a peer tried again after this node's own outage ended, before a failure is the peer's. */
const AFTER_OUTAGE_TRIES = 2;
/** Key the own-bucket check asks for (its absence is an answer too). */
const HEALTH_KEY = 'tessera/health-check';

/** Whether this node's own bucket answers (a missing key counts) within `ms`. No own store: yes. */
export async function ownStoreAnswers(node: Node, ms: number): Promise<boolean> {
  const own = (node as Partial<Node>).store;
  if (!own) return true;
  try {
    await within(own.head(HEALTH_KEY, { signal: AbortSignal.any([node.signal, AbortSignal.timeout(ms)]) }), ms);
    return true;
  } catch (e) {
    if (node.signal.aborted) throw new Stopped();
    return !(e instanceof Timeout || isOutage(e) || isStorageError(e, 'timeout') || isStorageError(e, 'aborted'));
  }
}

/**
 * One object of a peer's bucket, within its budget and cap. A read that times out or cannot connect
 * is the peer's failure only while this node's own bucket answers; when it does not either, the
 * trouble is on this side (its link, or a storage service every bucket shares): the node waits until
 * its own bucket answers again and reads once more, so an outage of its own never scores a peer.
 */
export async function readPeer(node: Node, store: ReadOnlyStore, key: string, o: PeerReadOptions): Promise<PeerRead> {
  const budget = o.budgetMs ?? peerBudgetMs(node);
  let grace = 0;
  for (let waited = 0; ; waited++) {
    const r = await readPeerOnce(node, store, key, o);
    const networkish = !r.ok && (r.why === 'timeout' || r.why === 'unreachable');
    if (!networkish || (await ownStoreAnswers(node, budget))) {
      // Just after an outage of our own, connections are still coming back: a few more tries before the peer is blamed.
      // So too when the peer's bucket is served by this node's own storage service and refused connections during
      // the read: that service was down and is back (the own bucket answers now); the peer cannot cause that. (Without
      // this, a gateway restart during a gather left that peer out of this miner's aggregate but not of the others'.)
      const serviceBack = !r.ok && r.refused === true && sameService(node, store);
      if (networkish && (waited > 0 || serviceBack) && grace++ < AFTER_OUTAGE_TRIES) continue;
      if (waited > 0) node.log(`storage reachable again after ${waited} wait(s); read ${key}: ${r.ok ? 'ok' : describeFailure(r)}`);
      return r;
    }
    const msg = `storage unreachable from this node (its own bucket does not answer either); waiting before reading ${key} again`;
    if (waited === 0 || waited % 10 === 0) node.log(msg);
    const prev = node.status.phase;
    node.status.set('retry', { lastError: msg });
    await sleep(Math.min(10_000, 500 * 2 ** Math.min(waited, 5)), node.signal);
    node.status.set(prev === 'retry' ? 'idle' : prev);
  }
}

/** Whether the peer's bucket is on this node's own storage endpoint (the same S3 service). */
function sameService(node: Node, store: ReadOnlyStore): boolean {
  const own = (node as Partial<Node>).store as { endpoint?: unknown } | undefined, peer = store as { endpoint?: unknown };
  return typeof own?.endpoint === 'string' && own.endpoint === peer.endpoint;
}

async function readPeerOnce(node: Node, store: ReadOnlyStore, key: string, o: PeerReadOptions): Promise<PeerRead> {
  const budget = o.budgetMs ?? peerBudgetMs(node), t0 = Date.now();
  let last = '', refused = false;
  for (let attempt = 0; ; attempt++) {
    throwIfStopped(node.signal);
    const left = budget - (Date.now() - t0);
    if (left <= 0) return { ok: false, why: 'timeout', detail: `no complete answer for ${key} within ${budget} ms${last ? ` (last: ${last})` : ''}`, ...(refused ? { refused } : {}) };
    const signal = AbortSignal.any([node.signal, AbortSignal.timeout(left)]);
    try {
      const bytes = await within(store.getRange(key, 0, o.cap + 1, { signal, maxBytes: o.cap + 1 }), left);
      if (bytes === null) return { ok: false, why: 'absent', detail: `${key} is not in the bucket` };
      if (bytes.length > o.cap) return { ok: false, why: 'too_large', detail: `${key} is larger than the ${o.cap}-byte limit` };
      node.status.addBytes(0, bytes.length);
      return { ok: true, bytes };
    } catch (e) {
      if (node.signal.aborted || e instanceof Stopped) throw new Stopped();
      if (isStorageError(e, 'too-large')) return { ok: false, why: 'too_large', detail: `${key} is larger than the ${o.cap}-byte limit` };
      if (isStorageError(e, 'denied') || isStorageError(e, 'no-bucket')) return { ok: false, why: 'denied', detail: `${key}: ${message(e)}` };
      last = e instanceof Timeout ? 'no answer' : message(e);
      const retryable = e instanceof Timeout || isOutage(e) || isStorageError(e, 'timeout') || isStorageError(e, 'aborted');
      if (!(e instanceof Timeout) && isOutage(e)) refused = true;
      if (!retryable) return { ok: false, why: 'unreachable', detail: `${key}: ${last}` };
      const wait = Math.min(RETRY_BASE_MS * 2 ** Math.min(attempt, 6), budget - (Date.now() - t0));
      if (wait > 0) await sleep(wait, node.signal);
    }
  }
}

/** A one-line reason for logs and rejection details. */
export function describeFailure(r: PeerRead & { ok: false }): string {
  return r.why === 'absent' ? r.detail : `bucket ${r.why === 'timeout' ? 'too slow' : r.why === 'too_large' ? 'serves an oversized object' : r.why}: ${r.detail}`;
}

export { mapPool } from '../util/pool.js';
