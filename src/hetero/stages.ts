// A pipeline replica: S stages holding contiguous layer ranges of one model. Stage 0 also holds the
// token embedding, the last stage the final norm and output projection. Every stage keeps the whole
// flat parameter vector (it applies every window's aggregate like any node, so fingerprints agree)
// but computes, trains and encodes only its own tensors.
//
// One inner step of a stage: for each micro-batch a forward on its own Graph, the boundary payloads,
// the backward; then the constrained gradients projected onto span(U), the global gradient norm
// (summed over stages) for clipping, AdamW on the stage's tensors, and the constrained parameters
// projected back (docs/hetero.md "Inner step").
import type { Backend, I32 } from '../engine/backend.js';
import { Graph, crossEntropy, embedding, scale } from '../engine/autograd.js';
import { Tensor } from '../engine/tensor.js';
import { block, head, type Llama } from '../model/llama.js';
import type { ParamSpec } from '../model/params.js';
import { adamwUpdate, type AdamWConfig, type AdamWState } from '../optim/index.js';
import { TesseraError } from '../util/errors.js';
import type { ActivationCodec } from './activations.js';
import { SubspaceCodec } from './activations.js';
import { fixedTable, projectColumnsGemm, projectRowsGemm, type Basis } from './subspace.js';

/** Contiguous layer ranges [from, to) of S stages; earlier stages take the extra layers. */
export function splitLayers(nLayers: number, S: number): [number, number][] {
  if (!Number.isInteger(S) || S < 2) throw new TesseraError(`pipeline: a group needs at least 2 stages (got ${S})`);
  if (S > nLayers) throw new TesseraError(`pipeline: ${S} stages but the model has only ${nLayers} layers`, 'use fewer --stages or a deeper preset');
  const base = Math.floor(nLayers / S), extra = nLayers % S;
  const out: [number, number][] = [];
  let from = 0;
  for (let s = 0; s < S; s++) {
    const n = base + (s < extra ? 1 : 0);
    out.push([from, from + n]);
    from += n;
  }
  return out;
}

const layerOf = (name: string): number => {
  const m = /^layers\.(\d+)\./.exec(name);
  return m ? Number(m[1]) : -1;
};

/** The parameter specs stage s holds (layout order). */
export function stageSpecs(specs: readonly ParamSpec[], ranges: readonly [number, number][], s: number): ParamSpec[] {
  const S = ranges.length, [from, to] = ranges[s]!;
  return specs.filter((p) => {
    if (p.name === 'tok_embeddings.weight') return s === 0;
    if (p.name === 'norm.weight' || p.name === 'output.weight') return s === S - 1;
    const l = layerOf(p.name);
    return l >= from && l < to;
  });
}

/** Which stage holds each spec (index aligned with `specs`). */
export function ownerOfSpecs(specs: readonly ParamSpec[], ranges: readonly [number, number][]): number[] {
  const owner = specs.map(() => -1);
  for (let s = 0; s < ranges.length; s++) {
    const mine = new Set(stageSpecs(specs, ranges, s).map((p) => p.name));
    specs.forEach((p, i) => { if (mine.has(p.name)) owner[i] = s; });
  }
  return owner;
}

/** Out-projections whose output reaches a stage boundary: wo and w2 of every layer before the last stage. */
export function constrainedOutProjections(specs: readonly ParamSpec[], ranges: readonly [number, number][]): ParamSpec[] {
  const lastFrom = ranges[ranges.length - 1]![0];
  return specs.filter((p) => /attention\.wo\.weight$|feed_forward\.w2\.weight$/.test(p.name) && layerOf(p.name) < lastFrom);
}

export interface StageOptions {
  be: Backend;
  model: Llama;
  s: number;
  ranges: [number, number][];
  codec: ActivationCodec;
  /** Micro-batches per inner step (the batch is split along sequences). */
  micro: number;
  adamw: AdamWConfig;
  clip: number;
}

/** One stage's state: its specs, the constrained ones, its optimizer, the window's fixed table. */
export class Stage {
  readonly be: Backend;
  readonly model: Llama;
  readonly s: number;
  readonly S: number;
  readonly ranges: [number, number][];
  readonly codec: ActivationCodec;
  readonly micro: number;
  readonly specs: ParamSpec[];
  readonly adamw: AdamWConfig;
  readonly clip: number;
  opt: AdamWState;
  private readonly constrained: ParamSpec[];
  private readonly basis: Basis | null;
  private graphs: Graph[] = [];
  private inputs: (Tensor | null)[] = [];
  private outs: Tensor[] = [];
  /** Busy time (ms) spent computing in this stage since the last resetBusy(). */
  busyMs = 0;

  constructor(o: StageOptions, opt: AdamWState) {
    this.be = o.be; this.model = o.model; this.s = o.s; this.ranges = o.ranges; this.codec = o.codec; this.micro = o.micro;
    this.adamw = o.adamw; this.clip = o.clip; this.opt = opt;
    this.S = o.ranges.length;
    if (o.model.config.tiedEmbeddings) throw new TesseraError('pipeline: tied embeddings are not supported (stage 0 and the last stage would share a tensor)');
    this.specs = stageSpecs(o.model.layout.specs, o.ranges, o.s);
    this.basis = o.codec instanceof SubspaceCodec ? o.codec.basis : null;
    this.constrained = this.basis ? constrainedOutProjections(this.specs, o.ranges) : [];
    for (let i = 0; i < o.micro; i++) this.graphs.push(new Graph(o.be, true));
  }

  get isFirst(): boolean { return this.s === 0; }
  get isLast(): boolean { return this.s === this.S - 1; }

  /**
   * Window start (after the global sync put the global model in model.params): with the subspace
   * codec, derive the window's fixed table F = tok·(I − P) and project this stage's constrained
   * out-projections onto span(U). Every stage computes the same F from the same global embedding.
   */
  beginWindow(): void {
    if (!this.basis) return;
    const m = this.model, V = m.config.vocabSize;
    const F = fixedTable(this.basis, m.tok.data, V);
    (this.codec as SubspaceCodec).setFixed(F);
    this.project();
  }

  /** Projects this stage's constrained parameters (and, on stage 0, the embedding) into span(U). */
  project(): void {
    if (!this.basis) return;
    for (const p of this.constrained) projectColumnsGemm(this.be, this.basis, this.view(this.model.params, p), p.shape[1]!);
    if (this.isFirst) {
      // tok ← F + (tok − F)·P
      const tok = this.model.tok.data, F = this.fixed();
      for (let i = 0; i < tok.length; i++) tok[i] = tok[i]! - F[i]!;
      projectRowsGemm(this.be, this.basis, tok, this.model.config.vocabSize);
      for (let i = 0; i < tok.length; i++) tok[i] = tok[i]! + F[i]!;
    }
  }

  private fixed(): Float32Array {
    return (this.codec as SubspaceCodec).fixed();
  }

  private view(flat: Float32Array, p: ParamSpec): Float32Array {
    return flat.subarray(p.offset, p.offset + p.size);
  }

  /** Zeroes this stage's gradients (call before the first micro-batch of an inner step). */
  zeroGrads(): void {
    for (const p of this.specs) this.view(this.model.grads, p).fill(0);
  }

  /**
   * Forward of micro-batch i. First stage: from token ids; others: from the decoded payload.
   * Returns the payload to send forward (non-last stages) or the micro-batch's loss (last stage,
   * already backpropagated: the last stage runs its backward right away).
   */
  forward(i: number, ids: I32, targets: I32, B: number, T: number, payload: Uint8Array | null): { send: Uint8Array | null; loss: number } {
    const t0 = performance.now();
    const g = this.graphs[i]!, m = this.model, n = B * T, d = m.config.dim;
    let h: Tensor;
    if (this.isFirst) {
      h = embedding(g, m.tok, ids);
      this.inputs[i] = null;
    } else {
      if (!payload) throw new Error(`stage ${this.s}: micro-batch ${i} needs the previous stage's payload`);
      const x = new Tensor(new Float32Array(n * d), [n, d], true);
      const wireIds = this.codec.decodeForward(payload, n, x.data);
      if (wireIds) for (let r = 0; r < n; r++) if (wireIds[r] !== ids[r]) throw new TesseraError(`stage ${this.s}: micro-batch ${i} carries other token ids than this stage's batch`, 'the group\'s stages disagree on the data: check they run the same window and uid');
      h = x;
      this.inputs[i] = x;
    }
    const [from, to] = this.ranges[this.s]!;
    for (let l = from; l < to; l++) h = block(g, m, m.layers[l]!, h, B, T);
    let out: { send: Uint8Array | null; loss: number };
    if (this.isLast) {
      const loss = crossEntropy(g, head(g, m, h), targets, true);
      const value = loss.data[0]!;
      g.backward(scale(g, loss, 1 / this.micro));
      out = { send: this.takeInputGrad(i, n), loss: value };
    } else {
      this.outs[i] = h;
      out = { send: this.codec.encodeForward(h.data, ids, n), loss: NaN };
    }
    this.busyMs += performance.now() - t0;
    return out;
  }

  /** Backward of micro-batch i from the next stage's gradient payload; returns the payload to send back (null on stage 0). */
  backward(i: number, B: number, T: number, payload: Uint8Array): Uint8Array | null {
    const t0 = performance.now();
    const g = this.graphs[i]!, n = B * T, d = this.model.config.dim;
    const dx = g.pool.take(n * d);
    this.codec.decodeBackward(payload, n, dx);
    g.backwardFrom(this.outs[i]!, dx);
    const send = this.takeInputGrad(i, n);
    this.busyMs += performance.now() - t0;
    return send;
  }

  private takeInputGrad(i: number, n: number): Uint8Array | null {
    const g = this.graphs[i]!;
    if (this.isFirst) { g.reset(); return null; }
    const x = this.inputs[i]!;
    const grad = x.grad ?? new Float32Array(x.size);
    const send = this.codec.encodeBackward(grad, n);
    g.reset();
    this.inputs[i] = null;
    return send;
  }

  /** After the last micro-batch: projects constrained gradients and returns Σ grad² over this stage's tensors. */
  gradSumSquares(): number {
    const t0 = performance.now();
    if (this.basis) {
      for (const p of this.constrained) projectColumnsGemm(this.be, this.basis, this.view(this.model.grads, p), p.shape[1]!);
      // gradient of embedding rows constrained to F + span(U): g·P
      if (this.isFirst) projectRowsGemm(this.be, this.basis, this.model.tok.grad!, this.model.config.vocabSize);
    }
    let s = 0;
    for (const p of this.specs) s += this.be.sumSquares(this.view(this.model.grads, p), p.size);
    this.busyMs += performance.now() - t0;
    return s;
  }

  /** Clip by the global norm (√ of every stage's Σ grad²), AdamW on this stage's tensors, project back. */
  update(globalSumSquares: number, lr: number): number {
    const t0 = performance.now();
    const norm = Math.sqrt(globalSumSquares);
    if (this.clip > 0) {
      const coef = this.clip / (norm + 1e-6);
      if (coef < 1) for (const p of this.specs) { const v = this.view(this.model.grads, p); this.be.scale(v, coef, v, p.size); }
    }
    adamwUpdate(this.be, this.specs, this.model.params, this.model.grads, this.opt, this.adamw, lr);
    this.project();
    this.busyMs += performance.now() - t0;
    return norm;
  }
}

/** Micro-batch i of a batch [B×T] split along sequences into `micro` equal parts. */
export function microBatch(a: I32, B: number, T: number, micro: number, i: number): I32 {
  if (B % micro !== 0) throw new TesseraError(`pipeline: batch ${B} does not split into ${micro} micro-batches`, 'pick --micro dividing --batch');
  const b = B / micro;
  return a.subarray(i * b * T, (i + 1) * b * T);
}

/**
 * One inner step of a whole group in this process (the stages run in turn, payloads handed over in
 * memory): the same arithmetic the socket pipeline performs, used by the bench and tests. Returns the
 * mean loss and the bytes that crossed boundaries.
 */
export function groupGradients(stages: Stage[], ids: I32, targets: I32, B: number, T: number): { loss: number; bytes: number; sumSquares: number } {
  const M = stages[0]!.micro, b = B / M;
  let loss = 0, bytes = 0;
  for (const st of stages) st.zeroGrads();
  for (let i = 0; i < M; i++) {
    const mi = microBatch(ids, B, T, M, i), mt = microBatch(targets, B, T, M, i);
    let payload: Uint8Array | null = null;
    for (const st of stages) {
      const r = st.forward(i, mi, mt, b, T, payload);
      payload = r.send;
      if (st.isLast) loss += r.loss / M;
      if (payload) bytes += payload.length;
    }
    for (let s = stages.length - 2; s >= 0; s--) {
      payload = stages[s]!.backward(i, b, T, payload!);
      if (payload) bytes += payload.length;
    }
  }
  let sumSquares = 0;
  for (const st of stages) sumSquares += st.gradSumSquares();
  return { loss, bytes, sumSquares };
}

/** groupGradients, then every stage's update with the group's global gradient norm. */
export function groupStep(stages: Stage[], ids: I32, targets: I32, B: number, T: number, lr: number): { loss: number; bytes: number } {
  const r = groupGradients(stages, ids, targets, B, T);
  for (const st of stages) st.update(r.sumSquares, lr);
  return { loss: r.loss, bytes: r.bytes };
}
