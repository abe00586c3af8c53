// Model sync and catch-up (every role): start from the newest checkpoint any validator publishes (or
// the seeded model of the run's start window), then bring θ forward window by window — each window
// from a validator's AggregateRecord when one exists (fetch each listed payload, check its sha256,
// decode, apply, check the fingerprint), else by computing the window's aggregate as every node does
// (window-aggregate.ts); a listed payload its owner replaced comes from a validator's applied copy.
// crossCheck compares a node's own result with the leader's record afterwards.
import type { SparseUpdate } from '../compress/index.js';
import { chooseVouched, vouching, keys, validatorOrder, type StateClaim, type AggregateRecord, type CheckpointPointer, type StartRecord } from '../protocol/index.js';
import type { ReadOnlyStore } from '../storage/index.js';
import { nextBlock } from './chaintime.js';
import type { Directory } from './directory.js';
import { fetchRecord, SyncError, type SharedModel } from './model-state.js';
import { sleep, Stopped, throwIfStopped, backoffMs } from './retry.js';
import type { Stopwatch } from './status.js';
import { fetchPayload, gatherAggregate, planWindow } from './window-aggregate.js';
import type { Node } from './node.js';

interface Source { uid: number; store: ReadOnlyStore; start: StartRecord; ptr: CheckpointPointer | null }

/** Validators (by stake) whose bucket holds this run's start record, with their newest checkpoint pointers. */
async function sources(node: Node, dir: Directory): Promise<Source[]> {
  const out: Source[] = [];
  for (const v of validatorOrder((await dir.refresh()).metagraph!)) {
    const store = dir.bucket(v);
    const start = store ? await fetchRecord(node, store, keys.startWindow(node.run.runId), 'start') : null;
    if (!store || !start) continue;
    if (start.runHash !== node.runHash) {
      node.status.note({ lastError: `validator uid ${v} runs another configuration (run hash ${start.runHash.slice(0, 12)}, ours ${node.runHash.slice(0, 12)})` });
      continue;
    }
    out.push({ uid: v, store, start, ptr: await fetchRecord(node, store, keys.latestCheckpoint(node.run.runId), 'checkpoint') });
  }
  return out;
}

/** Among sources with recent checkpoint pointers, the highest-stake one whose (window, fingerprint) has the most stake behind it. */
async function vouchedSource(node: Node, recent: Source[], all: Source[], dir: Directory): Promise<Source | undefined> {
  const claims: StateClaim[] = [];
  for (const s of recent) claims.push({ uid: s.uid, stake: await dir.stakeOf(s.uid), window: s.ptr!.window, fingerprint: s.ptr!.fingerprint });
  for (const w of new Set(recent.map((s) => s.ptr!.window))) {
    for (const s of all) {
      if (s.ptr?.window === w || w <= s.start.window) continue;
      const rec = await fetchRecord(node, s.store, keys.aggregate(node.run.runId, w - 1), 'aggregate');
      if (rec && rec.window === w - 1) claims.push({ uid: s.uid, stake: await dir.stakeOf(s.uid), window: w, fingerprint: rec.fingerprintAfter });
    }
  }
  const pick = chooseVouched(claims);
  if (!pick) return undefined;
  let total = 0;
  for (const s of all) total += await dir.stakeOf(s.uid);
  const share = total > 0 ? pick.stake / total : 0;
  const src = recent.find((s) => s.ptr!.window === pick.window && s.ptr!.fingerprint === pick.fingerprint);
  if (src && share <= 0.5) node.log(`WARNING: the checkpoint of window ${pick.window} is vouched for by only ${(share * 100).toFixed(0)}% of the validators' stake (uids ${pick.uids.join(' ')}); loading it as the best there is`);
  return src;
}

/**
 * Sets θ to the recent checkpoint with the most validator stake behind it (or the seeded start model); waits while no
 * validator has published the run start. Returns the start record followed.
 */
export async function bootstrap(node: Node, dir: Directory, model: SharedModel): Promise<StartRecord> {
  node.status.set('catchup');
  for (let polls = 0; ; polls++) {
    throwIfStopped(node.signal);
    const all = await sources(node, dir);
    const first = all[0];
    if (first) {
      const same = all.filter((s) => s.start.window === first.start.window && s.start.fingerprint === first.start.fingerprint);
      // The checkpoint with the most validator stake behind it among the recent ones (within two
      // checkpoint intervals of the newest any validator has): a validator vouches for (w, f) by its
      // own pointer or by its record of window w − 1 ending at f. A newcomer with stake cannot make
      // others load its model unless it outweighs every other validator together.
      const withPtr = same.filter((s) => s.ptr && s.ptr.window > s.start.window);
      const newestWindow = Math.max(-1, ...withPtr.map((s) => s.ptr!.window));
      const recent = withPtr.filter((s) => s.ptr!.window >= newestWindow - 2 * node.run.checkpointEvery);
      const newest = recent.length > 0 ? await vouchedSource(node, recent, same, dir) : undefined;
      // θ already set and no checkpoint ahead of it: keep it (replaying is cheaper than reloading).
      if (model.ready && model.window >= (newest?.ptr!.window ?? first.start.window)) return first.start;
      try {
        if (newest) await model.load(newest.store, newest.ptr!);
        else {
          model.seed(first.start.window);
          if (model.fingerprint !== first.start.fingerprint) throw new SyncError(`seeded model fingerprint ${model.fingerprint.slice(0, 12)} differs from the run start's ${first.start.fingerprint.slice(0, 12)}`);
        }
        node.log(`synced to the start of window ${model.window} (run start by validator uid ${first.uid}${newest ? `, checkpoint from uid ${newest.uid}` : ''})`);
        return first.start;
      } catch (e) {
        if (!(e instanceof SyncError)) throw e;
        node.log(`SYNC FAILED: ${e.message}; retrying`);
        node.status.note({ lastError: e.message });
        await sleep(backoffMs(Math.min(polls, 4)), node.signal);
      }
    } else if (polls % 20 === 0) node.log(node.status.status.lastError?.includes('another configuration') ? `WAITING: ${node.status.status.lastError}; check that every node uses the same run config` : 'waiting for a validator to publish the run start');
    await nextBlock(node);
  }
}

/**
 * Brings θ to the start of window `target`, one window at a time (advance). A window that does not
 * reproduce a record's fingerprint is logged loudly and θ is re-synced from the newest checkpoint.
 */
export async function syncTo(node: Node, dir: Directory, model: SharedModel, target: number, sw?: Stopwatch, own?: Map<string, Uint8Array>): Promise<void> {
  let failures = 0;
  if (target - model.window > 2) await bootstrap(node, dir, model); // far behind: jump to a newer checkpoint if there is one
  while (model.window < target) {
    throwIfStopped(node.signal);
    try {
      await advance(node, dir, model, { sw, own, recordsFirst: true });
      failures = 0;
    } catch (e) {
      if (e instanceof Stopped || !(e instanceof SyncError)) throw e;
      failures++;
      node.log(`SYNC MISMATCH at window ${model.window}: ${e.message} — re-syncing from the newest checkpoint`);
      node.status.set('sync', { lastError: `sync mismatch at window ${model.window}: ${e.message}` });
      await sleep(backoffMs(Math.min(failures, 6)), node.signal);
      model.invalidate();
      await bootstrap(node, dir, model);
    }
  }
}

/** The first AggregateRecord of window W among the validators (by stake) that starts from `before`. */
async function recordOf(node: Node, dir: Directory, W: number, before: string, prefer: number | null): Promise<{ uid: number; rec: AggregateRecord } | null> {
  const order = validatorOrder((await dir.refresh()).metagraph!);
  for (const v of prefer === null ? order : [prefer, ...order.filter((u) => u !== prefer)]) {
    const store = dir.bucket(v);
    const rec = store ? await fetchRecord(node, store, keys.aggregate(node.run.runId, W), 'aggregate') : null;
    if (rec && rec.window === W && rec.fingerprintBefore === before) return { uid: v, rec };
  }
  return null;
}

export interface AdvanceOptions {
  sw?: Stopwatch;
  /** This node's own payloads by sha256 (not downloaded again). */
  own?: Map<string, Uint8Array>;
  /** Catch-up: replay a validator's record of the window when one exists (else compute it). */
  recordsFirst?: boolean;
}

/**
 * Applies window model.window: its aggregate computed from the chain's anchors and the leader's peer
 * list (the live path of every node), or — catching up, or when the window's anchors are gone from
 * the chain's history — a validator's record of it.
 */
export async function advance(node: Node, dir: Directory, model: SharedModel, o: AdvanceOptions = {}): Promise<{ uids: number[]; leader: number | null }> {
  const W = model.window, { sw, own } = o;
  node.status.set('gather', { window: W });
  const plan = await planWindow(node, dir, W);
  if (o.recordsFirst || plan.inTime.size === 0) {
    const r = await recordOf(node, dir, W, model.fingerprint, plan.leader);
    if (r && (o.recordsFirst || r.rec.uids.length > 0)) {
      await applyRecord(node, dir, model, r.rec, sw, own, r.uid);
      return { uids: r.rec.uids, leader: plan.leader };
    }
  }
  const agg = await (sw ? sw.time('gather', () => gatherAggregate(node, dir, plan, own, sw)) : gatherAggregate(node, dir, plan, own));
  node.status.set('apply', { window: W });
  if (sw) await sw.time('apply', () => model.apply(W, agg.updates));
  else model.apply(W, agg.updates);
  return { uids: agg.uids, leader: plan.leader };
}

/**
 * Compares this node's fingerprint after window W with the record the leader of W published (if it
 * has yet); a difference is a SyncError (the caller re-syncs). True when a record was compared.
 */
export async function crossCheck(node: Node, dir: Directory, W: number, fingerprintAfter: string, leader: number | null): Promise<boolean> {
  if (leader === null || leader === node.uid) return false;
  const store = dir.bucket(leader);
  const rec = store ? await fetchRecord(node, store, keys.aggregate(node.run.runId, W), 'aggregate') : null;
  if (!rec || rec.window !== W) return false;
  if (rec.fingerprintAfter !== fingerprintAfter) {
    // The leader's record is not the last word: a leader that records something else than the stake
    // behind the other validators' records cannot make every node re-sync, window after window.
    const claims: StateClaim[] = [{ uid: leader, stake: await dir.stakeOf(leader), window: W + 1, fingerprint: rec.fingerprintAfter }];
    for (const v of validatorOrder((await dir.refresh()).metagraph!)) {
      if (v === leader) continue;
      const other = v === node.uid ? null : dir.bucket(v);
      const r = v === node.uid ? { window: W, fingerprintAfter } : other ? await fetchRecord(node, other, keys.aggregate(node.run.runId, W), 'aggregate') : null;
      if (r && r.window === W) claims.push({ uid: v, stake: await dir.stakeOf(v), window: W + 1, fingerprint: r.fingerprintAfter });
    }
    const by = vouching(claims), ours = by.get(`${W + 1}:${fingerprintAfter}`)?.stake ?? 0, theirs = by.get(`${W + 1}:${rec.fingerprintAfter}`)?.stake ?? 0;
    if (ours > theirs) {
      node.log(`WARNING: window ${W}: the leader uid ${leader} recorded ${rec.fingerprintAfter.slice(0, 12)}, but validators holding more stake recorded this node's ${fingerprintAfter.slice(0, 12)}; keeping it`);
      return true;
    }
    throw new SyncError(`window ${W}: this node's aggregate gave ${fingerprintAfter.slice(0, 12)}, the leader uid ${leader} recorded ${rec.fingerprintAfter.slice(0, 12)} (uids [${rec.uids.join(' ')}])`);
  }
  return true;
}

/** Replays one AggregateRecord exactly as its writer applied it. */
export async function applyRecord(node: Node, dir: Directory, model: SharedModel, rec: AggregateRecord, sw?: Stopwatch, own?: Map<string, Uint8Array>, writer: number | null = null): Promise<void> {
  const W = rec.window;
  if (W !== model.window) throw new SyncError(`record of window ${W} while the model is at window ${model.window}`);
  if (rec.fingerprintBefore !== model.fingerprint) throw new SyncError(`the record starts window ${W} from ${rec.fingerprintBefore.slice(0, 12)}, this node holds ${model.fingerprint.slice(0, 12)}`);
  const updates = await fetchUpdates(node, dir, rec, own, sw, writer);
  const fp = model.apply(W, updates);
  if (fp !== rec.fingerprintAfter) throw new SyncError(`window ${W}: applying ${rec.uids.length} payloads gave ${fp.slice(0, 12)}, the record says ${rec.fingerprintAfter.slice(0, 12)}`);
}

/** The payloads a record lists, each fetched and verified as the live path does (window-aggregate.ts fetchPayload; the record's writer's copy first). */
async function fetchUpdates(node: Node, dir: Directory, rec: AggregateRecord, own?: Map<string, Uint8Array>, sw?: Stopwatch, writer: number | null = null): Promise<{ uid: number; update: SparseUpdate }[]> {
  const out: { uid: number; update: SparseUpdate }[] = [];
  for (let i = 0; i < rec.uids.length; i++) {
    const uid = rec.uids[i]!, f = await fetchPayload(node, dir, rec.window, uid, rec.payloadSha256[i]!, own, sw, writer);
    if (!f.ok) throw new SyncError(`payload of uid ${uid} for window ${rec.window} that the record lists: ${f.reason} (${f.detail})`);
    out.push({ uid, update: f.update });
  }
  return out;
}
