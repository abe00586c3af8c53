// Muon (momentum orthogonalized by Newton–Schulz) for the hidden 2-D weight matrices, as MuLoCo
// (arXiv 2505.23725) uses it for the inner optimizer; embeddings, the output head and norm gains keep
// AdamW. Update of a matrix W [r×c] with gradient G:
//   b ← μ·b + G;  U = G + μ·b (Nesterov);  O = NS5(U) ≈ the orthogonal factor of U (U = PΣQᵀ → PQᵀ);
//   W ← W·(1 − lr·wd) − lr·0.2·√max(r, c)·O
// The 0.2·√max(r, c) factor gives O the RMS of a typical AdamW update, so AdamW's learning rate and
// schedule carry over (Liu et al., "Muon is scalable", arXiv 2502.16982).
import type { ParamSpec } from '../model/params.js';

export interface MuonConfig { momentum: number; weightDecay: number; nsSteps: number }
export const MUON_DEFAULTS: MuonConfig = { momentum: 0.95, weightDecay: 0.1, nsSteps: 5 };

export interface MuonState { buf: Float32Array }
export const muonInit = (n: number): MuonState => ({ buf: new Float32Array(n) });

/** The matrices Muon trains: 2-D specs other than the token embedding and the output head. */
export function muonSpecs(specs: readonly ParamSpec[]): ParamSpec[] {
  return specs.filter((s) => s.shape.length === 2 && !/embed|^output\./.test(s.name));
}

/** C = A·B for row-major A [n×k], B [k×m] (float64). */
function matmul(a: Float64Array, b: Float64Array, n: number, k: number, m: number): Float64Array {
  const c = new Float64Array(n * m);
  for (let i = 0; i < n; i++) for (let p = 0; p < k; p++) {
    const x = a[i * k + p]!;
    if (x === 0) continue;
    for (let j = 0; j < m; j++) c[i * m + j] += x * b[p * m + j]!;
  }
  return c;
}

function transpose(a: Float64Array, r: number, c: number): Float64Array {
  const t = new Float64Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) t[j * r + i] = a[i * c + j]!;
  return t;
}

/**
 * Newton–Schulz iteration towards the orthogonal factor of G [r×c] (the quintic of Jordan et al.,
 * coefficients 3.4445, −4.7750, 2.0315; run on the wide orientation so X·Xᵀ is the small Gram matrix).
 */
export function newtonSchulz(g: Float64Array, r: number, c: number, steps: number): Float64Array {
  const tall = r > c;
  let x = tall ? transpose(g, r, c) : Float64Array.from(g);
  const [n, m] = tall ? [c, r] : [r, c];
  let norm = 0;
  for (const v of x) norm += v * v;
  norm = Math.sqrt(norm) + 1e-7;
  for (let i = 0; i < x.length; i++) x[i] = x[i]! / norm;
  const [qa, qb, qc] = [3.4445, -4.775, 2.0315];
  for (let s = 0; s < steps; s++) {
    const a = matmul(x, transpose(x, n, m), n, m, n);
    const aa = matmul(a, a, n, n, n);
    for (let i = 0; i < a.length; i++) a[i] = qb * a[i]! + qc * aa[i]!;
    const bx = matmul(a, x, n, n, m);
    for (let i = 0; i < x.length; i++) x[i] = qa * x[i]! + bx[i]!;
  }
  return tall ? transpose(x, n, m) : x;
}

/** One Muon step on `specs` (muonSpecs) in place; grads already clipped. */
export function muonUpdate(specs: readonly ParamSpec[], params: Float32Array, grads: Float32Array, st: MuonState,
  cfg: MuonConfig, lr: number): void {
  for (const s of specs) {
    const [r, c] = s.shape as [number, number], o = s.offset, n = r * c;
    const u = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const b = cfg.momentum * st.buf[o + i]! + grads[o + i]!;
      st.buf[o + i] = b;
      u[i] = grads[o + i]! + cfg.momentum * b;
    }
    const q = newtonSchulz(u, r, c, cfg.nsSteps), scale = 0.2 * Math.sqrt(Math.max(r, c)), decay = 1 - lr * cfg.weightDecay;
    for (let i = 0; i < n; i++) params[o + i] = params[o + i]! * decay - lr * scale * q[i]!;
  }
}
