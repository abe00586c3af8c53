// Reference batched GEMM: the plain-loop definition of Backend.matmul (float64 accumulation).
import type { F32 } from '../backend.js';

export function matmul(a: F32, b: F32, c: F32, M: number, N: number, K: number,
  transA: boolean, transB: boolean, accumulate: boolean,
  batch = 1, strideA = M * K, strideB = K * N, strideC = M * N): void {
  // Element (i, p) of op(A) is at a[oa + i*aRow + p*aCol]; likewise for op(B) with (p, j).
  const aRow = transA ? 1 : K, aCol = transA ? M : 1;
  const bRow = transB ? 1 : N, bCol = transB ? K : 1;
  for (let n = 0; n < batch; n++) {
    const oa = n * strideA, ob = n * strideB, oc = n * strideC;
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let p = 0; p < K; p++) s += a[oa + i * aRow + p * aCol] * b[ob + p * bRow + j * bCol];
        const k = oc + i * N + j;
        c[k] = accumulate ? c[k] + s : s;
      }
    }
  }
}
