// The subspace method against the single-process model: forward and backward across S stages with
// subspace payloads equal one process's when parameters lie in span(U); payload bytes per token are
// k/d of dense plus the token id; and, as a check that the test can fail, a model left outside
// span(U) is not reconstructed. Also the int8 baseline's rounding.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getBackend } from '../engine/select.js';
import { Graph } from '../engine/autograd.js';
import { createLlama, initParams, lossOf, type ModelConfig } from '../model/index.js';
import { adamwInit, ADAMW_DEFAULTS } from '../optim/index.js';
import { makeRng } from '../util/rng.js';
import { makeBasis, offSpan, projectColumns, projectRows, fixedTable } from './subspace.js';
import { DenseCodec, Int8Codec, SubspaceCodec, activationCompression, dequantizeInt8, quantizeInt8, type ActivationCodec } from './activations.js';
import { Stage, constrainedOutProjections, groupGradients, splitLayers } from './stages.js';

const be = getBackend();
const cfg: ModelConfig = { vocabSize: 97, dim: 64, nLayers: 3, nHeads: 4, nKvHeads: 2, ffnHidden: 96, maxSeqLen: 16,
  normEps: 1e-5, ropeTheta: 10000, tiedEmbeddings: false };
const B = 4, T = 16, n = B * T;

function batch(seed: string) {
  const r = makeRng(seed);
  const ids = Int32Array.from({ length: n }, () => r.nextInt(cfg.vocabSize));
  const targets = Int32Array.from({ length: n }, () => r.nextInt(cfg.vocabSize));
  return { ids, targets };
}

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  let scale = 1e-12, worst = 0;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]!));
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst / scale;
}

/** S stages over one set of parameters, each with its own codec instance (as separate processes would have). */
function makeGroup(S: number, codec: () => ActivationCodec, micro: number, params: Float32Array) {
  const ranges = splitLayers(cfg.nLayers, S);
  return Array.from({ length: S }, (_, s) => {
    const model = createLlama(cfg, params.slice());
    return new Stage({ be, model, s, ranges, codec: codec(), micro, adamw: ADAMW_DEFAULTS, clip: 1 }, adamwInit(model.layout.total));
  });
}

test('basis is orthonormal and projections are idempotent', () => {
  const b = makeBasis(64, 8, 'g');
  for (let i = 0; i < 8; i++) for (let j = 0; j < 8; j++) {
    let dot = 0;
    for (let r = 0; r < 64; r++) dot += b.U[r * 8 + i]! * b.U[r * 8 + j]!;
    assert.ok(Math.abs(dot - (i === j ? 1 : 0)) < 1e-6, `UᵀU[${i},${j}] = ${dot}`);
  }
  const rng = makeRng('rows');
  const rows = Float32Array.from({ length: 5 * 64 }, () => rng.normal());
  assert.ok(offSpan(b, rows, 5) > 0.1, 'random rows are not in span(U)');
  projectRows(b, rows, 5);
  assert.ok(offSpan(b, rows, 5) < 1e-5, 'projected rows are in span(U)');
  assert.deepEqual(makeBasis(64, 8, 'g').U, b.U, 'the basis is a pure function of (d, k, seed)');
});

for (const S of [2, 3]) {
  test(`subspace pipeline, ${S} stages, 2 micro-batches: loss and every gradient equal the single-process model's`, () => {
    const k = 8;
    const basis = makeBasis(cfg.dim, k, 'group-seed');
    const model = createLlama(cfg);
    initParams(cfg, model.layout, model.params, 7);
    const stages = makeGroup(S, () => new SubspaceCodec(basis, cfg.vocabSize), 2, model.params);
    for (const st of stages) st.beginWindow();
    // The single-process reference runs on stage 0's projected parameters merged with the others'
    // (each stage projected its own slice; together they are the model in span(U)).
    const ref = createLlama(cfg);
    for (const st of stages) for (const p of st.specs) ref.params.set(st.model.params.subarray(p.offset, p.offset + p.size), p.offset);
    const ranges = splitLayers(cfg.nLayers, S);
    for (const p of constrainedOutProjections(ref.layout.specs, ranges)) assert.ok(offSpanColumns(ref.params.subarray(p.offset, p.offset + p.size), p.shape[1]!, basis) < 1e-5);

    const { ids, targets } = batch('b1');
    const got = groupGradients(stages, ids, targets, B, T);
    const g = new Graph(be, true);
    ref.grads.fill(0);
    const loss = lossOf(g, ref, ids, targets, B, T);
    const want = loss.data[0]!;
    g.backward(loss);
    g.reset();
    // The same constraint on the reference gradients: out-projections' columns and embedding rows into span(U).
    for (const p of constrainedOutProjections(ref.layout.specs, ranges)) projectColumns(basis, ref.grads.subarray(p.offset, p.offset + p.size), p.shape[1]!);
    projectRows(basis, ref.tok.grad!, cfg.vocabSize);

    assert.ok(Math.abs(got.loss - want) < 1e-5 * Math.abs(want), `loss ${got.loss} vs ${want}`);
    for (const st of stages) for (const p of st.specs) {
      const d = maxRelDiff(st.model.grads.subarray(p.offset, p.offset + p.size), ref.grads.subarray(p.offset, p.offset + p.size));
      assert.ok(d < 2e-4, `stage ${st.s} ${p.name}: max |Δgrad| / max |grad| = ${d}`);
    }
    // Bytes: forward 2 (uint16 id) + 4k per token, backward 4k, against 4d dense each way.
    const M = 2, boundaries = S - 1;
    assert.equal(got.bytes, boundaries * n * (2 + 4 * k) + boundaries * n * 4 * k, 'bytes that crossed the boundaries');
    const perToken = got.bytes / (boundaries * n * 2);
    const dense = 4 * cfg.dim;
    assert.ok(Math.abs(perToken / dense - k / cfg.dim) <= 1 / dense + 1e-12, `bytes/token ${perToken} vs k/d of dense ${(k / cfg.dim) * dense}`);
    assert.equal(activationCompression(stages[0]!.codec), (8 * cfg.dim) / (8 * k + 2));
    assert.equal(M, stages[0]!.micro);
  });
}

test('outside span(U) the subspace payload does not reconstruct (the check above can fail)', () => {
  const basis = makeBasis(cfg.dim, 8, 'group-seed');
  const model = createLlama(cfg);
  initParams(cfg, model.layout, model.params, 7);
  const { ids, targets } = batch('b1');
  // x as stage 0 computes it (dense payload) and as a subspace receiver rebuilds it, from the same parameters.
  const both = (project: boolean) => {
    const sub = new SubspaceCodec(basis, cfg.vocabSize);
    const [s0] = makeGroup(2, () => sub, 1, model.params);
    sub.setFixed(fixedTable(basis, s0!.model.tok.data, cfg.vocabSize));
    if (project) s0!.beginWindow();
    const [d0] = makeGroup(2, () => new DenseCodec(cfg.dim), 1, s0!.model.params);
    const truth = new Float32Array(n * cfg.dim), rebuilt = new Float32Array(n * cfg.dim);
    new DenseCodec(cfg.dim).decodeForward(d0!.forward(0, ids, targets, B, T, null).send!, n, truth);
    sub.decodeForward(s0!.forward(0, ids, targets, B, T, null).send!, n, rebuilt);
    return maxRelDiff(rebuilt, truth);
  };
  assert.ok(both(false) > 1e-2, `a sender outside span(U) must not reconstruct (${both(false)})`);
  assert.ok(both(true) < 1e-5, `inside span(U) it does (${both(true)})`);
});

test('int8 baseline: round-to-nearest forward within half a step, stochastic rounding unbiased backward', () => {
  const rng = makeRng('int8');
  const d = 32, rows = 4;
  const x = Float32Array.from({ length: rows * d }, () => rng.normal());
  const out = new Float32Array(rows * d);
  dequantizeInt8(quantizeInt8(x, rows, d, null), rows, d, out);
  for (let r = 0; r < rows; r++) {
    let m = 0;
    for (let i = 0; i < d; i++) m = Math.max(m, Math.abs(x[r * d + i]!));
    for (let i = 0; i < d; i++) assert.ok(Math.abs(out[r * d + i]! - x[r * d + i]!) <= (m / 127) * 0.5 + 1e-7);
  }
  const c = new Int8Codec(d, 1);
  const mean = new Float64Array(rows * d), tmp = new Float32Array(rows * d);
  const draws = 400;
  for (let t = 0; t < draws; t++) {
    c.decodeBackward(c.encodeBackward(x, rows), rows, tmp);
    for (let i = 0; i < tmp.length; i++) mean[i] = mean[i]! + tmp[i]! / draws;
  }
  for (let r = 0; r < rows; r++) {
    let m = 0;
    for (let i = 0; i < d; i++) m = Math.max(m, Math.abs(x[r * d + i]!));
    // one draw errs by < one step (m/127); the mean of 400 by ≲ step·0.5/√400 · 4σ
    for (let i = 0; i < d; i++) assert.ok(Math.abs(mean[r * d + i]! - x[r * d + i]!) < (m / 127) * 0.1, `row ${r} col ${i}`);
  }
  assert.equal(c.bytesPerToken().forward, 4 + d);
});

function offSpanColumns(W: Float32Array, m: number, basis: ReturnType<typeof makeBasis>): number {
  const p = W.slice();
  projectColumns(basis, p, m);
  let worst = 0;
  for (let i = 0; i < p.length; i++) worst = Math.max(worst, Math.abs(p[i]! - W[i]!));
  return worst;
}
