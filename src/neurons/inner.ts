// The miner's own work per window (docs/protocol.md "SparseLoCo"): up to H inner AdamW steps on its assigned
// data from θ, the pseudo-gradient Δ = θ − θ_local, and its compression with the persistent
// error-feedback buffer into a signed payload. Local state (EF + inner AdamW) survives restarts; its file
// carries a sha256 of the tensors, so a damaged one is detected and replaced by fresh state (with a message).
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { compress, encodePayload, type SparseUpdate } from '../compress/index.js';
import { makeBatch } from '../data/index.js';
import { ADAMW_DEFAULTS, adamwInit, type AdamWState } from '../optim/index.js';
import { signPayload, trainingOffsets } from '../protocol/index.js';
import { makeTrainable, trainStep, type Trainable } from '../train/step.js';
import { sharedFloat32, StepWorker } from '../train/step-worker.js';
import { readSafetensors, writeSafetensors, writeSafetensorsAsync } from '../util/safetensors.js';
import { failpoint } from '../util/failpoint.js';
import type { Llama } from '../model/index.js';
import type { Node } from './node.js';
import { INNER_CLIP, innerLr, paramsDigest, stateCommitment, type PreState, type Reveal } from './audit.js';

export const MINER_STATE_FILE = 'miner-state.safetensors';

export interface MinerLocal {
  /** Error feedback: what compression has not sent yet. */
  ef: Float32Array;
  opt: AdamWState;
  trainable: Trainable;
  /** Runs the inner steps on a worker thread (an overlapped miner: loadMinerLocal's `worker`); absent: on this thread. */
  stepper?: StepWorker;
  /** Last window whose state was saved (−1: fresh). */
  savedWindow: number;
  /**
   * Last window whose upload's residual is in `ef` (−1: none; null: unknown, a state file from before
   * this was recorded). An upload anchored after it and not committed (a crash in between) is
   * reconciled at the start (reconcileErrorFeedback).
   */
  efWindow: number | null;
  /** Overlap: sha256 of the own payload of W − 1 that the next training base is θ of W − 1 less (null: none); part of the state commitment. */
  baseLess?: string | null;
}

/**
 * Loads EF and the inner optimizer from dataDir when they belong to this run; fresh zeros otherwise.
 * `model`: the parameters the inner loop trains (node.model, or with overlap a second copy that holds
 * the training base while θ advances).
 */
export function loadMinerLocal(node: Node, model: Llama = node.model, o: { worker?: boolean } = {}): MinerLocal {
  const n = node.model.layout.total, path = join(node.cfg.dataDir, MINER_STATE_FILE);
  // With a worker the moments are shared with it (the model's params must be too: sharedFloat32).
  const opt = o.worker ? { m: sharedFloat32(n), v: sharedFloat32(n), step: 0 } : adamwInit(n);
  const local: MinerLocal = { ef: new Float32Array(n), opt, trainable: null as unknown as Trainable, savedWindow: -1, efWindow: -1 };
  if (existsSync(path)) {
    try {
      const st = readSafetensors(path);
      const meta = JSON.parse(st.metadata.tessera ?? '{}') as { runHash?: string; step?: number; window?: number; efWindow?: number; sha256?: string };
      const [ef, m, v] = ['ef', 'adamw.m', 'adamw.v'].map((k) => st.tensors[k]?.data);
      const damaged = meta.sha256 !== undefined && ef instanceof Float32Array && m instanceof Float32Array && v instanceof Float32Array && localStateSha256(ef, m, v) !== meta.sha256;
      if (damaged) node.log(`LOCAL STATE DAMAGED: ${path} does not match its checksum (a disk or copy error?); starting with fresh error feedback and inner optimizer (the shared model is unaffected)`);
      else if (meta.runHash === node.runHash && ef instanceof Float32Array && m instanceof Float32Array && v instanceof Float32Array && ef.length === n && m.length === n && v.length === n) {
        local.ef.set(ef); local.opt.m.set(m); local.opt.v.set(v);
        local.opt.step = meta.step ?? 0;
        local.savedWindow = meta.window ?? -1;
        local.efWindow = typeof meta.efWindow === 'number' ? meta.efWindow : null;
        node.log(`restored error feedback and inner optimizer (step ${local.opt.step}) saved after window ${local.savedWindow}`);
      } else node.log(`${path} belongs to another run or model; starting with fresh local state`);
    } catch (e) {
      node.log(`cannot read ${path} (${(e as Error).message}); starting with fresh local state`);
    }
  }
  local.trainable = makeTrainable(node.be, model, local.opt, { ...ADAMW_DEFAULTS }, INNER_CLIP);
  if (o.worker) local.stepper = new StepWorker(model.config, model.params, local.opt, local.trainable.adamw, INNER_CLIP);
  return local;
}

/** sha256 over the local state's tensors (ef, adamw.m, adamw.v), stored in the file's metadata. */
export function localStateSha256(ef: Float32Array, m: Float32Array, v: Float32Array): string {
  const h = createHash('sha256');
  for (const a of [ef, m, v]) h.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  return h.digest('hex');
}

function minerLocalFile(node: Node, local: MinerLocal, window: number): Parameters<typeof writeSafetensors> {
  const n = local.ef.length;
  return [join(node.cfg.dataDir, MINER_STATE_FILE), {
    ef: { dtype: 'F32', shape: [n], data: local.ef },
    'adamw.m': { dtype: 'F32', shape: [n], data: local.opt.m },
    'adamw.v': { dtype: 'F32', shape: [n], data: local.opt.v },
  }, { tessera: JSON.stringify({ runHash: node.runHash, step: local.opt.step, window, efWindow: local.efWindow, uid: node.uid, sha256: localStateSha256(local.ef, local.opt.m, local.opt.v) }) }];
}

export function saveMinerLocal(node: Node, local: MinerLocal, window: number): void {
  writeSafetensors(...minerLocalFile(node, local, window));
  local.savedWindow = window;
}

/** saveMinerLocal with the disk work off the event loop; the state is copied before it returns a promise (so training may go on). */
export async function saveMinerLocalAsync(node: Node, local: MinerLocal, window: number): Promise<void> {
  await writeSafetensorsAsync(...minerLocalFile(node, local, window));
  local.savedWindow = window;
}

/** Decides before each inner step whether another one fits (steps done so far, mean ms per step). */
export type StepBudget = (done: number, msPerStep: number | null) => boolean;

/**
 * Up to H inner steps from the trained model's parameters (θ, or the overlap base) on the assignment of
 * (seed, uid, W) (or on `batches`: an adversarial miner's choice), in assignment order, while `budget`
 * allows (at least one); returns Δ = start − θ_local, the steps trained and restores the parameters
 * exactly (nothing else may touch them while this runs — it yields between steps). Linear warmup over
 * run.warmup inner steps. delta is null when training diverged (nothing to send this window).
 */
export async function trainWindow(node: Node, local: MinerLocal, window: number,
  batches: number[][] = trainingOffsets(node.run, node.uid, window, node.data.train.length), budget: StepBudget = () => true,
): Promise<{ delta: Float32Array | null; loss: number; steps: number; msPerStep: number | null; pre: PreState }> {
  const { run } = node, params = local.trainable.model.params;
  const remote = node.data.remote;
  if (remote) {
    // A published dataset: fetch and verify this window's sequences first (nothing unverified is trained
    // on: ensureSequences throws when no mirror serves a verified chunk), then the next window's meanwhile.
    await remote.ensureSequences(batches.flat(), run.seq);
    remote.prefetch(trainingOffsets(run, node.uid, window + 1, node.data.train.length).flat(), run.seq, `window ${window + 1}`);
  }
  const theta = Float32Array.from(params);
  // What a replay audit re-runs this window from (audit.ts): the moments and step before the first inner step, and the base.
  const pre: PreState = { step: local.opt.step, m: Float32Array.from(local.opt.m), v: Float32Array.from(local.opt.v), base: paramsDigest(theta), baseLess: local.baseLess ?? null };
  let loss = NaN, steps = 0, spent = 0;
  for (const offsets of batches) {
    if (steps > 0 && !budget(steps, spent / steps)) break;
    const t = performance.now();
    const b = makeBatch(node.data.train, offsets, run.seq);
    const lr = innerLr(run, local.opt.step);
    if (local.stepper) {
      // On the worker thread: this thread serves I/O (the overlapped gather) while the step runs.
      const r = await local.stepper.step(b.inputs, b.targets, run.batch, run.seq, lr, local.opt.step);
      loss = r.loss;
      local.opt.step = r.step;
    } else loss = trainStep(local.trainable, b.inputs, b.targets, run.batch, run.seq, lr).loss;
    spent += performance.now() - t;
    steps++;
    if (steps === 1) failpoint('miner.train');
    if (!local.stepper) await new Promise<void>((resolve) => setImmediate(resolve)); // let other work (I/O, other nodes of a devnet process) run between steps
  }
  const msPerStep = steps > 0 ? spent / steps : null;
  const delta = new Float32Array(params.length);
  let finite = Number.isFinite(loss);
  for (let i = 0; i < params.length; i++) { delta[i] = theta[i]! - params[i]!; if (!Number.isFinite(delta[i]!)) finite = false; }
  params.set(theta);
  if (finite) return { delta, loss, steps, msPerStep, pre };
  // Diverged inner steps: the moments are poisoned too. Restart the inner optimizer; send nothing.
  node.log(`window ${window}: inner training diverged (loss ${loss}); resetting the inner optimizer and skipping this window`);
  local.opt.m.fill(0); local.opt.v.fill(0); local.opt.step = 0;
  return { delta: null, loss, steps, msPerStep, pre };
}

/**
 * Compresses Δ with error feedback (into a copy: committed only once the upload lands), encodes with the
 * state commitment of `pre` and the error feedback it compressed with (audit.ts), signs. `reveal` is what
 * the miner shows if a replay audit picks the upload (local.ef is replaced, never changed in place, on commit).
 */
export async function makePayload(node: Node, local: MinerLocal, delta: Float32Array, window: number, steps: number, pre: PreState):
  Promise<{ bytes: Uint8Array; efNext: Float32Array; update: SparseUpdate; reveal: Reveal }> {
  const efNext = Float32Array.from(local.ef);
  const update = compress(delta, efNext, node.model.layout.specs, node.run.codec);
  const reveal: Reveal = { ...pre, ef: local.ef, window, uid: node.uid };
  return { bytes: await encodeSigned(node, update, window, steps, stateCommitment(reveal)), efNext, update, reveal };
}

/** The signed payload of `update` for (window, this uid), stating the inner steps trained (and the state commitment, when given). */
export async function encodeSigned(node: Node, update: SparseUpdate, window: number, steps: number, stateCommitment?: string): Promise<Uint8Array> {
  const bytes = encodePayload({
    update, modelHash: node.runHash, window, uid: node.uid, indexMode: node.run.indexMode,
    shapes: node.model.layout.specs.map((s) => s.shape), cfg: node.run.codec, steps, ...(stateCommitment ? { stateCommitment } : {}),
  });
  return signPayload(bytes, node.signer);
}
