// Golden vectors: tessera's LLaMA must reproduce PyTorch's logits, loss, every parameter gradient
// and the parameters after one clipped AdamW step (test/golden/*.safetensors, made by
// scripts/golden.py) within 1e-4 relative error (max|a-b| / max|b| per tensor), on both backends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Graph, referenceBackend, nativeBackend, type Backend } from '../src/engine/index.js';
import { createLlama, forward, type ModelConfig } from '../src/model/index.js';
import { crossEntropy } from '../src/engine/autograd.js';
import { adamwInit, adamwUpdate, clipGradNorm } from '../src/optim/index.js';
import { getTensor, readSafetensors, toInt32 } from '../src/util/safetensors.js';
import { projectRoot } from '../src/util/paths.js';

const TOL = 1e-4;

function relErr(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let num = 0, den = 1e-30;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i]! - b[i]!));
    den = Math.max(den, Math.abs(b[i]!));
  }
  return num / den;
}

interface GoldenConfig {
  vocab_size: number; dim: number; n_layers: number; n_heads: number; n_kv_heads: number; ffn_hidden: number;
  norm_eps: number; rope_theta: number; batch: number; seq: number; tied_embeddings: boolean;
  optimizer: { clip_max_norm: number; lr: number; betas: [number, number]; eps: number; weight_decay_2d: number; weight_decay_1d: number };
}

function checkGolden(be: Backend, variant: 'untied' | 'tied'): void {
  const file = join(projectRoot(), 'test', 'golden', `llama_${variant}.safetensors`);
  const st = readSafetensors(file);
  const g = JSON.parse(st.metadata.config!) as GoldenConfig;
  const cfg: ModelConfig = {
    vocabSize: g.vocab_size, dim: g.dim, nLayers: g.n_layers, nHeads: g.n_heads, nKvHeads: g.n_kv_heads, ffnHidden: g.ffn_hidden,
    maxSeqLen: g.seq, normEps: g.norm_eps, ropeTheta: g.rope_theta, tiedEmbeddings: g.tied_embeddings,
  };
  const m = createLlama(cfg);
  for (const s of m.layout.specs) m.params.set(getTensor(st, file, `param.${s.name}`, 'F32', s.shape).data, s.offset);
  const tokens = toInt32(st.tensors.tokens!, file, 'tokens');
  const targets = toInt32(st.tensors.targets!, file, 'targets');
  const graph = new Graph(be, true);
  const logits = forward(graph, m, tokens, g.batch, g.seq);
  assert.ok(relErr(logits.data, st.tensors.logits!.data as Float32Array) < TOL, `${be.name}/${variant}: logits rel err ${relErr(logits.data, st.tensors.logits!.data as Float32Array)}`);
  const loss = crossEntropy(graph, logits, targets, false);
  const lossErr = Math.abs(loss.data[0]! - (st.tensors.loss!.data as Float32Array)[0]!) / Math.abs((st.tensors.loss!.data as Float32Array)[0]!);
  assert.ok(lossErr < TOL, `loss rel err ${lossErr}`);
  graph.backward(loss);
  for (const s of m.layout.specs) {
    const e = relErr(m.grads.subarray(s.offset, s.offset + s.size), getTensor(st, file, `grad.${s.name}`, 'F32').data);
    assert.ok(e < TOL, `${be.name}/${variant}: grad of ${s.name} rel err ${e}`);
  }
  // The first AdamW step moves every weight by about ±lr·sign(g), so it is ill-conditioned where g ≈ 0:
  // the optimizer is checked on PyTorch's own gradients (ours were checked above to 1e-4).
  for (const s of m.layout.specs) m.grads.set(getTensor(st, file, `grad.${s.name}`, 'F32').data, s.offset);
  const o = g.optimizer;
  const norm = clipGradNorm(be, m.grads, o.clip_max_norm);
  const gn = (st.tensors.grad_norm!.data as Float32Array)[0]!;
  assert.ok(Math.abs(norm - gn) / gn < TOL, `grad norm ${norm} vs ${gn}`);
  assert.ok(norm > o.clip_max_norm, 'the golden step exercises clipping');
  const specs = m.layout.specs.map((s) => ({ ...s, decay: s.shape.length === 2 }));
  assert.equal(o.weight_decay_1d, 0);
  adamwUpdate(be, specs, m.params, m.grads, adamwInit(m.layout.total),
    { beta1: o.betas[0], beta2: o.betas[1], eps: o.eps, weightDecay: o.weight_decay_2d }, o.lr);
  for (const s of m.layout.specs) {
    const e = relErr(m.params.subarray(s.offset, s.offset + s.size), getTensor(st, file, `after.${s.name}`, 'F32').data);
    assert.ok(e < TOL, `${be.name}/${variant}: ${s.name} after AdamW rel err ${e}`);
  }
}

for (const variant of ['untied', 'tied'] as const) {
  test(`golden ${variant}: reference backend matches PyTorch`, () => checkGolden(referenceBackend, variant));
  test(`golden ${variant}: native backend matches PyTorch`, (t) => {
    const be = nativeBackend();
    if (!be) return t.skip('native addon not built');
    checkGolden(be, variant);
  });
}
