// The LLaMA-style decoder: RMSNorm, RoPE, grouped-query causal attention, SwiGLU, optional tied
// embeddings. Parameters and gradients are flat buffers; the forward is a short list of engine ops.
import { Graph, add, attention, crossEntropy, embedding, linear, rmsnorm, rope, swiglu } from '../engine/autograd.js';
import { Tensor, parameter } from '../engine/tensor.js';
import type { I32 } from '../engine/backend.js';
import { headDim, validateConfig, type ModelConfig } from './config.js';
import { paramLayout, type ParamLayout } from './params.js';

export interface LayerWeights {
  attnNorm: Tensor; wq: Tensor; wk: Tensor; wv: Tensor; wo: Tensor;
  ffnNorm: Tensor; w1: Tensor; w2: Tensor; w3: Tensor;
}

export interface Llama {
  config: ModelConfig;
  layout: ParamLayout;
  /** All weights, one allocation. */
  params: Float32Array;
  /** All gradients, same layout; backward accumulates into it, so zero it before each step. */
  grads: Float32Array;
  tok: Tensor;
  layers: LayerWeights[];
  norm: Tensor;
  output: Tensor;
  ropeCos: Float32Array;
  ropeSin: Float32Array;
}

/** cos/sin tables [maxSeqLen × Dh/2] with angle = t · theta^(-2i/Dh). */
export function ropeTables(c: ModelConfig): { cos: Float32Array; sin: Float32Array } {
  const half = headDim(c) / 2;
  const cos = new Float32Array(c.maxSeqLen * half), sin = new Float32Array(c.maxSeqLen * half);
  for (let t = 0; t < c.maxSeqLen; t++) {
    for (let i = 0; i < half; i++) {
      const angle = t * Math.pow(c.ropeTheta, (-2 * i) / headDim(c));
      cos[t * half + i] = Math.cos(angle);
      sin[t * half + i] = Math.sin(angle);
    }
  }
  return { cos, sin };
}

/** Builds the model over given flat buffers (fresh zeroed ones by default). */
export function createLlama(config: ModelConfig, params?: Float32Array, grads?: Float32Array): Llama {
  validateConfig(config);
  const layout = paramLayout(config);
  const p = params ?? new Float32Array(layout.total);
  const gr = grads ?? new Float32Array(layout.total);
  if (p.length !== layout.total || gr.length !== layout.total) {
    throw new Error(`parameter buffer holds ${p.length} values, the config needs ${layout.total}`);
  }
  const t = (name: string): Tensor => {
    const s = layout.byName.get(name)!;
    return parameter(p.subarray(s.offset, s.offset + s.size), gr.subarray(s.offset, s.offset + s.size), s.shape);
  };
  const layers: LayerWeights[] = [];
  for (let i = 0; i < config.nLayers; i++) {
    const n = (s: string) => t(`layers.${i}.${s}.weight`);
    layers.push({
      attnNorm: n('attention_norm'), wq: n('attention.wq'), wk: n('attention.wk'), wv: n('attention.wv'), wo: n('attention.wo'),
      ffnNorm: n('ffn_norm'), w1: n('feed_forward.w1'), w2: n('feed_forward.w2'), w3: n('feed_forward.w3'),
    });
  }
  const tok = t('tok_embeddings.weight');
  const { cos, sin } = ropeTables(config);
  return {
    config, layout, params: p, grads: gr, tok, layers, norm: t('norm.weight'),
    output: config.tiedEmbeddings ? tok : t('output.weight'), ropeCos: cos, ropeSin: sin,
  };
}

/** Logits [B·T × vocab] for token ids [B×T]. */
export function forward(g: Graph, m: Llama, ids: I32, B: number, T: number): Tensor {
  const c = m.config;
  if (ids.length !== B * T) throw new Error(`forward: ${ids.length} ids for B=${B}, T=${T}`);
  if (T > c.maxSeqLen) throw new Error(`forward: sequence length ${T} exceeds the model's maxSeqLen ${c.maxSeqLen}`);
  let h = embedding(g, m.tok, ids);
  for (const L of m.layers) h = block(g, m, L, h, B, T);
  return head(g, m, h);
}

/** One decoder block on the residual stream h [B·T × dim] → the next residual stream. */
export function block(g: Graph, m: Llama, L: LayerWeights, h: Tensor, B: number, T: number): Tensor {
  const c = m.config, Dh = headDim(c);
  const x = rmsnorm(g, h, L.attnNorm, c.normEps);
  const q = rope(g, linear(g, x, L.wq), B, T, c.nHeads, Dh, m.ropeCos, m.ropeSin);
  const k = rope(g, linear(g, x, L.wk), B, T, c.nKvHeads, Dh, m.ropeCos, m.ropeSin);
  const v = linear(g, x, L.wv);
  h = add(g, h, linear(g, attention(g, q, k, v, B, T, c.nHeads, c.nKvHeads, Dh), L.wo));
  const y = rmsnorm(g, h, L.ffnNorm, c.normEps);
  return add(g, h, linear(g, swiglu(g, linear(g, y, L.w1), linear(g, y, L.w3)), L.w2));
}

/** Final norm and output projection: residual stream → logits [B·T × vocab]. */
export function head(g: Graph, m: Llama, h: Tensor): Tensor {
  return linear(g, rmsnorm(g, h, m.norm, m.config.normEps), m.output);
}

/** Mean next-token cross-entropy; the logits' buffer is reused for their gradient. */
export function lossOf(g: Graph, m: Llama, ids: I32, targets: I32, B: number, T: number): Tensor {
  return crossEntropy(g, forward(g, m, ids, B, T), targets, true);
}
