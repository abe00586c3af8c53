// Validator: watch the miners' buckets during the upload period (one scan per block, so each upload
// gets a chain-time landing bound), then download and verify every upload seen by the deadline.
// Rejected uploads are logged with a reason and count as missing; nothing here throws on peer data.
import { maxPayloadBytes, type SparseUpdate } from '../compress/index.js';
import { keys, sha256Hex, verifyPayload, type VerifyReason } from '../protocol/index.js';
import { chainHead, knownDeadline, nextBlock } from './chaintime.js';
import type { Directory } from './directory.js';
import { fetchObject } from './model-state.js';
import { retrying } from './retry.js';
import type { Stopwatch } from './status.js';
import type { Node } from './node.js';

export interface Watch {
  window: number;
  deadlineMs: number;
  /** Miners known at the final scan. */
  candidates: number[];
  /** uid → the earliest chain time its upload can have landed (the previous scan's head time). */
  landedAt: Map<number, number>;
}

export interface Verified {
  uid: number;
  update: SparseUpdate;
  sha256: string;
  bytes: number;
}

export interface Gathered {
  valid: Verified[];
  rejected: Map<number, VerifyReason | 'missing' | 'no_bucket'>;
}

/** Scans for uploads of window W once per block until a block at or past W's deadline; then once more. */
export async function watchUploads(node: Node, dir: Directory, W: number): Promise<Watch> {
  node.status.set('wait', { window: W });
  const landedAt = new Map<number, number>();
  let prevTs: number | null = null;
  for (;;) {
    const head = await chainHead(node);
    const deadline = await knownDeadline(node, W, head);
    const candidates = await (await dir.refresh()).miners();
    const bound = prevTs ?? head.timestamp;
    for (const uid of candidates) {
      if (landedAt.has(uid)) continue;
      const store = dir.bucket(uid);
      if (store && (await retrying(node, `head gradient of uid ${uid}`, () => store.head(keys.gradient(node.run.runId, W, uid))))) landedAt.set(uid, bound);
    }
    prevTs = head.timestamp;
    if (deadline !== null && head.timestamp >= deadline) return { window: W, deadlineMs: deadline, candidates, landedAt };
    await nextBlock(node);
  }
}

/** Downloads and verifies the uploads of `uids` (in that order) that the watch saw. */
export async function gatherGradients(node: Node, dir: Directory, watch: Watch, uids: readonly number[], sw: Stopwatch): Promise<Gathered> {
  node.status.set('gather', { window: watch.window });
  const shapes = node.model.layout.specs.map((s) => s.shape), cap = maxPayloadBytes(shapes, node.run.codec);
  const out: Gathered = { valid: [], rejected: new Map() };
  for (const uid of uids) {
    const landedAtMs = watch.landedAt.get(uid);
    const store = dir.bucket(uid), hotkey = await dir.hotkeyOf(uid);
    if (landedAtMs === undefined) { out.rejected.set(uid, 'missing'); continue; }
    if (!store || !hotkey) { out.rejected.set(uid, 'no_bucket'); continue; }
    const bytes = await fetchObject(node, store, keys.gradient(node.run.runId, watch.window, uid), cap);
    if (!bytes) { out.rejected.set(uid, 'missing'); continue; }
    sw.bytesDown += bytes.length;
    const v = await verifyPayload(bytes, {
      shapes, cfg: node.run.codec, modelHash: node.runHash, window: watch.window, uid, deadlineMs: watch.deadlineMs, landedAtMs,
    }, hotkey);
    if (v.ok) out.valid.push({ uid, update: v.payload.update, sha256: sha256Hex(bytes), bytes: bytes.length });
    else {
      out.rejected.set(uid, v.reason);
      node.log(`window ${watch.window}: rejected uid ${uid}: ${v.reason} (${v.detail})`);
    }
  }
  const missing = [...out.rejected].filter(([, r]) => r === 'missing').map(([u]) => u);
  node.log(`window ${watch.window}: ${out.valid.length} valid upload(s)${missing.length ? `, missing: ${missing.join(' ')}` : ''}`);
  return out;
}
