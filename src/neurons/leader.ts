// What the leading validator publishes in its own bucket: the run start (seeded model + checkpoint),
// each window's peer list and AggregateRecord (immutable), checkpoints with the latest pointer. And
// its resume: own checkpoint + own records replayed, so a restarted leader continues where it was.
import { currentWindow } from './chaintime.js';
import type { Directory } from './directory.js';
import type { Verified } from './gather.js';
import { applyUpdates, fetchObject, fetchRecord, initFromSeed, loadCheckpoint, SyncError, type ModelState } from './model-state.js';
import { retrying } from './retry.js';
import { applyRecord } from './sync.js';
import type { Node } from './node.js';
import { encodeCheckpoint, encodeRecord, keys, sha256Hex, type AggregateRecord, type ProtocolRecord } from '../protocol/index.js';
import { isStorageError } from '../storage/index.js';
import { TesseraError } from '../util/errors.js';

/** Objects above this go up with putLarge (multipart) instead of one immutable put. */
const LARGE_OBJECT = 64 << 20;

/** Immutable write: true when written, false when the key already held the same bytes; throws if other bytes. */
async function putOnce(node: Node, key: string, bytes: Uint8Array): Promise<boolean> {
  try {
    await retrying(node, `put ${key}`, () => node.store.put(key, bytes, { ifNoneMatch: true }));
    node.status.addBytes(bytes.length, 0);
    return true;
  } catch (e) {
    if (!isStorageError(e, 'exists')) throw e;
    const there = await fetchObject(node, node.store, key);
    if (there && sha256Hex(there) === sha256Hex(bytes)) return false;
    throw new SyncError(`${key} already holds different content`);
  }
}

const putRecord = (node: Node, key: string, r: ProtocolRecord): Promise<boolean> => putOnce(node, key, encodeRecord(r));

/**
 * Starts the run (no start record yet: θ from the seed at the current window, checkpoint, start
 * record) or resumes it (own newest checkpoint, then every own AggregateRecord replayed).
 */
export async function startOrResumeRun(node: Node, dir: Directory, state: ModelState): Promise<void> {
  const { runId } = node.run;
  state.leader = node.uid;
  const start = await fetchRecord(node, node.store, keys.startWindow(runId), 'start');
  if (!start) {
    initFromSeed(node, state, await currentWindow(node));
    await writeCheckpoint(node, state);
    await putRecord(node, keys.startWindow(runId), { kind: 'start', window: state.window, runHash: node.runHash, fingerprint: state.fingerprint });
    node.log(`started run ${runId} at window ${state.window} (seeded model ${state.fingerprint.slice(0, 12)})`);
    return;
  }
  if (start.runHash !== node.runHash) {
    throw new TesseraError(`this validator's bucket already holds run ${runId} with another configuration (run hash ${start.runHash.slice(0, 12)}, ours ${node.runHash.slice(0, 12)})`,
      'use a new run id (or a fresh bucket) when the run configuration changes');
  }
  const ptr = await fetchRecord(node, node.store, keys.latestCheckpoint(runId), 'checkpoint');
  if (ptr && ptr.window > start.window) await loadCheckpoint(node, node.store, ptr, state);
  else initFromSeed(node, state, start.window);
  for (;;) {
    const rec = await fetchRecord(node, node.store, keys.aggregate(runId, state.window), 'aggregate');
    if (!rec) break;
    await applyRecord(node, dir, state, rec);
  }
  node.log(`resumed run ${runId} at window ${state.window} (${state.fingerprint.slice(0, 12)})`);
}

/** Peer list of window W (best by score, then reserves); one written before a restart stands. */
export async function publishPeers(node: Node, W: number, peers: number[], reserves: number[]): Promise<void> {
  try {
    await putRecord(node, keys.peers(node.run.runId, W), { kind: 'peers', window: W, peers, reserves });
  } catch (e) {
    if (!(e instanceof SyncError)) throw e;
    node.log(`window ${W}: keeping the peer list published before a restart`);
  }
}

/** Applies the chosen payloads (uid order) to θ and writes the window's AggregateRecord. */
export async function publishAggregate(node: Node, state: ModelState, W: number, chosen: readonly Verified[]): Promise<AggregateRecord> {
  if (state.window !== W) throw new SyncError(`aggregating window ${W} while the model is at window ${state.window}`);
  const sorted = [...chosen].sort((a, b) => a.uid - b.uid);
  const before = state.fingerprint;
  const after = applyUpdates(node, sorted);
  const rec: AggregateRecord = {
    kind: 'aggregate', window: W, uids: sorted.map((v) => v.uid), payloadSha256: sorted.map((v) => v.sha256), fingerprintBefore: before, fingerprintAfter: after,
  };
  await putRecord(node, keys.aggregate(node.run.runId, W), rec);
  state.window = W + 1;
  state.fingerprint = after;
  node.status.fingerprint(W, after);
  return rec;
}

/** Checkpoint of θ at the start of state.window, then the latest pointer. */
export async function writeCheckpoint(node: Node, state: ModelState): Promise<void> {
  const { runId } = node.run, key = keys.checkpoint(runId, state.window);
  const bytes = encodeCheckpoint(node.model.layout, node.model.params, state.window, node.runHash);
  if (bytes.length > LARGE_OBJECT) {
    await retrying(node, `put ${key}`, () => node.store.putLarge(key, bytes));
    node.status.addBytes(bytes.length, 0);
  } else await putOnce(node, key, bytes);
  const ptr = encodeRecord({ kind: 'checkpoint', window: state.window, key, sha256: sha256Hex(bytes), fingerprint: state.fingerprint });
  await retrying(node, 'update latest checkpoint pointer', () => node.store.put(keys.latestCheckpoint(runId), ptr));
  node.log(`checkpoint of window ${state.window}: ${bytes.length} bytes`);
}
