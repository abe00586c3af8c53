// The miner: a table of contents of named steps. Per window W (θ at the start of W, the chain in W):
// plan the inner steps that fit before W's deadline → train → compress + sign → upload + anchor on
// chain → once the chain is past W's deadline, compute W's aggregate itself (window-aggregate.ts:
// no validator on the path) and apply it → probe → save local state → cross-check the leader's
// record of the window before. With run.overlap (docs/protocol.md "Overlap") the same steps run as a
// pipeline: W trains from θ of W − 1 (less the miner's own update of W − 1) while W − 1's upload lands
// and its aggregate is gathered and applied (mineOverlapped). A scenario (src/scenario: adversarial miners for tests and demos)
// may replace what is sent and when through MinerHooks; the honest steps are the defaults.
import { SubtensorChain } from '../chain/subtensor/chain.js';
import { applyAggregate, forgetSent, type SparseUpdate } from '../compress/index.js';
import { createLlama } from '../model/index.js';
import { sharedFloat32, type StepWorker } from '../train/step-worker.js';
import { sha256Hex, trainingBase } from '../protocol/index.js';
import { TesseraError } from '../util/errors.js';
import { blockIntervalMs, blockTimestamp, chainNow, currentWindow, expectedDeadline, nextBlock } from './chaintime.js';
import { Directory } from './directory.js';
import { loadMinerLocal, makePayload, saveMinerLocal, saveMinerLocalAsync, trainWindow, type MinerLocal, type StepBudget } from './inner.js';
import { SharedModel, SyncError } from './model-state.js';
import { startNode, type Node, type NodeOptions } from './node.js';
import { backoffMs, retrying, sleep, Stopped } from './retry.js';
import { Stopwatch } from './status.js';
import { advance, bootstrap, crossCheck, syncTo } from './sync.js';
import type { NodeConfig } from './types.js';
import { publishProbe, uploadGradient, type UploadOutcome } from './upload.js';
import { fetchPayload, windowAnchors } from './window-aggregate.js';
import { pipelineHooks } from '../hetero/stage-node.js';
import { revealIfPicked } from './audit-reveal.js';
import type { Reveal } from './audit.js';

/** What a miner sends for a window; efNext null leaves the error feedback as it was; reveal: its state, shown if a replay audit picks the upload (audit.ts). */
export interface Work { bytes: Uint8Array; update: SparseUpdate; efNext: Float32Array | null; loss: number; steps: number; reveal?: Reveal }

export interface MinerContext {
  node: Node; dir: Directory; local: MinerLocal; W: number; sw: Stopwatch;
  /**
   * What the honest path runs between training and encoding, for hooks that train by themselves (a
   * pipeline stage, hetero/stage-node.ts): with overlap it waits for W − 1's upload to settle (its error
   * feedback is committed first: payloads compress in order); without overlap it does nothing.
   */
  beforeEncode?: () => Promise<void>;
}

/** What a scenario may replace in a miner's window (every hook is optional; the honest steps are the default). */
export interface MinerHooks {
  readonly name: string;
  /** The window's work (null: nothing to send); `honest(batches?)` runs the honest train + encode. */
  produce?(ctx: MinerContext, honest: (batches?: number[][]) => Promise<Work | null>): Promise<Work | null>;
  /** The upload; `honest()` uploads and anchors before the deadline. */
  upload?(ctx: MinerContext, bytes: Uint8Array, honest: () => Promise<UploadOutcome>): Promise<UploadOutcome>;
  /** After an upload landed. */
  uploaded?(W: number, work: Work): void;
}

export interface MinerOptions extends NodeOptions { hooks?: MinerHooks }

/** Kept free before the deadline beyond encode + upload + one block: this share of a window (at least one block). */
export const SAFETY_MARGIN = 0.08;
/** With overlap: training plans to end this share of a window earlier still (StepPlanner.budget). */
export const OVERLAP_FLOAT = 0.5;
/** With overlap: the share of that float training may still use while the base of the next window is being gathered (StepPlanner.budget). */
export const OVERLAP_GATHER_SHARE = 0.5;

export async function runMiner(cfg: NodeConfig, opts: MinerOptions = {}): Promise<void> {
  let hooks = opts.hooks;
  const behavior = cfg.behavior ?? 'honest';
  if (behavior !== 'honest' && behavior !== '' && hooks?.name !== behavior) {
    throw new TesseraError(`miner behavior '${behavior}' needs its hooks (got ${hooks ? `'${hooks.name}'` : 'none'})`, 'start adversarial miners through src/scenario (runScenarioMiner or tessera miner --behavior)');
  }
  const node = await startNode(cfg, opts);
  const dir = new Directory(node);
  const model = new SharedModel(node);
  const planner = new StepPlanner(node);
  if (hooks) node.log(`ADVERSARIAL behavior '${hooks.name}' (tests and demos)`);
  // A pipeline stage (docs/hetero.md "Groups in the network"): the window's work is its stage's, with its group.
  else if (cfg.pipeline) hooks = pipelineHooks(node, cfg.pipeline);
  let stepper: StepWorker | undefined;
  try {
    // With overlap the inner loop trains a second copy of the parameters (the base θ of W − 1) while θ advances.
    // Its inner steps run on a worker thread over shared buffers, so this thread serves the gather meanwhile.
    const local = node.run.overlap
      ? loadMinerLocal(node, createLlama(node.run.model, sharedFloat32(node.model.layout.total)), { worker: true })
      : loadMinerLocal(node, node.model);
    stepper = local.stepper;
    let last: Applied | null = null, reconciled = false;
    for (let failures = 0; ;) {
      try {
        if (!model.ready) { await bootstrap(node, dir, model); last = null; }
        if (!reconciled) { await reconcileErrorFeedback(node, dir, local); reconciled = true; }
        if (node.run.overlap) {
          if ((await mineOverlapped(node, dir, model, local, planner, hooks)) === 'stopped') break;
          continue; // a record mismatch invalidated θ: re-sync, then train again
        }
        const W = await nextTrainingWindow(node, dir, model);
        if (cfg.stopAfterWindow !== undefined && W > cfg.stopAfterWindow) break;
        // θ reached W without applying W − 1 here (a start, a restart, a checkpoint jump): publish the probe
        // of W − 1 now (θ is exactly the model after W − 1), or validators would find none and call this miner out of sync.
        if (W > 0 && last?.window !== W - 1) await publishProbe(node, W - 1);
        const before = last;
        last = await mineWindow(node, dir, model, local, planner, W, hooks);
        if (before) await checkRecord(node, dir, model, before);
        failures = 0;
        if (cfg.stopAfterWindow !== undefined && W >= cfg.stopAfterWindow) break;
      } catch (e) {
        if (e instanceof Stopped) throw e;
        failures++;
        model.invalidate(); // θ may be half-updated: re-sync from a checkpoint and the records
        node.log(`window failed: ${(e as Error).stack ?? String(e)}`);
        node.status.set('retry', { lastError: (e as Error).message });
        await sleep(backoffMs(Math.min(failures, 6)), node.signal);
      }
    }
  } catch (e) {
    if (!(e instanceof Stopped)) throw e;
  } finally {
    await stepper?.close();
    dir.close();
    node.store.close();
    if (node.chain instanceof SubtensorChain && !opts.chain) await node.chain.close().catch(() => {});
    node.status.set('stopped');
    node.log('stopped');
  }
}

interface Applied { window: number; fingerprint: string; leader: number | null }

/** How many windows back from the chain's current one a start looks for an upload whose residual was lost. */
export const RECONCILE_LOOKBACK = 8;

/**
 * At a start: an upload this miner anchored after the window whose residual its saved error feedback
 * holds (killed between the anchor and the commit, or between a commit and the next save) was sent, but
 * its residual is lost, and the next upload would send the same values again (validators call that a
 * copy of the miner's own upload). Each such upload is read back (this miner's bucket, else a
 * validator's applied copy) and its sent values taken out of the error feedback (forgetSent); one that
 * cannot be read resets the error feedback. A state file that does not record the window is left as is.
 */
async function reconcileErrorFeedback(node: Node, dir: Directory, local: MinerLocal): Promise<void> {
  if (local.efWindow === null) return;
  const now = await currentWindow(node);
  for (let U = Math.max(local.efWindow + 1, now - RECONCILE_LOOKBACK); U <= now; U++) {
    const mine = (await retrying(node, `read anchors of window ${U}`, () => node.chain.anchors(U))).find((a) => a.uid === node.uid);
    if (!mine) continue;
    const f = await fetchPayload(node, dir, U, node.uid, mine.digest);
    if (f.ok) {
      const n = forgetSent(local.ef, f.update, node.model.layout.specs, node.run.codec);
      node.log(`window ${U}: this miner's upload was anchored but its error feedback was not kept (stopped after the anchor): took its ${n} sent values out of the error feedback`);
    } else {
      local.ef.fill(0);
      node.log(`window ${U}: this miner's upload was anchored but its error feedback was not kept, and it cannot be read back (${f.reason}: ${f.detail}); starting with fresh error feedback`);
    }
    local.efWindow = U;
  }
}

/** The window to train next: the chain's current window, once θ has caught up to its start. */
async function nextTrainingWindow(node: Node, dir: Directory, model: SharedModel): Promise<number> {
  for (;;) {
    const W = await currentWindow(node);
    if (model.window === W) return W;
    if (model.window > W) await nextBlock(node); // θ is ahead of the chain's window only for a moment
    else {
      node.status.set('sync', { window: W });
      await syncTo(node, dir, model, W);
    }
  }
}

/**
 * How many inner steps fit: before each step, chain time now + one more step + the reserve (encode,
 * upload + anchor, one block for the anchor to be included, the safety margin) must stay ≤ the
 * deadline. Encode and upload times are the last window's measurements.
 */
class StepPlanner {
  /** Measured last window; until then 5% and 2% of a window. */
  encodeMs: number | null = null;
  uploadMs: number | null = null;
  constructor(private readonly node: Node) {}

  /**
   * A skipped window: the measured encode and upload times are dropped (the next window plans with the
   * defaults). One upload stretched by an outage (retries while the chain or storage was down) would
   * otherwise hold a reserve larger than the window for good, and the miner would never upload again.
   */
  forget(W: number): void {
    if (this.encodeMs === null && this.uploadMs === null) return;
    this.node.log(`window ${W}: planning the next window with default encode and upload reserves (the last measured: encode ${Math.round(this.encodeMs ?? 0)} ms, upload ${Math.round(this.uploadMs ?? 0)} ms)`);
    this.encodeMs = null;
    this.uploadMs = null;
  }

  reserveMs(): number {
    const block = blockIntervalMs(this.node), windowMs = this.node.run.blocksPerWindow * block;
    return (this.encodeMs ?? 0.05 * windowMs) + (this.uploadMs ?? 0.02 * windowMs) + block + Math.max(block, SAFETY_MARGIN * windowMs);
  }

  /**
   * With overlap, W's deadline is a window and 40% after its training can start: a miner slower than its
   * window would drift towards the deadline window after window, so it plans to end half a window
   * before it (OVERLAP_FLOAT), keeping that much float for a slow upload or a busier machine.
   */
  async budget(W: number, waiting: () => boolean = () => false): Promise<{ budget: StepBudget; deadline: number; leftMs: () => number }> {
    const deadline = await expectedDeadline(this.node, W);
    const float = this.node.run.overlap ? OVERLAP_FLOAT * this.node.run.blocksPerWindow * blockIntervalMs(this.node) : 0;
    const leftMs = (): number => deadline - (chainNow(this.node) ?? Date.now()) - this.reserveMs() - float;
    // While the next window's base is still being gathered (`waiting`), training may use half of the float:
    // the miner could not start the next window before that base anyway, so these steps add no drift and
    // fill time it would otherwise idle (a slow gather: a busy machine, a slow link, storage retries); the
    // other half stays free for a slow upload.
    const gatherMs = float * OVERLAP_GATHER_SHARE;
    return { deadline, leftMs, budget: (_done, ms) => leftMs() >= (ms ?? 0) * 1.15 || (waiting() && leftMs() + gatherMs >= (ms ?? 0) * 1.15) };
  }
}

/** The honest train + encode of window W (from the trained model's current parameters); `beforeEncode` runs between them. */
function honestWork(node: Node, local: MinerLocal, planner: StepPlanner, W: number, sw: Stopwatch, beforeEncode: () => Promise<void> = async () => {},
  waiting?: () => boolean): (batches?: number[][]) => Promise<Work | null> {
  const H = node.run.innerSteps;
  return async (batches?: number[][]): Promise<Work | null> => {
    const plan = await planner.budget(W, waiting);
    if (plan.leftMs() <= 0) {
      node.log(`window ${W}: LATE: no time left to train before the deadline (${new Date(plan.deadline).toISOString()}, reserve ${Math.round(planner.reserveMs())} ms); skipping this window`);
      planner.forget(W);
      return null;
    }
    node.status.set('train', { window: W });
    const t = await sw.time('train', () => trainWindow(node, local, W, batches, plan.budget));
    if (t.steps < H) {
      node.log(`window ${W}: trained ${t.steps}/${H} inner steps: steps take ${t.msPerStep?.toFixed(0)} ms and ${Math.round(plan.leftMs())} ms were left ` +
        `before the deadline less the reserve (${Math.round(planner.reserveMs())} ms for encode, upload, one block and the safety margin)`);
    }
    if (!t.delta) return null;
    await beforeEncode();
    node.status.set('encode', { loss: t.loss });
    const t0 = performance.now();
    const p = await sw.time('encode', () => makePayload(node, local, t.delta!, W, t.steps, t.pre));
    planner.encodeMs = performance.now() - t0;
    return { bytes: p.bytes, update: p.update, efNext: p.efNext, loss: t.loss, steps: t.steps, reveal: p.reveal };
  };
}

async function mineWindow(node: Node, dir: Directory, model: SharedModel, local: MinerLocal, planner: StepPlanner, W: number, hooks?: MinerHooks): Promise<Applied> {
  const sw = new Stopwatch(), ctx: MinerContext = { node, dir, local, W, sw };
  const honest = honestWork(node, local, planner, W, sw);
  const work = hooks?.produce ? await hooks.produce(ctx, honest) : await honest();
  const own = new Map<string, Uint8Array>();
  let outcome: UploadOutcome | 'none' = 'none';
  if (work) {
    node.status.set('upload');
    outcome = await uploadWork(node, local, planner, W, work, sw, own, hooks, ctx);
  }
  const applied = await advance(node, dir, model, { sw, own });
  const margin = await marginOf(node, W, outcome);
  if (margin !== null) {
    if (margin < 0) node.log(`window ${W}: LATE: the anchor was included ${-margin} ms after the deadline`);
    else if (margin < planner.reserveMs() / 2) node.log(`window ${W}: close to the deadline: anchored ${margin} ms before it`);
  }
  node.log(`window ${W}: applied the aggregate of uids [${applied.uids.join(' ')}] (leader ${applied.leader ?? 'none'}) → ${model.fingerprint.slice(0, 12)}`);
  await publishProbe(node, W);
  try {
    saveMinerLocal(node, local, W);
  } catch (e) {
    // A full or failing disk must not stop the miner: θ and the local state are fine in memory; the file
    // (written atomically) still holds the last state saved, and the next window tries again.
    node.log(`window ${W}: cannot save local state (${(e as Error).message}); keeping it in memory and saving again after the next window`);
  }
  node.status.note({ marginMs: margin, steps: work?.steps ?? 0 });
  node.status.timeline({ ...sw.entry(W, model.fingerprint), steps: work?.steps ?? 0, ...(work ? { loss: work.loss } : {}), outcome, margin_ms: margin, aggregated: applied.uids, leader: applied.leader });
  node.status.set('idle');
  return { window: W, fingerprint: model.fingerprint, leader: applied.leader };
}

/** A window trained with overlap whose upload may still be in flight and whose aggregate is not applied yet. */
interface Trained { W: number; sw: Stopwatch; windowS: number; work: Work | null; upload: Promise<UploadOutcome | 'none'> }

/**
 * The miner loop with overlap (run.overlap): iteration W trains W from θ of W − 1 less the miner's own
 * update of W − 1 (the eager base, copied into the trained parameters) while, concurrently, θ advances through W − 1 (its deadline, then gather and
 * apply) and W − 1's upload finishes. The error feedback of W − 1 is committed before W is encoded,
 * so payloads compress in order. W's timeline entry is written once W's aggregate is applied (one
 * iteration later), so it holds W's training, upload, margin and aggregate, and its window_s is the
 * iteration that trained it: the entries tile the wall clock and Σ train_s ÷ Σ window_s is the
 * miner's compute utilization. Returns 'stopped' after stopAfterWindow, 'resync' when a cross-check
 * invalidated θ; throws on a failure (the caller re-syncs).
 */
async function mineOverlapped(node: Node, dir: Directory, model: SharedModel, local: MinerLocal, planner: StepPlanner, hooks?: MinerHooks): Promise<'stopped' | 'resync'> {
  const stop = node.cfg.stopAfterWindow, trained = local.trainable.model.params;
  const A = await nextTrainingWindow(node, dir, model);
  if (A > 0) await publishProbe(node, A - 1); // θ reached A without applying A − 1 here (see runMiner)
  const own = new Map<string, Uint8Array>();
  let prev: Trained | null = null, lastApplied: Applied | null = null, bookkeeping: Promise<void> = Promise.resolve();
  for (let W = A + 1; ; W++) {
    const base = trainingBase(node.run, W);
    if (model.window !== base) throw new SyncError(`overlap: training window ${W} needs θ of window ${base}, the model is at ${model.window}`);
    const training = stop === undefined || W <= stop;
    const sw = new Stopwatch(), t0 = performance.now(), aggSw = new Stopwatch();
    trained.set(node.model.params); // θ of W − 1 ...
    // ... less this miner's own update of W − 1 (what it sent, decoded), its estimate of the aggregate of
    // W − 1 that θ has not applied yet: W's Δ then holds only W's steps, not W − 1's again (see trainingBase).
    if (prev?.work) applyAggregate(trained, [prev.work.update], node.model.layout.specs, node.run.codec, node.run.alpha);
    local.baseLess = prev?.work ? sha256Hex(prev.work.bytes) : null; // committed with W's state (audit.ts): a replay rebuilds this base
    let gathering = true;
    const advancing = advance(node, dir, model, { sw: aggSw, own }).finally(() => { gathering = false; });
    advancing.catch(() => {}); // awaited below; a failure must not go unhandled while W trains
    let work: Work | null = null, upload: Promise<UploadOutcome | 'none'> = Promise.resolve('none');
    if (training) {
      const before = prev;
      const ctx: MinerContext = { node, dir, local, W, sw };
      const beforeEncode = async (): Promise<void> => { if (before) await before.upload; };
      ctx.beforeEncode = beforeEncode;
      const honest = honestWork(node, local, planner, W, sw, beforeEncode, () => gathering);
      work = hooks?.produce ? await hooks.produce(ctx, honest) : await honest();
      if (prev) await prev.upload; // a scenario's produce may skip honest(): W − 1's error feedback still lands first
      if (work) upload = uploadWork(node, local, planner, W, work, sw, own, hooks, ctx, ' (overlapped)');
      upload.catch(() => {});
    }
    const applied = await advancing; // θ is now at W
    await bookkeeping; // W − 2's probe, local state and cross-check (run while W trained)
    if (!model.ready) return 'resync';
    const after: Applied = { window: W - 1, fingerprint: model.fingerprint, leader: applied.leader };
    if (prev) await finishOverlapped(node, prev, applied.uids, applied.leader, model.fingerprint, aggSw);
    else node.log(`window ${W - 1}: applied the aggregate of uids [${applied.uids.join(' ')}] (leader ${applied.leader ?? 'none'}) → ${model.fingerprint.slice(0, 12)}`);
    bookkeeping = afterApply(node, dir, model, local, W - 1, lastApplied);
    bookkeeping.catch(() => {}); // awaited by the next iteration; a failure must not go unhandled meanwhile
    lastApplied = after;
    if (!training) {
      await bookkeeping;
      return model.ready ? 'stopped' : 'resync';
    }
    prev = { W, sw, windowS: (performance.now() - t0) / 1000, work, upload };
    node.status.set('idle');
  }
}

/**
 * What follows the apply of window `w` with overlap, off the critical path (it runs while the next window
 * trains; the next iteration awaits it before its own): publish the probe of w, save the local state as it
 * is now (copied at once, written by libuv's threads), cross-check the window before against its leader's
 * record. Together these took 0.6–1.3 s per window that the miner otherwise did not train (bench/network.md).
 * A cross-check that fails invalidates θ, and the next iteration re-syncs.
 */
async function afterApply(node: Node, dir: Directory, model: SharedModel, local: MinerLocal, w: number, before: Applied | null): Promise<void> {
  const probe = publishProbe(node, w);
  const save = saveMinerLocalAsync(node, local, w).catch((e: unknown) => {
    // A full or failing disk must not stop the miner: the file (written atomically) still holds the last state saved.
    node.log(`window ${w}: cannot save local state (${(e as Error).message}); keeping it in memory and saving again after the next window`);
  });
  if (before) await checkRecord(node, dir, model, before);
  await save;
  await probe;
}

/** Uploads W's payload (the scenario's upload hook honoured); commits its error feedback once it landed. */
async function uploadWork(node: Node, local: MinerLocal, planner: StepPlanner, W: number, work: Work, sw: Stopwatch, own: Map<string, Uint8Array>,
  hooks: MinerHooks | undefined, ctx: MinerContext, note = ''): Promise<UploadOutcome> {
  const t0 = performance.now();
  const put = (): Promise<UploadOutcome> => uploadGradient(node, W, work.bytes);
  const outcome = await sw.time('upload', () => (hooks?.upload ? hooks.upload(ctx, work.bytes, put) : put()));
  planner.uploadMs = performance.now() - t0;
  if (outcome === 'uploaded' || outcome === 'already_uploaded') {
    if (work.efNext) { local.ef = work.efNext; local.efWindow = W; }
    hooks?.uploaded?.(W, work);
    if (work.reveal) revealIfPicked(node, W, work.reveal, work.bytes);
    sw.payloadBytes = work.bytes.length;
    own.set(sha256Hex(work.bytes), work.bytes);
    for (const k of [...own.keys()].slice(0, Math.max(0, own.size - 4))) own.delete(k);
  }
  node.log(`window ${W}: loss ${work.loss.toFixed(4)}, ${work.steps}/${node.run.innerSteps} steps, payload ${work.bytes.length} bytes ${outcome}${note}`);
  return outcome;
}

/** W's aggregate is applied: its margin, log line and timeline entry (see mineOverlapped). */
async function finishOverlapped(node: Node, t: Trained, uids: number[], leader: number | null, fingerprint: string, aggSw: Stopwatch): Promise<void> {
  const outcome = await t.upload;
  const margin = await marginOf(node, t.W, outcome);
  if (margin !== null) {
    if (margin < 0) node.log(`window ${t.W}: LATE: the anchor was included ${-margin} ms after the deadline`);
    else if (margin < 2000) node.log(`window ${t.W}: close to the deadline: anchored ${margin} ms before it`);
  }
  node.log(`window ${t.W}: applied the aggregate of uids [${uids.join(' ')}] (leader ${leader ?? 'none'}) → ${fingerprint.slice(0, 12)}`);
  node.status.note({ marginMs: margin, steps: t.work?.steps ?? 0 });
  const e = t.sw.entry(t.W, fingerprint), r = (x: number): number => Math.round(x * 1e4) / 1e4;
  const trainS = e.train_s, encodeS = e.encode_s;
  node.status.timeline({
    ...e, gather_s: r(aggSw.s.gather), apply_s: r(aggSw.s.apply), bytesDown: aggSw.bytesDown, window_s: r(t.windowS), idle_s: r(Math.max(0, t.windowS - trainS - encodeS)),
    overlapped: true, steps: t.work?.steps ?? 0, outcome, margin_ms: margin, aggregated: uids, leader,
  });
}

/** Deadline minus the timestamp of the block that included this miner's anchor of W (null: nothing anchored). */
async function marginOf(node: Node, W: number, outcome: UploadOutcome | 'none'): Promise<number | null> {
  if (outcome === 'none' || outcome === 'late') return null;
  const a = await windowAnchors(node, W);
  const late = a.late.get(node.uid);
  if (late !== undefined) return a.deadlineMs - late;
  const block = a.block.get(node.uid);
  if (block === undefined) return null;
  return a.deadlineMs - (await blockTimestamp(node, block));
}

/** Compares the previous window's result with its leader's record; a difference re-syncs θ. */
async function checkRecord(node: Node, dir: Directory, model: SharedModel, prev: Applied): Promise<void> {
  try {
    await crossCheck(node, dir, prev.window, prev.fingerprint, prev.leader);
  } catch (e) {
    if (!(e instanceof SyncError)) throw e;
    node.log(`SYNC MISMATCH: ${e.message} — re-syncing from the newest checkpoint`);
    node.status.metrics.syncMismatch();
    node.status.set('sync', { lastError: e.message });
    model.invalidate();
  }
}
