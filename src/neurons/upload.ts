// What a miner writes to its own bucket: the signed gradient of window W (immutable, before the
// deadline by chain time) and, after applying W, a parameter probe for the validators' sync check.
import { fingerprint } from '../compress/index.js';
import { encodeRecord, isLate, keys, probeIndices, sha256Hex } from '../protocol/index.js';
import { isStorageError } from '../storage/index.js';
import { chainHead, knownDeadline } from './chaintime.js';
import { fetchObject } from './model-state.js';
import { retrying } from './retry.js';
import type { Node } from './node.js';

/** Parameter values a probe carries. */
export const PROBE_VALUES = 256;

export type UploadOutcome = 'uploaded' | 'already_uploaded' | 'conflict' | 'late';

/**
 * Puts the payload at keys.gradient(W, uid) with ifNoneMatch. 'already_uploaded': the same bytes were
 * there (a restart); 'conflict': other bytes were (this window's work is dropped, EF untouched);
 * 'late': the chain says the deadline has passed, so nothing is sent.
 */
export async function uploadGradient(node: Node, window: number, bytes: Uint8Array): Promise<UploadOutcome> {
  const key = keys.gradient(node.run.runId, window, node.uid);
  const head = await chainHead(node);
  const deadline = await knownDeadline(node, window, head);
  if (deadline !== null && isLate(head.timestamp, deadline)) {
    node.log(`window ${window}: training ended ${head.timestamp - deadline} ms after the upload deadline; not uploading`);
    return 'late';
  }
  try {
    await retrying(node, `upload ${key}`, () => node.store.put(key, bytes, { ifNoneMatch: true }));
  } catch (e) {
    if (!isStorageError(e, 'exists')) throw e;
    const there = await fetchObject(node, node.store, key);
    if (there && sha256Hex(there) === sha256Hex(bytes)) return 'already_uploaded';
    node.log(`window ${window}: another payload already sits at ${key} (an earlier run of this node?); keeping it`);
    return 'conflict';
  }
  node.status.addBytes(bytes.length, 0);
  return 'uploaded';
}

/** Publishes θ's fingerprint and the values at probeIndices(W) after applying window W. */
export async function publishProbe(node: Node, window: number): Promise<void> {
  const params = node.model.params;
  const values = probeIndices(window, params.length, PROBE_VALUES).map((i) => params[i]!);
  const bytes = encodeRecord({ kind: 'probe', window, uid: node.uid, fingerprint: fingerprint(params), values });
  await retrying(node, 'upload probe', () => node.store.put(keys.probe(node.run.runId, window, node.uid), bytes));
  node.status.addBytes(bytes.length, 0);
}
