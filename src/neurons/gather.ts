// Validator: watch the miners' buckets during the upload period (one scan per block, so each upload
// gets a chain-time landing bound), then download and verify every upload seen by the deadline; an
// upload that shows up only after the final scan is late. Rejected uploads are logged with a reason
// and detail (the Gauntlet penalizes them); nothing here throws on peer data.
import { maxPayloadBytes, type SparseUpdate } from '../compress/index.js';
import { keys, sha256Hex, verifyPayload, type VerifyReason } from '../protocol/index.js';
import { chainHead, knownDeadline, nextBlock } from './chaintime.js';
import type { Directory } from './directory.js';
import { fetchObject } from './model-state.js';
import { retrying, sleep } from './retry.js';
import type { Stopwatch } from './status.js';
import type { Node } from './node.js';

export interface Watch {
  window: number;
  deadlineMs: number;
  /** Miners known at the final scan. */
  candidates: number[];
  /** uid → the earliest chain time its upload can have landed (the previous scan's head time). */
  landedAt: Map<number, number>;
  /** uid → the number of the scan that first saw its upload (smaller: seen earlier). */
  seen: Map<number, number>;
}

export interface Verified {
  uid: number;
  update: SparseUpdate;
  sha256: string;
  bytes: number;
  /** Chain-time bound and number of the scan that first saw it (the order of observation: copies.ts). */
  landedAt: number;
  seen: number;
}

export type Rejection = VerifyReason | 'missing' | 'no_bucket';

export interface Gathered {
  valid: Verified[];
  rejected: Map<number, { reason: Rejection; detail: string }>;
}

/**
 * Wall-clock interval of the scans between blocks (per 16 miners not seen yet, so a big network is
 * not flooded with HEAD requests): the order of first sight — which upload came first, for copy
 * detection — is resolved to this, not to a whole block.
 */
export const SCAN_MS = 50;

/**
 * Scans for uploads of window W every SCAN_MS and at every block until a block at or past W's deadline
 * (the final scan). Each upload gets the chain-time bound of the scan before the one that saw it and
 * the number of that scan (its place in the order of observation).
 */
export async function watchUploads(node: Node, dir: Directory, W: number): Promise<Watch> {
  node.status.set('wait', { window: W });
  const landedAt = new Map<number, number>(), seen = new Map<number, number>();
  let prevTs: number | null = null, height = -1, candidates: number[] = [];
  let block = nextBlock(node);
  block.catch(() => undefined); // a pending wait may be abandoned when the watch ends
  for (let scan = 0; ; scan++) {
    const head = await chainHead(node);
    const deadline = await knownDeadline(node, W, head);
    if (head.height !== height) { candidates = await (await dir.refresh()).miners(); height = head.height; }
    const bound = prevTs ?? head.timestamp;
    for (const uid of candidates) {
      if (landedAt.has(uid)) continue;
      const store = dir.bucket(uid);
      if (store && (await retrying(node, `head gradient of uid ${uid}`, () => store.head(keys.gradient(node.run.runId, W, uid))))) { landedAt.set(uid, bound); seen.set(uid, scan); }
    }
    prevTs = head.timestamp;
    if (deadline !== null && head.timestamp >= deadline) return { window: W, deadlineMs: deadline, candidates, landedAt, seen };
    const unseen = candidates.filter((u) => !landedAt.has(u)).length, pause = SCAN_MS * Math.max(1, Math.ceil(unseen / 16));
    const next = await Promise.race([block.then(() => 'block' as const), sleep(pause, node.signal).then(() => 'tick' as const)]);
    if (next === 'block') { block = nextBlock(node); block.catch(() => undefined); }
  }
}

/** Downloads and verifies the uploads of `uids` (in that order) that the watch saw. */
export async function gatherGradients(node: Node, dir: Directory, watch: Watch, uids: readonly number[], sw: Stopwatch): Promise<Gathered> {
  node.status.set('gather', { window: watch.window });
  const shapes = node.model.layout.specs.map((s) => s.shape), cap = maxPayloadBytes(shapes, node.run.codec);
  const out: Gathered = { valid: [], rejected: new Map() };
  for (const uid of uids) {
    const landedAtMs = watch.landedAt.get(uid), key = keys.gradient(node.run.runId, watch.window, uid);
    const store = dir.bucket(uid), hotkey = await dir.hotkeyOf(uid);
    if (!store || !hotkey) { out.rejected.set(uid, { reason: 'no_bucket', detail: 'no readable bucket or hotkey on chain' }); continue; }
    if (landedAtMs === undefined) {
      const after = await retrying(node, `head gradient of uid ${uid}`, () => store.head(key));
      out.rejected.set(uid, after ? { reason: 'late', detail: 'first seen after the scan at the deadline' } : { reason: 'missing', detail: 'no upload seen by the deadline' });
      continue;
    }
    const bytes = await fetchObject(node, store, key, cap);
    if (!bytes) { out.rejected.set(uid, { reason: 'missing', detail: 'seen during the upload period, gone at download' }); continue; }
    sw.bytesDown += bytes.length;
    const v = await verifyPayload(bytes, {
      shapes, cfg: node.run.codec, modelHash: node.runHash, window: watch.window, uid, deadlineMs: watch.deadlineMs, landedAtMs,
    }, hotkey);
    if (v.ok) out.valid.push({ uid, update: v.payload.update, sha256: sha256Hex(bytes), bytes: bytes.length, landedAt: landedAtMs, seen: watch.seen.get(uid) ?? 0 });
    else {
      out.rejected.set(uid, { reason: v.reason, detail: v.detail });
      node.log(`window ${watch.window}: rejected uid ${uid}: ${v.reason} (${v.detail})`);
    }
  }
  const missing = [...out.rejected].filter(([, r]) => r.reason === 'missing').map(([u]) => u);
  node.log(`window ${watch.window}: ${out.valid.length} valid upload(s)${missing.length ? `, missing: ${missing.join(' ')}` : ''}`);
  return out;
}
