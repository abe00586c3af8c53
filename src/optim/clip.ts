// Global-norm gradient clipping as in torch.nn.utils.clip_grad_norm_: scale by
// maxNorm / (norm + 1e-6) when that is below 1. Returns the norm before clipping.
import type { Backend } from '../engine/backend.js';

export function clipGradNorm(be: Backend, grads: Float32Array, maxNorm: number): number {
  const norm = Math.sqrt(be.sumSquares(grads, grads.length));
  const coef = maxNorm / (norm + 1e-6);
  if (coef < 1) be.scale(grads, coef, grads, grads.length);
  return norm;
}
