// What a miner writes: the signed gradient of window W to its own bucket (immutable, before the
// deadline by chain time), its sha256 anchored on chain (what makes it count as in time), and, after
// applying W, a parameter probe for the validators' sync check.
import { ChainError } from '../chain/index.js';
import { fingerprint } from '../compress/index.js';
import { encodeRecord, isLate, keys, probeIndices, sha256Hex } from '../protocol/index.js';
import { isStorageError } from '../storage/index.js';
import { chainHead, knownDeadline } from './chaintime.js';
import { fetchObject } from './model-state.js';
import { retrying } from './retry.js';
import { failpoint } from '../util/failpoint.js';
import type { Node } from './node.js';

/** Parameter values a probe carries. */
export const PROBE_VALUES = 256;

export type UploadOutcome = 'uploaded' | 'already_uploaded' | 'conflict' | 'late';

/**
 * Puts the payload at keys.gradient(W, uid) with ifNoneMatch, then anchors its sha256 on chain.
 * 'already_uploaded': the same bytes were there (a restart); 'conflict': other bytes were (an earlier
 * run of this node: those are anchored instead, this window's new work is dropped, EF untouched);
 * 'late': the chain says the deadline has passed, so nothing is sent.
 */
export async function uploadGradient(node: Node, window: number, bytes: Uint8Array): Promise<UploadOutcome> {
  const key = keys.gradient(node.run.runId, window, node.uid);
  const head = await chainHead(node);
  const deadline = await knownDeadline(node, window, head);
  if (deadline !== null && isLate(head.timestamp, deadline)) {
    node.log(`window ${window}: LATE: training ended ${head.timestamp - deadline} ms after the upload deadline (${new Date(deadline).toISOString()}); not uploading`);
    return 'late';
  }
  failpoint('miner.put');
  const outcome = await putGradient(node, window, key, bytes);
  failpoint('miner.upload');
  await anchorDigest(node, window, sha256Hex(outcome.bytes));
  return outcome.outcome;
}

/** Anchors a digest for window W on chain; false when another digest was anchored for W before (a restart). */
export async function anchorDigest(node: Node, window: number, digest: string): Promise<boolean> {
  try {
    await retrying(node, `anchor window ${window}`, () => node.chain.anchor(node.signer, window, digest));
    failpoint('node.anchor');
    return true;
  } catch (e) {
    if (!(e instanceof ChainError && e.code === 'anchored')) throw e;
    node.log(`window ${window}: another digest is already anchored for this window (${e.message}); keeping it`);
    return false;
  }
}

async function putGradient(node: Node, window: number, key: string, bytes: Uint8Array): Promise<{ outcome: UploadOutcome; bytes: Uint8Array }> {
  try {
    await retrying(node, `upload ${key}`, () => node.store.put(key, bytes, { ifNoneMatch: true }));
  } catch (e) {
    if (!isStorageError(e, 'exists')) throw e;
    const there = await fetchObject(node, node.store, key);
    if (there && sha256Hex(there) === sha256Hex(bytes)) return { outcome: 'already_uploaded', bytes };
    if (!there) throw e;
    node.log(`window ${window}: another payload already sits at ${key} (an earlier run of this node?); keeping it`);
    return { outcome: 'conflict', bytes: there };
  }
  node.status.addBytes(bytes.length, 0);
  return { outcome: 'uploaded', bytes };
}

/** Publishes θ's fingerprint and the values at probeIndices(W) after applying window W. */
export async function publishProbe(node: Node, window: number): Promise<void> {
  const params = node.model.params;
  const values = probeIndices(window, params.length, PROBE_VALUES).map((i) => params[i]!);
  const bytes = encodeRecord({ kind: 'probe', window, uid: node.uid, fingerprint: fingerprint(params), values });
  await retrying(node, 'upload probe', () => node.store.put(keys.probe(node.run.runId, window, node.uid), bytes));
  node.status.addBytes(bytes.length, 0);
}
