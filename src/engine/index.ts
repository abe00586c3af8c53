// The engine's public surface: tensors, autograd ops, the Backend contract and backend selection.
export type { Backend, F32, I32 } from './backend.js';
export { Tensor, BufferPool, parameter, numel, type Shape } from './tensor.js';
export { Graph, add, attention, crossEntropy, embedding, linear, matmul, rmsnorm, rope, scale, swiglu } from './autograd.js';
export { referenceBackend } from './reference/index.js';
export { nativeBackend, loadNativeAddon } from './native.js';
export { getBackend } from './select.js';
