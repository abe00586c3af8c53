// `tessera bench convergence`: R replicas simulated in one process, same initial model, each on
// its own data assignment (sampler keyed by replica uid), the same tokens per replica for every
// method: AdamW data-parallel (grads averaged every step), DiLoCo (dense Δ, outer Nesterov), DeMo
// (DCT + top-k + sign every step) and SparseLoCo (EF + chunked top-k + 2-bit, outer SGD; one run
// measured in both index encodings, which decode to the identical update). 'solo' is the floor any
// collaboration must beat: one replica training alone on the same tokens per replica, sending nothing.
import type { Backend } from '../engine/backend.js';
import { createLlama, initParams, type ModelConfig } from '../model/index.js';
import { adamwInit, adamwUpdate, clipGradNorm, lrAt, nesterovInit, outerNesterov, ADAMW_DEFAULTS, type AdamWState, type ScheduleConfig } from '../optim/index.js';
import { muonInit, muonSpecs, muonUpdate, MUON_DEFAULTS, type MuonState } from '../optim/muon.js';
import type { ParamSpec } from '../model/params.js';
import { makeTrainable, computeGradients, trainStep, type Trainable } from '../train/step.js';
import { validationBatches, type Batch, type TrainData } from '../train/batches.js';
import { makeBatch, sampleWindows } from '../data/index.js';
import { evaluate } from '../train/evaluate.js';
import { CODEC_DEFAULTS, compress, decompress, aggregateByUid, applyAggregate, encodePayload, decodePayload, chunksOf, flatIndex, lowerMedian, type CodecConfig, type SparseUpdate, type TensorShape } from '../compress/index.js';
import { DEMO_DEFAULTS, DemoTransform, demoApply, demoCompress, type DemoConfig } from './demo.js';

export type Method = 'ddp' | 'solo' | 'diloco' | 'demo' | 'sparseloco';
export const METHODS: Method[] = ['ddp', 'solo', 'diloco', 'demo', 'sparseloco'];

export interface ConvergenceOptions {
  model: ModelConfig;
  data: TrainData;
  replicas: number;
  /** Inner steps per outer round (DiLoCo, SparseLoCo); DDP and DeMo sync every step. */
  H: number;
  rounds: number;
  batch: number;
  seq: number;
  seed: number;
  innerLr: number;
  warmup: number;
  clip: number;
  sparselocoAlpha: number;
  dilocoLr: number;
  dilocoMomentum: number;
  /** SparseLoCo outer momentum: 0 = plain SGD θ ← θ − α·agg (the protocol); > 0 = Nesterov with lr α on the sparse aggregate. */
  sparselocoMomentum: number;
  /**
   * SparseLoCo with communication behind compute (docs/protocol.md "Overlap"): 'none' trains round w from
   * θ_w; 'stale' from θ_{w−1} (the model before round w − 1's aggregate); 'eager' from θ_{w−1} less the
   * replica's own decoded update of w − 1 (its estimate of the aggregate it has not received yet);
   * 'rebase' trains as 'eager' and sends θ_w − θ_local (the update measured from the model it is applied to).
   */
  overlap: 'none' | 'stale' | 'eager' | 'rebase';
  /** Warm-up of H (DiLoCo, SparseLoCo): rounds of 1, 2, 4, … inner steps up to H, same total steps. */
  hWarmup: boolean;
  /** DES-LOC-style: every this many rounds the replicas average their AdamW moments (8 bytes per parameter each, counted); 0 = never. */
  momentSyncEvery: number;
  /** Inner optimizer of DiLoCo and SparseLoCo replicas: AdamW, or Muon on the hidden matrices (MuLoCo) with AdamW elsewhere. */
  innerOptimizer: 'adamw' | 'muon';
  /**
   * SparseLoCo ablations (issue 17): quant false = the kept values are sent exactly (top-k only, no 2-bit
   * table); clip false = no per-tensor median clip; mean 'replicas' = the aggregate divides each
   * coordinate's sum by R (the paper's (1/R)·Σ) instead of by the peers that sent it (Templar's
   * scatter-mean, the protocol). The defaults are the protocol, run through the real codec and aggregate.
   */
  sparseAblation: SparseAblation;
  demo: DemoConfig;
  codec: CodecConfig;
  evalBatches: number;
  /** Validation loss is measured every this many rounds (of H inner steps) and after the last. */
  evalEvery: number;
  methods: Method[];
  log: (s: string) => void;
}

export interface SparseAblation { quant: boolean; clip: boolean; mean: 'senders' | 'replicas' }
export const SPARSE_PROTOCOL: SparseAblation = { quant: true, clip: true, mean: 'senders' };
const isProtocol = (a: SparseAblation): boolean => a.quant && a.clip && a.mean === 'senders';

export interface CurvePoint { tokensPerReplica: number; bytesPerReplica: number; valLoss: number }

export interface MethodResult {
  method: string;
  finalValLoss: number;
  bytesPerReplica: number;
  /** Bits sent per parameter per communication round, per replica. */
  bitsPerParamPerRound: number;
  rounds: number;
  wallS: number;
  curve: CurvePoint[];
}

interface Sim {
  o: ConvergenceOptions;
  t: Trainable;
  init: Float32Array;
  val: Batch[];
  sched: ScheduleConfig;
  n: number;
  /** Outer rounds' inner steps (DiLoCo, SparseLoCo). */
  plan: number[];
  muonSpecs: ParamSpec[];
  adamwOnly: ParamSpec[];
}

function setup(be: Backend, o: ConvergenceOptions): Sim {
  const cfg = { ...o.model, vocabSize: o.data.vocabSize, maxSeqLen: Math.max(o.model.maxSeqLen, o.seq) };
  const model = createLlama(cfg);
  initParams(cfg, model.layout, model.params, o.seed);
  const t = makeTrainable(be, model, adamwInit(0), ADAMW_DEFAULTS, o.clip);
  const steps = o.rounds * o.H;
  const ms = o.innerOptimizer === 'muon' ? muonSpecs(model.layout.specs) : [];
  return {
    o, t, init: model.params.slice(), val: validationBatches(o.data, o.batch, o.seq, o.evalBatches),
    sched: { maxLr: o.innerLr, minLr: o.innerLr / 10, warmupSteps: o.warmup, totalSteps: steps }, n: model.layout.total,
    plan: roundPlan(o.rounds, o.H, o.hWarmup), muonSpecs: ms, adamwOnly: model.layout.specs.filter((p) => !ms.includes(p)),
  };
}

/** Replica `uid`'s batch at inner step `step`: the deterministic sampler keyed by (seed, uid, step). */
const batch = (s: Sim, uid: number, step: number): Batch =>
  makeBatch(s.o.data.train, sampleWindows(s.o.seed, uid, step, s.o.batch, s.o.data.train.length, s.o.seq), s.o.seq);
const valLoss = (s: Sim) => evaluate(s.t.be, s.t.model, s.val, s.o.batch, s.o.seq);

/** A replica's inner optimizer state: AdamW over everything, or AdamW beside Muon on the hidden matrices. */
interface Inner { adamw: AdamWState; muon: MuonState | null }
const innerInit = (s: Sim): Inner => ({ adamw: adamwInit(s.n), muon: s.o.innerOptimizer === 'muon' ? muonInit(s.n) : null });

/** `h` inner steps of replica `uid` starting from `theta`; leaves the result in model.params. */
function innerSteps(s: Sim, uid: number, opt: Inner, theta: Float32Array, firstStep: number, h: number): void {
  const { t } = s, m = t.model;
  m.params.set(theta);
  t.opt = opt.adamw;
  for (let i = 0; i < h; i++) {
    const b = batch(s, uid, firstStep + i), lr = lrAt(s.sched, firstStep + i);
    if (!opt.muon) { trainStep(t, b.inputs, b.targets, s.o.batch, s.o.seq, lr); continue; }
    computeGradients(t, b.inputs, b.targets, s.o.batch, s.o.seq);
    if (t.clip > 0) clipGradNorm(t.be, m.grads, t.clip);
    adamwUpdate(t.be, s.adamwOnly, m.params, m.grads, opt.adamw, t.adamw, lr);
    muonUpdate(s.muonSpecs, m.params, m.grads, opt.muon, MUON_DEFAULTS, lr);
  }
}

/** Inner steps per round: H every round, or (hWarmup) 1, 2, 4, … up to H; the same total steps either way. */
export function roundPlan(rounds: number, H: number, warmup: boolean): number[] {
  const total = rounds * H, out: number[] = [];
  for (let done = 0, h = warmup ? 1 : H; done < total; h = Math.min(H, 2 * h)) { const k = Math.min(h, total - done); out.push(k); done += k; }
  return out;
}

/** DES-LOC-style moment sync: every replica's AdamW m and v replaced by their mean; returns bytes sent per replica. */
function syncMoments(opts: Inner[]): number {
  const n = opts[0]!.adamw.m.length, R = opts.length;
  for (const key of ['m', 'v'] as const) {
    const mean = new Float32Array(n);
    for (const o of opts) { const a = o.adamw[key]; for (let i = 0; i < n; i++) mean[i] = mean[i]! + a[i]! / R; }
    for (const o of opts) o.adamw[key].set(mean);
  }
  return 8 * n;
}

/** AdamW on the gradient averaged over `R` replicas every step (R = 1: one replica alone, nothing sent). */
function runDdp(s: Sim, curve: CurvePoint[], R = s.o.replicas): number {
  const { o, t } = s;
  const m = t.model;
  m.params.set(s.init);
  const opt = adamwInit(s.n);
  const acc = new Float32Array(s.n);
  let bytes = 0;
  for (let step = 0; step < o.rounds * o.H; step++) {
    acc.fill(0);
    for (let r = 0; r < R; r++) {
      const b = batch(s, r, step);
      computeGradients(t, b.inputs, b.targets, o.batch, o.seq);
      for (let i = 0; i < s.n; i++) acc[i] = acc[i]! + m.grads[i]!;
    }
    for (let i = 0; i < s.n; i++) m.grads[i] = acc[i]! / R;
    if (o.clip > 0) clipGradNorm(t.be, m.grads, o.clip);
    adamwUpdate(t.be, m.layout.specs, m.params, m.grads, opt, t.adamw, lrAt(s.sched, step));
    if (R > 1) bytes += 4 * s.n; // each replica sends its dense fp32 gradient every step
    if ((step + 1) % o.H === 0 && due(s, (step + 1) / o.H, o.rounds)) record(s, curve, (step + 1) * o.batch * o.seq, bytes);
  }
  return bytes;
}

function runDiloco(s: Sim, curve: CurvePoint[]): number {
  const { o } = s, R = o.replicas;
  const theta = s.init.slice(), delta = new Float32Array(s.n);
  const opts = Array.from({ length: R }, () => innerInit(s));
  const nest = nesterovInit(s.n);
  let bytes = 0, step = 0;
  for (let w = 0; w < s.plan.length; w++) {
    const h = s.plan[w]!;
    delta.fill(0);
    for (let r = 0; r < R; r++) {
      innerSteps(s, r, opts[r]!, theta, step, h);
      const p = s.t.model.params;
      for (let i = 0; i < s.n; i++) delta[i] = delta[i]! + (theta[i]! - p[i]!) / R;
    }
    step += h;
    if (o.momentSyncEvery > 0 && (w + 1) % o.momentSyncEvery === 0) bytes += syncMoments(opts);
    outerNesterov(theta, delta, nest, o.dilocoLr, o.dilocoMomentum);
    bytes += 4 * s.n;
    s.t.model.params.set(theta);
    if (due(s, w + 1)) record(s, curve, step * o.batch * o.seq, bytes);
  }
  return bytes;
}

function runDemo(s: Sim, curve: CurvePoint[]): number {
  const { o, t } = s, R = o.replicas, cfg = o.demo;
  const m = t.model;
  m.params.set(s.init);
  const tr = new DemoTransform(t.be, s.n, cfg.tile);
  const reps = Array.from({ length: R }, () => ({ m: new Float32Array(tr.padded) }));
  const g = new Float32Array(tr.padded), coef = new Float32Array(tr.padded), scratch = new Float32Array(tr.padded);
  const sum = new Float32Array(tr.padded), dense = new Float32Array(tr.padded);
  const sel = new Int32Array(tr.tiles * cfg.topk);
  let bytes = 0;
  for (let step = 0; step < o.rounds * o.H; step++) {
    sum.fill(0);
    let kept = 0;
    for (let r = 0; r < R; r++) {
      const b = batch(s, r, step);
      computeGradients(t, b.inputs, b.targets, o.batch, o.seq);
      g.set(m.grads);
      kept = demoCompress(tr, cfg, reps[r]!, g, coef, sel, sum, scratch);
    }
    demoApply(tr, { ...cfg, lr: cfg.lr * lrAt(s.sched, step) / o.innerLr }, m.params, sum, dense);
    bytes += Math.ceil((kept * (32 + 12)) / 8); // fp32 value + 12-bit in-tile index per kept coefficient
    if ((step + 1) % o.H === 0 && due(s, (step + 1) / o.H, o.rounds)) record(s, curve, (step + 1) * o.batch * o.seq, bytes);
  }
  return bytes;
}

function runSparseLoco(s: Sim, curve: CurvePoint[], entropyCurve: CurvePoint[]): [number, number] {
  const { o } = s, R = o.replicas, specs = s.t.model.layout.specs;
  const shapes = specs.map((p) => p.shape);
  const theta = s.init.slice(), delta = new Float32Array(s.n), agg = new Float32Array(s.n);
  const prevTheta = s.init.slice(), base = new Float32Array(s.n);
  const own: (SparseUpdate | null)[] = Array.from({ length: R }, () => null);
  const opts = Array.from({ length: R }, () => innerInit(s));
  const nest = nesterovInit(s.n);
  const efs = Array.from({ length: R }, () => new Float32Array(s.n));
  const modelHash = '00'.repeat(32);
  const ablate = !isProtocol(o.sparseAblation);
  if (ablate && o.overlap !== 'none') throw new Error('SparseLoCo ablations run without overlap');
  const sent: { dense: Float32Array; mask: Uint8Array }[] = [];
  let bytes12 = 0, bytesEntropy = 0, step = 0;
  for (let w = 0; w < s.plan.length; w++) {
    const peers: { uid: number; update: SparseUpdate }[] = [];
    const h = s.plan[w]!;
    for (let r = 0; r < R; r++) {
      base.set(o.overlap === 'none' ? theta : prevTheta);
      if ((o.overlap === 'eager' || o.overlap === 'rebase') && own[r]) applyAggregate(base, [own[r]!], specs, o.codec, o.sparselocoAlpha);
      innerSteps(s, r, opts[r]!, base, step, h);
      const p = s.t.model.params;
      const from = o.overlap === 'rebase' ? theta : base;
      for (let i = 0; i < s.n; i++) delta[i] = from[i]! - p[i]!;
      const ef0 = ablate && !o.sparseAblation.quant ? efs[r]!.slice() : null;
      const update = compress(delta, efs[r]!, specs, o.codec);
      if (ablate) sent[r] = ablationValues(update, delta, ef0, efs[r]!, specs, o.codec, s.n);
      const wire12 = encodePayload({ update, modelHash, window: w, uid: r, indexMode: '12bit', shapes, cfg: o.codec });
      const wireE = encodePayload({ update, modelHash, window: w, uid: r, indexMode: 'entropy', shapes, cfg: o.codec });
      // Peers aggregate what they decode from the wire (entropy mode), which must equal 12-bit mode.
      const d12 = decodePayload(wire12, { shapes, cfg: o.codec }), dE = decodePayload(wireE, { shapes, cfg: o.codec });
      if (!d12.ok || !dE.ok) throw new Error(`payload did not decode: ${!d12.ok ? d12.reason : ''} ${!dE.ok ? dE.reason : ''}`);
      if (!sameUpdate(d12.payload.update, dE.payload.update)) throw new Error('entropy mode decoded to a different update than 12-bit mode');
      peers.push({ uid: r, update: dE.payload.update });
      own[r] = dE.payload.update;
      // Exact values instead of the 2-bit table: 30 more bits per kept value (fp32 instead of a 2-bit code).
      const extra = ablate && !o.sparseAblation.quant ? Math.ceil((update.tensors.reduce((a, t) => a + t.idx.length, 0) * 30) / 8) : 0;
      if (r === 0) { bytes12 += wire12.length + extra; bytesEntropy += wireE.length + extra; }
    }
    step += h;
    if (o.momentSyncEvery > 0 && (w + 1) % o.momentSyncEvery === 0) { const b = syncMoments(opts); bytes12 += b; bytesEntropy += b; }
    if (ablate) ablationAggregate(sent, specs, o.sparseAblation, agg);
    else aggregateByUid(peers, specs, o.codec, s.n, agg);
    prevTheta.set(theta);
    if (o.sparselocoMomentum > 0) outerNesterov(theta, agg, nest, o.sparselocoAlpha, o.sparselocoMomentum);
    else for (let i = 0; i < s.n; i++) theta[i] = theta[i]! - o.sparselocoAlpha * agg[i]!;
    s.t.model.params.set(theta);
    if (!due(s, w + 1)) continue;
    const tokens = step * o.batch * o.seq;
    const v = record(s, curve, tokens, bytes12);
    entropyCurve.push({ tokensPerReplica: tokens, bytesPerReplica: bytesEntropy, valLoss: v });
  }
  return [bytes12, bytesEntropy];
}

/**
 * One replica's sent values as a dense vector and a mask of the kept positions. With quantization: the
 * decoded update (what the protocol sends). Without: the exact a = fl32(β·ef₀) + Δ at the kept positions
 * (the same top-k, which compress selected on a), and ef is reset to a with the kept positions zeroed.
 */
export function ablationValues(update: SparseUpdate, delta: Float32Array, ef0: Float32Array | null, ef: Float32Array,
  specs: readonly ParamSpec[], cfg: CodecConfig, n: number): { dense: Float32Array; mask: Uint8Array } {
  const dense = new Float32Array(n), mask = new Uint8Array(n);
  if (ef0) {
    const b = Math.fround(cfg.beta);
    for (const p of specs) for (let i = p.offset, e = p.offset + p.size; i < e; i++) ef[i] = Math.fround(b * ef0[i]!) + delta[i]!;
  } else decompress(update, specs, cfg, dense);
  specs.forEach((p, t) => {
    const st = update.tensors[t]!;
    let j = 0;
    for (const ch of chunksOf(p.shape as TensorShape, cfg)) {
      for (let q = 0; q < ch.k; q++, j++) {
        const i = p.offset + flatIndex(ch, st.idx[j]!);
        mask[i] = 1;
        if (ef0) { dense[i] = ef[i]!; ef[i] = 0; }
      }
    }
  });
  return { dense, mask };
}

/** The ablation aggregate: optional per-tensor clip to the lower median peer norm, then sum ÷ senders or ÷ R per coordinate. */
export function ablationAggregate(sent: readonly { dense: Float32Array; mask: Uint8Array }[], specs: readonly ParamSpec[],
  a: SparseAblation, out: Float32Array): void {
  out.fill(0);
  const R = sent.length;
  for (const p of specs) {
    const end = p.offset + p.size;
    const norms = sent.map(({ dense }) => { let q = 0; for (let i = p.offset; i < end; i++) q += dense[i]! * dense[i]!; return Math.sqrt(q); });
    const med = lowerMedian(norms);
    const scale = norms.map((x) => (!a.clip ? 1 : x > 0 ? Math.min(1, med / x) : 0));
    for (let i = p.offset; i < end; i++) {
      let sum = 0, cnt = 0;
      for (let r = 0; r < R; r++) if (sent[r]!.mask[i]) { sum += sent[r]!.dense[i]! * scale[r]!; cnt++; }
      out[i] = cnt === 0 ? 0 : sum / (a.mean === 'senders' ? cnt : R);
    }
  }
}

function sameUpdate(a: SparseUpdate, b: SparseUpdate): boolean {
  return a.tensors.length === b.tensors.length && a.tensors.every((t, i) => {
    const u = b.tensors[i]!;
    return Buffer.compare(Buffer.from(t.idx.buffer, t.idx.byteOffset, t.idx.byteLength), Buffer.from(u.idx.buffer, u.idx.byteOffset, u.idx.byteLength)) === 0 &&
      Buffer.compare(Buffer.from(t.codes), Buffer.from(u.codes)) === 0 && t.table.every((x, j) => Object.is(x, u.table[j]));
  });
}

/** Whether validation loss is measured after round `round` (1-based) of `last`. */
const due = (s: Sim, round: number, last = s.plan.length): boolean => round % s.o.evalEvery === 0 || round === last;

function record(s: Sim, curve: CurvePoint[], tokens: number, bytes: number): number {
  const v = valLoss(s);
  curve.push({ tokensPerReplica: tokens, bytesPerReplica: bytes, valLoss: v });
  s.o.log(`  ${(tokens / 1e6).toFixed(3)}M tokens/replica | ${(bytes / 1e6).toFixed(2)} MB sent/replica | val loss ${v.toFixed(4)}`);
  return v;
}

/** Runs every method in turn; onProgress sees the results so far after each method (for partial reports). */
export function runConvergence(be: Backend, o: ConvergenceOptions, onProgress?: (r: MethodResult[]) => void): MethodResult[] {
  const s = setup(be, o);
  const results: MethodResult[] = [];
  const syncRounds = o.rounds * o.H;
  for (const method of o.methods) {
    o.log(`${method}: ${o.replicas} replicas × ${o.rounds * o.H} steps × ${o.batch}×${o.seq} tokens`);
    const t0 = performance.now();
    const curve: CurvePoint[] = [];
    const done = (name: string, c: CurvePoint[], bytes: number, rounds: number) => results.push({
      method: name, finalValLoss: c[c.length - 1]!.valLoss, bytesPerReplica: bytes, bitsPerParamPerRound: rounds ? (8 * bytes) / rounds / s.n : 0,
      rounds, wallS: (performance.now() - t0) / 1000, curve: c,
    });
    if (method === 'ddp') done('AdamW DDP', curve, runDdp(s, curve), syncRounds);
    else if (method === 'solo') done('solo (1 replica)', curve, runDdp(s, curve, 1), 0);
    else if (method === 'diloco') done('DiLoCo', curve, runDiloco(s, curve), s.plan.length);
    else if (method === 'demo') done('DeMo', curve, runDemo(s, curve), syncRounds);
    else {
      const ec: CurvePoint[] = [];
      const [b12, bE] = runSparseLoco(s, curve, ec);
      done('SparseLoCo 12-bit', curve, b12, s.plan.length);
      done('SparseLoCo entropy', ec, bE, s.plan.length);
    }
    onProgress?.(results);
  }
  return results;
}

export const CONVERGENCE_DEFAULTS = {
  replicas: 4, H: 5, rounds: 102, batch: 8, seq: 256, seed: 1, innerLr: 2e-3, warmup: 50, clip: 1.0,
  sparselocoAlpha: 1.0, dilocoLr: 0.7, dilocoMomentum: 0.9, sparselocoMomentum: 0, overlap: 'none' as 'none' | 'stale' | 'eager' | 'rebase', hWarmup: false, momentSyncEvery: 0, innerOptimizer: 'adamw' as 'adamw' | 'muon', sparseAblation: SPARSE_PROTOCOL, demo: DEMO_DEFAULTS, codec: CODEC_DEFAULTS, evalBatches: 8, evalEvery: 1,
};
