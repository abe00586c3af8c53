// Model sync and catch-up (both roles): start from the leader's newest checkpoint (or the seeded
// model of the run's start window), then replay the leader's AggregateRecords window by window:
// fetch each listed payload, check its sha256, decode, apply, and check the fingerprint.
import { decodePayload, maxPayloadBytes, type SparseUpdate } from '../compress/index.js';
import { keys, sha256Hex, type AggregateRecord } from '../protocol/index.js';
import { nextBlock } from './chaintime.js';
import type { Directory } from './directory.js';
import { applyUpdates, fetchObject, fetchRecord, initFromSeed, loadCheckpoint, SyncError, type ModelState } from './model-state.js';
import { sleep, Stopped, throwIfStopped, backoffMs } from './retry.js';
import type { Stopwatch } from './status.js';
import type { Node } from './node.js';

/** Polls between leader-directory refreshes while waiting for a record. */
const REFRESH_EVERY = 8;

/** Sets θ to the leader's newest checkpoint (or the seeded start model); waits while there is no leader or start record. */
export async function bootstrap(node: Node, dir: Directory, state: ModelState): Promise<void> {
  node.status.set('catchup');
  for (let polls = 0; ; polls++) {
    throwIfStopped(node.signal);
    const leader = await (await dir.refresh()).leader();
    const store = leader === null ? null : dir.bucket(leader);
    const start = store ? await fetchRecord(node, store, keys.startWindow(node.run.runId), 'start') : null;
    if (start && start.runHash !== node.runHash) {
      node.status.note({ lastError: `leader uid ${leader} runs another configuration (run hash ${start.runHash.slice(0, 12)}, ours ${node.runHash.slice(0, 12)})` });
      if (polls % 20 === 0) node.log(`WAITING: ${node.status.status.lastError}; check that every node uses the same run config`);
    } else if (store && start) {
      try {
        const ptr = await fetchRecord(node, store, keys.latestCheckpoint(node.run.runId), 'checkpoint');
        if (ptr && ptr.window > start.window) await loadCheckpoint(node, store, ptr, state);
        else {
          initFromSeed(node, state, start.window);
          if (state.fingerprint !== start.fingerprint) throw new SyncError(`seeded model fingerprint ${state.fingerprint.slice(0, 12)} differs from the leader's ${start.fingerprint.slice(0, 12)}`);
        }
        state.leader = leader;
        node.log(`synced to the start of window ${state.window} from leader uid ${leader}`);
        return;
      } catch (e) {
        if (!(e instanceof SyncError)) throw e;
        node.log(`SYNC FAILED: ${e.message}; retrying`);
        node.status.note({ lastError: e.message });
        await sleep(backoffMs(Math.min(polls, 4)), node.signal);
      }
    } else if (polls % 20 === 0) node.log(leader === null ? 'waiting for a leader (a validator with stake)' : `waiting for leader uid ${leader} to publish the run start`);
    await nextBlock(node);
  }
}

/**
 * Brings θ to the start of window `target` by applying the leader's records of windows
 * state.window .. target−1, waiting for each. A record that does not reproduce its fingerprint
 * (or a payload that cannot be had) is logged loudly and θ is re-synced from the newest checkpoint.
 */
export async function syncTo(node: Node, dir: Directory, state: ModelState, target: number, sw?: Stopwatch, own?: Map<string, Uint8Array>): Promise<void> {
  let failures = 0;
  while (state.window < target) {
    throwIfStopped(node.signal);
    try {
      const rec = await awaitAggregate(node, dir, state);
      if (rec === null) continue; // jumped to a newer checkpoint
      await applyRecord(node, dir, state, rec, sw, own);
      failures = 0;
    } catch (e) {
      if (e instanceof Stopped || !(e instanceof SyncError)) throw e;
      failures++;
      node.log(`SYNC MISMATCH at window ${state.window}: ${e.message} — re-syncing from the leader's checkpoint`);
      node.status.set('sync', { lastError: `sync mismatch at window ${state.window}: ${e.message}` });
      await sleep(backoffMs(Math.min(failures, 6)), node.signal);
      await bootstrap(node, dir, state);
    }
  }
}

/** Waits (one poll per block) for the leader's record of state.window; null after jumping to a newer checkpoint. */
async function awaitAggregate(node: Node, dir: Directory, state: ModelState): Promise<AggregateRecord | null> {
  const W = state.window;
  node.status.set('wait', { window: W });
  for (let polls = 0; ; polls++) {
    if (polls % REFRESH_EVERY === REFRESH_EVERY - 1 || state.leader === null) {
      const leader = await (await dir.refresh()).leader();
      if (leader !== state.leader) node.log(`leader changed: uid ${state.leader} → ${leader}`);
      state.leader = leader;
    }
    const store = state.leader === null ? null : dir.bucket(state.leader);
    if (store) {
      const rec = await fetchRecord(node, store, keys.aggregate(node.run.runId, W), 'aggregate');
      if (rec && rec.window === W) return rec;
      if (polls % REFRESH_EVERY === 0) {
        const ptr = await fetchRecord(node, store, keys.latestCheckpoint(node.run.runId), 'checkpoint');
        // The leader writes W's record before any checkpoint past W: if the record landed between the two
        // reads (a leader catching up after an outage writes both within milliseconds), replay it rather
        // than jump, so this node still applies (and fingerprints) every window.
        const landed = ptr && ptr.window > W ? await fetchRecord(node, store, keys.aggregate(node.run.runId, W), 'aggregate') : null;
        if (landed && landed.window === W) return landed;
        if (ptr && ptr.window > W) {
          node.log(`the leader's checkpoint (window ${ptr.window}) is ahead of window ${W}: loading it`);
          await loadCheckpoint(node, store, ptr, state);
          return null;
        }
      }
    }
    await nextBlock(node);
  }
}

/** Replays one AggregateRecord exactly as the leader applied it. */
export async function applyRecord(node: Node, dir: Directory, state: ModelState, rec: AggregateRecord, sw?: Stopwatch, own?: Map<string, Uint8Array>): Promise<void> {
  const W = rec.window;
  if (W !== state.window) throw new SyncError(`record of window ${W} while the model is at window ${state.window}`);
  if (rec.fingerprintBefore !== state.fingerprint) throw new SyncError(`the leader started window ${W} from ${rec.fingerprintBefore.slice(0, 12)}, this node holds ${state.fingerprint.slice(0, 12)}`);
  node.status.set('gather', { window: W });
  const updates = await (sw ? sw.time('gather', () => fetchUpdates(node, dir, rec, own, sw)) : fetchUpdates(node, dir, rec, own));
  node.status.set('apply', { window: W });
  const fp = sw ? await sw.time('apply', () => applyUpdates(node, updates)) : applyUpdates(node, updates);
  if (fp !== rec.fingerprintAfter) throw new SyncError(`window ${W}: applying ${rec.uids.length} payloads gave ${fp.slice(0, 12)}, the leader recorded ${rec.fingerprintAfter.slice(0, 12)}`);
  state.window = W + 1;
  state.fingerprint = fp;
  node.status.fingerprint(W, fp);
}

async function fetchUpdates(node: Node, dir: Directory, rec: AggregateRecord, own?: Map<string, Uint8Array>, sw?: Stopwatch): Promise<{ uid: number; update: SparseUpdate }[]> {
  const shapes = node.model.layout.specs.map((s) => s.shape), cap = maxPayloadBytes(shapes, node.run.codec);
  const out: { uid: number; update: SparseUpdate }[] = [];
  for (let i = 0; i < rec.uids.length; i++) {
    const uid = rec.uids[i]!, sha = rec.payloadSha256[i]!, key = keys.gradient(node.run.runId, rec.window, uid);
    let bytes = own?.get(sha) ?? null;
    if (!bytes) {
      const store = await dir.bucketFresh(uid);
      if (!store) throw new SyncError(`uid ${uid} has no readable bucket for ${key}`);
      bytes = await fetchObject(node, store, key, cap);
      if (!bytes) throw new SyncError(`payload ${key} of uid ${uid} is missing`);
      if (sw) sw.bytesDown += bytes.length;
    }
    if (sha256Hex(bytes) !== sha) throw new SyncError(`payload ${key} of uid ${uid} differs from the one the leader applied`);
    const d = decodePayload(bytes, { shapes, cfg: node.run.codec, modelHash: node.runHash });
    if (!d.ok) throw new SyncError(`payload ${key} of uid ${uid} does not decode: ${d.reason}`);
    out.push({ uid, update: d.payload.update });
  }
  return out;
}
