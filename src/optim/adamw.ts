// AdamW (decoupled weight decay, bias correction; PyTorch semantics) as pure {init, update} over
// flat buffers. Decay applies per parameter spec (matrices yes, norm gains no); the loop is native.
import type { Backend } from '../engine/backend.js';
import type { ParamSpec } from '../model/params.js';

export interface AdamWConfig {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export const ADAMW_DEFAULTS: AdamWConfig = { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };

export interface AdamWState {
  m: Float32Array;
  v: Float32Array;
  /** Number of updates applied so far (bias correction uses step+1 for the next one). */
  step: number;
}

export function adamwInit(n: number): AdamWState {
  return { m: new Float32Array(n), v: new Float32Array(n), step: 0 };
}

/** Contiguous [offset, size, decay] runs of the layout, merging neighbours with the same decay. */
export function decayRuns(specs: ParamSpec[]): [number, number, boolean][] {
  const runs: [number, number, boolean][] = [];
  for (const s of specs) {
    const last = runs[runs.length - 1];
    if (last && last[2] === s.decay && last[0] + last[1] === s.offset) last[1] += s.size;
    else runs.push([s.offset, s.size, s.decay]);
  }
  return runs;
}

/** One AdamW step in place on params with learning rate lr. */
export function adamwUpdate(be: Backend, specs: ParamSpec[], params: Float32Array, grads: Float32Array,
  state: AdamWState, cfg: AdamWConfig, lr: number): void {
  state.step += 1;
  const bc1 = 1 - Math.pow(cfg.beta1, state.step);
  const bc2 = 1 - Math.pow(cfg.beta2, state.step);
  for (const [off, size, decay] of decayRuns(specs)) {
    const r = (a: Float32Array) => a.subarray(off, off + size);
    be.adamw(r(params), r(grads), r(state.m), r(state.v), size, lr, cfg.beta1, cfg.beta2, cfg.eps,
      decay ? cfg.weightDecay : 0, bc1, bc2);
  }
}
