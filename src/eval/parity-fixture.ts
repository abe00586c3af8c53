// Test support: the two small models whose Hugging Face exports scripts/hf_parity.py scored once, so
// CI checks parity against committed vectors (test/golden/hf_parity_*.safetensors) without PyTorch.
// Everything is derived from fixed seeds: the same call gives byte-identical exports.
// Regenerate the vectors with `node scripts/hf-parity-vectors.mjs` (needs /usr/bin/python3 + torch).
import { join } from 'node:path';
import { saveTokenizer, trainTokenizer } from '../data/index.js';
import type { ModelConfig } from '../model/config.js';
import { paramLayout } from '../model/params.js';
import { makeRng } from '../util/rng.js';

export type ParityVariant = 'untied' | 'tied';

export const PARITY_CONFIGS: Record<ParityVariant, ModelConfig> = {
  // GQA (4 query heads on 2 KV heads), untied head, the LLaMA-2 θ and ε.
  untied: { vocabSize: 320, dim: 32, nLayers: 2, nHeads: 4, nKvHeads: 2, ffnHidden: 64, maxSeqLen: 32, normEps: 1e-5, ropeTheta: 10000, tiedEmbeddings: false },
  // Tied embeddings, multi-query (1 KV head), the LLaMA-3 θ and another ε.
  tied: { vocabSize: 300, dim: 48, nLayers: 2, nHeads: 6, nKvHeads: 1, ffnHidden: 96, maxSeqLen: 32, normEps: 1e-6, ropeTheta: 500000, tiedEmbeddings: true },
};

const TEXT = 'It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife. '
  + 'Call me Ishmael. Some years ago, never mind how long precisely, having little or no money in my purse, I thought I would sail about a little. ';

/** The fixture's tokenizer (byte-level BPE, 290 ids) written to dir/tokenizer.json. */
export function parityTokenizer(dir: string): string {
  const path = join(dir, 'tokenizer.json');
  saveTokenizer(trainTokenizer([TEXT, TEXT.toUpperCase()], { vocabSize: 290 }), path);
  return path;
}

/** Weights large enough that every op matters: matrices N(0, 0.15²), norm gains 1 + N(0, 0.2²). */
export function parityParams(variant: ParityVariant): Float32Array {
  const c = PARITY_CONFIGS[variant];
  const layout = paramLayout(c);
  const p = new Float32Array(layout.total);
  const rng = makeRng(`hf-parity-fixture:${variant}`);
  for (const s of layout.specs) {
    for (let i = s.offset; i < s.offset + s.size; i++) p[i] = s.shape.length === 1 ? 1 + 0.2 * rng.normal() : 0.15 * rng.normal();
  }
  return p;
}
