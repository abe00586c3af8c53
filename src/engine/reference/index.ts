// The reference backend: plain TypeScript kernels that define tessera's semantics (the test oracle).
import type { Backend } from '../backend.js';
import { matmul } from './matmul.js';
import * as k from './kernels.js';

export const referenceBackend: Backend = {
  name: 'reference',
  matmul,
  embeddingForward: k.embeddingForward,
  embeddingBackward: k.embeddingBackward,
  rmsnormForward: k.rmsnormForward,
  rmsnormBackward: k.rmsnormBackward,
  rope: k.rope,
  attentionForward: k.attentionForward,
  attentionBackward: k.attentionBackward,
  swigluForward: k.swigluForward,
  swigluBackward: k.swigluBackward,
  crossEntropyForward: k.crossEntropyForward,
  crossEntropyBackward: k.crossEntropyBackward,
  add: k.add,
  scale: k.scale,
  sumSquares: k.sumSquares,
  adamw: k.adamw,
};
