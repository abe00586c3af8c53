// Sizing of a model shape without allocating it: parameter counts, bytes per replica and
// training FLOPs per token (PaLM's accounting: 6·N_matmul + 12·layers·heads·headDim·seq).
import { headDim, type ModelConfig } from './config.js';
import { paramLayout } from './params.js';

export interface ModelInfo {
  params: number;
  /** Parameters that take part in matmuls (everything but the embedding gather, incl. the LM head). */
  matmulParams: number;
  bytes: { weights: number; grads: number; adamw: number; errorFeedback: number; total: number };
  /** Training FLOPs per token (forward + backward) at the model's maxSeqLen. */
  flopsPerToken: number;
  /** The same for a given sequence length. */
  flopsPerTokenAt(seqLen: number): number;
}

export function modelInfo(c: ModelConfig): ModelInfo {
  const layout = paramLayout(c);
  const params = layout.total;
  const embed = c.vocabSize * c.dim;
  const matmulParams = params - embed + (c.tiedEmbeddings ? embed : 0) - (c.nLayers * 2 + 1) * c.dim;
  const f32 = 4;
  const bytes = { weights: params * f32, grads: params * f32, adamw: 2 * params * f32, errorFeedback: params * f32, total: 0 };
  bytes.total = bytes.weights + bytes.grads + bytes.adamw + bytes.errorFeedback;
  const flopsPerTokenAt = (seq: number) => 6 * matmulParams + 12 * c.nLayers * c.nHeads * headDim(c) * seq;
  return { params, matmulParams, bytes, flopsPerToken: flopsPerTokenAt(c.maxSeqLen), flopsPerTokenAt };
}
