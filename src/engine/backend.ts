// The Backend contract: every kernel the engine needs, as a plain function over typed arrays with
// explicit dimensions. Two implementations: `reference` (plain TypeScript, the definition of the
// semantics and the oracle in tests) and `native` (C++ through an N-API addon, same semantics).
// All arrays are row-major. Outputs are overwritten unless the comment says "accumulates" (+=).
// Arrays may be subarray views; kernels never allocate their outputs.

export type F32 = Float32Array;
export type I32 = Int32Array;

export interface Backend {
  readonly name: 'reference' | 'native';

  /**
   * Batched GEMM. For each b < batch:
   *   C_b[M×N] = op(A_b)[M×K] · op(B_b)[K×N]   (+ C_b when accumulate)
   * op(A) = A stored as M×K, or, when transA, A stored as K×M and read transposed (never copied).
   * op(B) = B stored as K×N, or, when transB, B stored as N×K.
   * A_b starts at a[b*strideA], B_b at b[b*strideB], C_b at c[b*strideC]; stride 0 broadcasts.
   * Defaults: batch 1, strides = matrix sizes.
   */
  matmul(a: F32, b: F32, c: F32, M: number, N: number, K: number,
    transA: boolean, transB: boolean, accumulate: boolean,
    batch?: number, strideA?: number, strideB?: number, strideC?: number): void;

  /** out[i, :] = table[ids[i], :] for i < n.  table [V×D], out [n×D]. */
  embeddingForward(table: F32, ids: I32, out: F32, n: number, D: number): void;
  /** dtable[ids[i], :] += dout[i, :] (accumulates; repeated ids add up). */
  embeddingBackward(dout: F32, ids: I32, dtable: F32, n: number, D: number): void;

  /** RMSNorm over rows of x [rows×D]: rstd[r] = 1/sqrt(mean(x[r]^2) + eps); out = x*rstd*w. */
  rmsnormForward(x: F32, w: F32, out: F32, rstd: F32, rows: number, D: number, eps: number): void;
  /** dx overwritten; dw accumulates (+=). Uses rstd saved by the forward. */
  rmsnormBackward(dout: F32, x: F32, w: F32, rstd: F32, dx: F32, dw: F32, rows: number, D: number): void;

  /**
   * Rotary embedding, "rotate-half" convention (HF/NeoX): x is [B×T×H×Dh]; position of row t is t.
   * For i < Dh/2 with c = cos[t*Dh/2 + i], s = sin[t*Dh/2 + i] (tables [Tmax × Dh/2]):
   *   out[i] = x[i]*c - x[i+Dh/2]*s;   out[i+Dh/2] = x[i+Dh/2]*c + x[i]*s.
   * inverse = true rotates by -angle (this is the backward). out may alias x.
   */
  rope(x: F32, out: F32, B: number, T: number, H: number, Dh: number, cos: F32, sin: F32, inverse: boolean): void;

  /**
   * Causal grouped-query attention, computed over batch×heads inside the kernel.
   * q, out: [B×T×H×Dh]; k, v: [B×T×KVH×Dh]; head h reads kv head floor(h / (H/KVH)).
   * scores = q·k / sqrt(Dh), masked to s ≤ t, stable softmax; out = softmax · v.
   * lse [B×H×T] receives the log-sum-exp of each row of scaled scores (saved for backward).
   */
  attentionForward(q: F32, k: F32, v: F32, out: F32, lse: F32,
    B: number, T: number, H: number, KVH: number, Dh: number): void;
  /** Gradients of attentionForward; dq, dk, dv are overwritten. */
  attentionBackward(dout: F32, q: F32, k: F32, v: F32, out: F32, lse: F32, dq: F32, dk: F32, dv: F32,
    B: number, T: number, H: number, KVH: number, Dh: number): void;

  /** out = silu(gate) * up, elementwise over n values (silu(x) = x/(1+e^-x)). */
  swigluForward(gate: F32, up: F32, out: F32, n: number): void;
  /** dgate, dup overwritten. */
  swigluBackward(dout: F32, gate: F32, up: F32, dgate: F32, dup: F32, n: number): void;

  /**
   * Fused log-softmax cross-entropy over rows of logits [N×V]: losses[i] = logsumexp(row) - row[targets[i]].
   * Targets < 0 are ignored (loss 0). Returns the sum of losses (float64 accumulation).
   */
  crossEntropyForward(logits: F32, targets: I32, losses: F32, N: number, V: number): number;
  /** dlogits[i,:] = (softmax(row) - onehot(target)) * scale; zero row for ignored targets. dlogits may alias logits. */
  crossEntropyBackward(logits: F32, targets: I32, dlogits: F32, N: number, V: number, scale: number): void;

  /** out = a + b over n values (out may alias a or b). */
  add(a: F32, b: F32, out: F32, n: number): void;
  /** out = a * s over n values (out may alias a). */
  scale(a: F32, s: number, out: F32, n: number): void;
  /** Σ a[i]^2 in float64. */
  sumSquares(a: F32, n: number): number;

  /**
   * One AdamW step in place (PyTorch semantics, decoupled decay applied first):
   *   p *= 1 - lr*wd;  m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2;
   *   p -= lr * (m / bc1) / (sqrt(v / bc2) + eps)      with bc1 = 1-b1^t, bc2 = 1-b2^t.
   */
  adamw(p: F32, g: F32, m: F32, v: F32, n: number, lr: number, beta1: number, beta2: number,
    eps: number, wd: number, bc1: number, bc2: number): void;
}
