// What every validator publishes in its own bucket (any of them can lead, so each keeps the full
// set): the run start (seeded model + checkpoint), each window's peer list for the next window (its
// sha256 anchored on chain: the leader rule reads those anchors), each window's AggregateRecord
// (immutable: the catch-up and cross-check record), and checkpoints with the latest pointer.
import { currentWindow, nextBlock } from './chaintime.js';
import type { Directory } from './directory.js';
import { fetchObject, fetchRecord, SyncError, type SharedModel } from './model-state.js';
import { retrying } from './retry.js';
import { bootstrap } from './sync.js';
import { anchorDigest } from './upload.js';
import type { WindowAggregate } from './window-aggregate.js';
import type { Node } from './node.js';
import { encodeCheckpoint, encodeManifest, encodeRecord, keys, manifestSha256, sha256Hex, validatorOrder, type AggregateRecord, type ProtocolRecord } from '../protocol/index.js';
import { isStorageError, serializeDescriptor } from '../storage/index.js';
import { failpoint } from '../util/failpoint.js';

/** Windows a validator ranked k waits (× k) for those above it to start the run. */
export const START_GRACE_WINDOWS = 2;

/** Objects above this go up with putLarge (multipart) instead of one immutable put. */
const LARGE_OBJECT = 64 << 20;

/** Immutable write: true when written, false when the key already held the same bytes; throws SyncError if other bytes. */
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
 * Joins or starts the run: when no validator has published a start record and this one leads by
 * stake (or those above it have not started it within START_GRACE_WINDOWS × its rank), it starts the run at the current window (θ from the seed, checkpoint, start record);
 * otherwise it syncs like any node (newest checkpoint of any validator) and keeps a copy of the start
 * record in its own bucket, so it can serve catch-up and take over the lead.
 */
export async function startOrJoinRun(node: Node, dir: Directory, model: SharedModel): Promise<void> {
  const { runId } = node.run;
  const own = await fetchRecord(node, node.store, keys.startWindow(runId), 'start');
  const order = validatorOrder((await dir.refresh()).metagraph!);
  let anyStart = own ?? (await firstStart(node, dir, order));
  // A validator ranked k by stake starts the run itself when no one above it has after k × START_GRACE
  // windows: a hotkey that takes the most stake and never publishes cannot keep the run from starting.
  const rank = order.indexOf(node.uid);
  if (!anyStart && rank > 0) {
    const until = (await currentWindow(node)) + rank * START_GRACE_WINDOWS;
    node.log(`waiting up to ${rank * START_GRACE_WINDOWS} window(s) for a validator with more stake to start run ${runId}`);
    while (!anyStart && (await currentWindow(node)) < until) {
      await nextBlock(node);
      anyStart = await firstStart(node, dir, validatorOrder((await dir.refresh()).metagraph!));
    }
    if (!anyStart) node.log(`no validator with more stake started run ${runId}: starting it`);
  }
  const manifest = await publishRunManifest(node);
  if (!anyStart && rank >= 0) {
    model.seed(await currentWindow(node));
    await writeCheckpoint(node, model);
    await putRecord(node, keys.startWindow(runId), { kind: 'start', window: model.window, runHash: node.runHash, fingerprint: model.fingerprint, ...(manifest ? { manifest } : {}) });
    node.log(`started run ${runId} at window ${model.window} (seeded model ${model.fingerprint.slice(0, 12)})`);
    return;
  }
  const start = await bootstrap(node, dir, model);
  if (!own) await putRecord(node, keys.startWindow(runId), start);
  node.log(`joined run ${runId} at window ${model.window} (${model.fingerprint.slice(0, 12)})`);
}

/**
 * The run manifest (RunConfig, dataset index, mirrors) and the run pointer in this validator's bucket,
 * so a node that knows only the chain can join (neurons/join.ts). Both are overwritten at every start
 * (mirrors may change; the run hash in the pointer pins the rest). Returns the manifest's sha256, or
 * null for a run without a dataHash (its nodes are started with the run flags by hand).
 */
export async function publishRunManifest(node: Node): Promise<string | null> {
  const { run, cfg } = node;
  if (run.dataHash === undefined || !node.data.index) {
    node.log(`run ${run.runId} has no dataHash: not publishing a run manifest (every node needs the run flags and the same data)`);
    return null;
  }
  const mirrors = [...new Set([...(cfg.datasetMirrors ?? []).map(serializeDescriptor), ...(cfg.remoteData?.manifest.mirrors ?? [])])];
  if (mirrors.length === 0) node.log('WARNING: no dataset mirror configured (datasetMirrors): joining miners must bring the dataset themselves (--dataset)');
  const bytes = encodeManifest({ format: 'tessera-run', version: 1, run, dataset: node.data.index, mirrors });
  const sha = manifestSha256(bytes);
  await retrying(node, 'put run manifest', () => node.store.put(keys.runManifest(run.runId), bytes));
  await retrying(node, 'put run pointer', () => node.store.put(keys.currentRun(), encodeRecord({ kind: 'run', runId: run.runId, runHash: node.runHash, manifest: sha })));
  node.log(`published the run manifest (${bytes.length} bytes, sha256 ${sha.slice(0, 12)}, dataset ${run.dataHash.slice(0, 12)}, ${mirrors.length} mirror(s))`);
  return sha;
}

async function firstStart(node: Node, dir: Directory, order: number[]): Promise<boolean> {
  for (const v of order) {
    const store = dir.bucket(v);
    if (store && (await fetchRecord(node, store, keys.startWindow(node.run.runId), 'start'))) return true;
  }
  return false;
}

/**
 * Peer list of window W (eligible miners by score, then reserves) in the own bucket, its sha256 anchored
 * on chain for W. One written before a restart stands (and is anchored if it was not yet).
 */
export async function publishPeers(node: Node, W: number, peers: number[], reserves: number[]): Promise<void> {
  const key = keys.peers(node.run.runId, W);
  let bytes = encodeRecord({ kind: 'peers', window: W, peers, reserves });
  try {
    await putOnce(node, key, bytes);
  } catch (e) {
    if (!(e instanceof SyncError)) throw e;
    node.log(`window ${W}: keeping the peer list published before a restart`);
    bytes = (await fetchObject(node, node.store, key)) ?? bytes;
  }
  await anchorDigest(node, W, sha256Hex(bytes));
}

/** The window's AggregateRecord (what this validator applied: uids, payload sha256s, fingerprints). */
export async function publishAggregate(node: Node, agg: WindowAggregate, before: string, after: string): Promise<AggregateRecord> {
  const rec: AggregateRecord = { kind: 'aggregate', window: agg.window, uids: agg.uids, payloadSha256: agg.payloadSha256, fingerprintBefore: before, fingerprintAfter: after };
  try {
    await putRecord(node, keys.aggregate(node.run.runId, agg.window), rec);
  } catch (e) {
    if (!(e instanceof SyncError)) throw e;
    throw new SyncError(`window ${agg.window}: this validator recorded another aggregate before a restart; its model differs from what it published`);
  }
  return rec;
}

/** Windows of applied copies a validator keeps: replays reach back to the newest checkpoints (2 intervals) with margin. */
export const appliedKeepWindows = (checkpointEvery: number): number => Math.max(16, 3 * checkpointEvery);

/**
 * Keeps an immutable copy of every payload applied in the window (keys.applied) before recording it:
 * a miner that replaces or deletes its payload afterwards cannot break anyone's replay (sync.ts falls
 * back to these). Drops the copies of the window appliedKeepWindows ago.
 */
export async function keepAppliedCopies(node: Node, agg: WindowAggregate): Promise<void> {
  const { runId } = node.run;
  for (let i = 0; i < agg.uids.length; i++) {
    try {
      await putOnce(node, keys.applied(runId, agg.window, agg.uids[i]!), agg.raw[i]!);
    } catch (e) {
      if (!(e instanceof SyncError)) throw e;
      node.log(`window ${agg.window}: WARNING: ${e.message} (an applied copy from before a restart); keeping it`);
    }
  }
  const old = agg.window - appliedKeepWindows(node.run.checkpointEvery);
  if (old < 0) return;
  for (const key of await retrying(node, 'list old applied copies', () => node.store.list(keys.appliedOf(runId, old)))) {
    await retrying(node, `delete ${key}`, () => node.store.delete(key));
  }
}

/** Checkpoint of θ at the start of model.window, then the latest pointer. */
export async function writeCheckpoint(node: Node, model: SharedModel): Promise<void> {
  const { runId } = node.run, key = keys.checkpoint(runId, model.window);
  const bytes = encodeCheckpoint(node.model.layout, model.params, model.window, node.runHash);
  if (bytes.length > LARGE_OBJECT) {
    await retrying(node, `put ${key}`, () => node.store.putLarge(key, bytes));
    node.status.addBytes(bytes.length, 0);
  } else await putOnce(node, key, bytes);
  failpoint('validator.checkpoint');
  const ptr = encodeRecord({ kind: 'checkpoint', window: model.window, key, sha256: sha256Hex(bytes), fingerprint: model.fingerprint });
  await retrying(node, 'update latest checkpoint pointer', () => node.store.put(keys.latestCheckpoint(runId), ptr));
  node.log(`checkpoint of window ${model.window}: ${bytes.length} bytes`);
}
