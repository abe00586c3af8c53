// The native backend: loads the C++ addon built at `npm install` (build/Release/tessera_native.node).
// Returns null when it is missing, so callers fall back to the reference backend.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../util/paths.js';
import type { Backend } from './backend.js';

export interface NativeAddon extends Omit<Backend, 'name'> {
  numThreads: number;
  /** Measured single-call SGEMM throughput in GFLOP/s for an n×n×n product, all threads. */
  gemmPeak(n: number, reps: number): number;
}

let cached: NativeAddon | null | undefined;
export let nativeLoadError: string | null = null;

export function loadNativeAddon(): NativeAddon | null {
  if (cached !== undefined) return cached;
  const file = join(projectRoot(), 'build', 'Release', 'tessera_native.node');
  try {
    cached = createRequire(import.meta.url)(file) as NativeAddon;
  } catch (e) {
    nativeLoadError = existsSync(file) ? String((e as Error).message) : `${file} not built (run "npm run build:native")`;
    cached = null;
  }
  return cached;
}

export function nativeBackend(): Backend | null {
  const a = loadNativeAddon();
  if (!a) return null;
  return {
    name: 'native',
    matmul: (A, B, C, M, N, K, tA, tB, acc, batch = 1, sA = M * K, sB = K * N, sC = M * N) =>
      a.matmul(A, B, C, M, N, K, tA, tB, acc, batch, sA, sB, sC),
    embeddingForward: a.embeddingForward,
    embeddingBackward: a.embeddingBackward,
    rmsnormForward: a.rmsnormForward,
    rmsnormBackward: a.rmsnormBackward,
    rope: a.rope,
    attentionForward: a.attentionForward,
    attentionBackward: a.attentionBackward,
    swigluForward: a.swigluForward,
    swigluBackward: a.swigluBackward,
    crossEntropyForward: a.crossEntropyForward,
    crossEntropyBackward: a.crossEntropyBackward,
    add: a.add,
    scale: a.scale,
    sumSquares: a.sumSquares,
    adamw: a.adamw,
  };
}
