// Validation loss: mean over fixed batches, forward only (no tape, pooled buffers reused).
import type { Backend } from '../engine/backend.js';
import { Graph } from '../engine/autograd.js';
import type { Llama } from '../model/llama.js';
import { evalLoss } from './step.js';
import type { Batch } from './batches.js';

export function evaluate(be: Backend, model: Llama, batches: Batch[], B: number, T: number): number {
  const g = new Graph(be, false);
  let sum = 0;
  for (const b of batches) sum += evalLoss(be, model, b.inputs, b.targets, B, T, g);
  return sum / batches.length;
}
