// The parameter layout: every weight of the model lives in ONE flat Float32Array (and so do its
// gradient, AdamW moments and, later, error feedback); named tensors are views at fixed offsets.
// Names follow Meta's LLaMA checkpoints. Initialization is deterministic from a seed.
import { makeRng } from '../util/rng.js';
import { headDim, type ModelConfig } from './config.js';

export interface ParamSpec {
  name: string;
  shape: [number] | [number, number];
  offset: number;
  size: number;
  /** Weight decay applies to matrices (incl. embeddings), not to norm gains. */
  decay: boolean;
}

export interface ParamLayout {
  specs: ParamSpec[];
  byName: Map<string, ParamSpec>;
  total: number;
}

export function paramLayout(c: ModelConfig): ParamLayout {
  const Dh = headDim(c);
  const list: [string, [number] | [number, number]][] = [['tok_embeddings.weight', [c.vocabSize, c.dim]]];
  for (let i = 0; i < c.nLayers; i++) {
    const p = `layers.${i}.`;
    list.push(
      [`${p}attention_norm.weight`, [c.dim]],
      [`${p}attention.wq.weight`, [c.nHeads * Dh, c.dim]],
      [`${p}attention.wk.weight`, [c.nKvHeads * Dh, c.dim]],
      [`${p}attention.wv.weight`, [c.nKvHeads * Dh, c.dim]],
      [`${p}attention.wo.weight`, [c.dim, c.nHeads * Dh]],
      [`${p}ffn_norm.weight`, [c.dim]],
      [`${p}feed_forward.w1.weight`, [c.ffnHidden, c.dim]],
      [`${p}feed_forward.w2.weight`, [c.dim, c.ffnHidden]],
      [`${p}feed_forward.w3.weight`, [c.ffnHidden, c.dim]],
    );
  }
  list.push(['norm.weight', [c.dim]]);
  if (!c.tiedEmbeddings) list.push(['output.weight', [c.vocabSize, c.dim]]);
  let offset = 0;
  const specs = list.map(([name, shape]) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const s: ParamSpec = { name, shape, offset, size, decay: shape.length === 2 };
    offset += size;
    return s;
  });
  return { specs, byName: new Map(specs.map((s) => [s.name, s])), total: offset };
}

/** The view of one named parameter inside a flat buffer laid out by `layout`. */
export function view(layout: ParamLayout, flat: Float32Array, name: string): Float32Array {
  const s = layout.byName.get(name);
  if (!s) throw new Error(`no parameter named ${name}`);
  return flat.subarray(s.offset, s.offset + s.size);
}

/**
 * GPT-2/LLaMA-style init: N(0, 0.02) for matrices, residual output projections (wo, w2) scaled by
 * 1/sqrt(2·layers) so the residual stream's variance does not grow with depth; norm gains = 1.
 */
export function initParams(c: ModelConfig, layout: ParamLayout, flat: Float32Array, seed: number | string): void {
  const rng = makeRng(`init:${String(seed)}`);
  const residualStd = 0.02 / Math.sqrt(2 * c.nLayers);
  for (const s of layout.specs) {
    const v = flat.subarray(s.offset, s.offset + s.size);
    if (s.shape.length === 1) v.fill(1);
    else {
      const std = /attention\.wo|feed_forward\.w2/.test(s.name) ? residualStd : 0.02;
      for (let i = 0; i < v.length; i++) v[i] = rng.normal() * std;
    }
  }
}
