// Model configuration and presets: tiny shapes for tests, the engine's reference shape, and the
// published LLaMA-style shapes (150M, 1B, 8B, 70B) as data for sizing and planning.
import { TesseraError } from '../util/errors.js';

export interface ModelConfig {
  vocabSize: number;
  dim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  ffnHidden: number;
  maxSeqLen: number;
  normEps: number;
  ropeTheta: number;
  tiedEmbeddings: boolean;
}

/** LLaMA's FFN rule: 2/3 of 4·dim, rounded up to a multiple of `multiple`. */
export function llamaFfn(dim: number, multiple = 64): number {
  return Math.ceil((8 * dim) / 3 / multiple) * multiple;
}

const base = { normEps: 1e-5, ropeTheta: 10000, tiedEmbeddings: false };

export const PRESETS: Record<string, ModelConfig & { note: string }> = {
  tiny: { ...base, vocabSize: 512, dim: 64, nLayers: 2, nHeads: 4, nKvHeads: 2, ffnHidden: 192, maxSeqLen: 64, note: 'unit tests' },
  micro: { ...base, vocabSize: 512, dim: 32, nLayers: 2, nHeads: 4, nKvHeads: 2, ffnHidden: 96, maxSeqLen: 64, note: 'the convergence study at 20 tokens per parameter on 2 cores (bench/convergence.md)' },
  small: { ...base, vocabSize: 8192, dim: 128, nLayers: 2, nHeads: 4, nKvHeads: 2, ffnHidden: 384, maxSeqLen: 128, note: 'quick demos and network tests' },
  reference: { ...base, vocabSize: 8192, dim: 256, nLayers: 4, nHeads: 8, nKvHeads: 2, ffnHidden: llamaFfn(256), maxSeqLen: 256, note: "the engine's reference shape (bench engine, 10-minute training)" },
  '150m': { ...base, vocabSize: 32000, dim: 768, nLayers: 12, nHeads: 12, nKvHeads: 12, ffnHidden: 2048, maxSeqLen: 2048, note: 'GPT-2-small-sized LLaMA' },
  '1b': { ...base, vocabSize: 128256, dim: 2048, nLayers: 16, nHeads: 32, nKvHeads: 8, ffnHidden: 8192, maxSeqLen: 2048, ropeTheta: 500000, tiedEmbeddings: true, note: 'Llama-3.2-1B shape' },
  '8b': { ...base, vocabSize: 128256, dim: 4096, nLayers: 32, nHeads: 32, nKvHeads: 8, ffnHidden: 14336, maxSeqLen: 2048, ropeTheta: 500000, note: 'Llama-3-8B shape' },
  '70b': { ...base, vocabSize: 128256, dim: 8192, nLayers: 80, nHeads: 64, nKvHeads: 8, ffnHidden: 28672, maxSeqLen: 2048, ropeTheta: 500000, note: 'Llama-3-70B shape (Covenant-72B class)' },
};

export function presetNames(): string[] {
  return Object.keys(PRESETS);
}

export function getPreset(name: string): ModelConfig {
  const p = PRESETS[name.toLowerCase()];
  if (!p) throw new TesseraError(`unknown model preset "${name}"`, `choose one of: ${presetNames().join(', ')}`);
  const { note: _note, ...cfg } = p;
  return cfg;
}

/** Checks the shape is buildable; throws a TesseraError naming the bad field. */
export function validateConfig(c: ModelConfig): ModelConfig {
  const ints: (keyof ModelConfig)[] = ['vocabSize', 'dim', 'nLayers', 'nHeads', 'nKvHeads', 'ffnHidden', 'maxSeqLen'];
  for (const k of ints) {
    const v = c[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new TesseraError(`model config: ${k} must be a positive integer (got ${String(v)})`);
  }
  if (c.dim % c.nHeads !== 0) throw new TesseraError(`model config: dim ${c.dim} is not divisible by nHeads ${c.nHeads}`);
  if (c.nHeads % c.nKvHeads !== 0) throw new TesseraError(`model config: nHeads ${c.nHeads} is not a multiple of nKvHeads ${c.nKvHeads}`);
  if ((c.dim / c.nHeads) % 2 !== 0) throw new TesseraError('model config: head dimension must be even for RoPE');
  return c;
}

export const headDim = (c: ModelConfig): number => c.dim / c.nHeads;
