// The subspace method for pipeline stage boundaries (docs/hetero.md). A seeded orthonormal basis
// U [d×k] is shared by every stage of a group. The residual stream minus a fixed token table F lies
// in span(U) when (1) every constrained block's output projections (wo, w2) write into span(U)
// (W = P·W with P = U·Uᵀ) and (2) the trainable embedding satisfies tok − F = (tok − F)·P. A stage
// then sends c = (x − F[ids])·U, k numbers per token, with the token ids, and the receiver rebuilds
// x = F[ids] + c·Uᵀ exactly (up to float rounding). The backward sends dc = dx·U (k numbers).
//
// F is derived, not stored: at the start of every window F = tok·(I − P) of the global embedding,
// so tok − F = tok·P lies in span(U) and tok itself is unchanged (the residual of the embedding is
// folded into F). The out-projections are projected onto span(U) at the start of every window and
// after every inner step; what the full replicas added outside span(U) is dropped by this replica.
import { makeRng } from '../util/rng.js';
import type { Backend } from '../engine/backend.js';
import { TesseraError } from '../util/errors.js';

/** Orthonormal columns: U [d×k] row-major (U[i*k + j] = column j's entry i). */
export interface Basis {
  d: number;
  k: number;
  U: Float32Array;
}

/**
 * The group's basis from a public seed: d×k standard normals (makeRng(`subspace:${seed}:${d}:${k}`),
 * row-major), orthonormalized by modified Gram–Schmidt in float64 (twice, for float32-level
 * orthogonality), rounded to float32 once.
 */
export function makeBasis(d: number, k: number, seed: number | string): Basis {
  if (!Number.isInteger(d) || !Number.isInteger(k) || k < 1 || k > d) {
    throw new TesseraError(`subspace: rank k must be an integer in 1..${d} (got ${k})`, 'pick k ≤ the model dimension, e.g. --rank 12 for dim 128');
  }
  const rng = makeRng(`subspace:${String(seed)}:${d}:${k}`);
  const cols: Float64Array[] = Array.from({ length: k }, () => new Float64Array(d));
  for (let i = 0; i < d; i++) for (let j = 0; j < k; j++) cols[j]![i] = rng.normal();
  for (let pass = 0; pass < 2; pass++) {
    for (let j = 0; j < k; j++) {
      const v = cols[j]!;
      for (let p = 0; p < j; p++) {
        const u = cols[p]!;
        let dot = 0;
        for (let i = 0; i < d; i++) dot += u[i]! * v[i]!;
        for (let i = 0; i < d; i++) v[i] = v[i]! - dot * u[i]!;
      }
      let n = 0;
      for (let i = 0; i < d; i++) n += v[i]! * v[i]!;
      n = Math.sqrt(n);
      for (let i = 0; i < d; i++) v[i] = v[i]! / n;
    }
  }
  const U = new Float32Array(d * k);
  for (let i = 0; i < d; i++) for (let j = 0; j < k; j++) U[i * k + j] = cols[j]![i]!;
  return { d, k, U };
}

/** rows [n×d] → coefficients [n×k]: out = rows·U (float64 accumulation). */
export function toCoefficients(b: Basis, rows: Float32Array, n: number, out = new Float32Array(n * b.k)): Float32Array {
  const { d, k, U } = b;
  const acc = new Float64Array(k);
  for (let r = 0; r < n; r++) {
    acc.fill(0);
    const ro = r * d;
    for (let i = 0; i < d; i++) {
      const x = rows[ro + i]!;
      if (x === 0) continue;
      const uo = i * k;
      for (let j = 0; j < k; j++) acc[j] = acc[j]! + x * U[uo + j]!;
    }
    for (let j = 0; j < k; j++) out[r * k + j] = acc[j]!;
  }
  return out;
}

/** coefficients [n×k] → rows [n×d]: out = c·Uᵀ (+ out when accumulate). */
export function fromCoefficients(b: Basis, c: Float32Array, n: number, out: Float32Array, accumulate = false): Float32Array {
  const { d, k, U } = b;
  for (let r = 0; r < n; r++) {
    const co = r * k, ro = r * d;
    for (let i = 0; i < d; i++) {
      const uo = i * k;
      let s = 0;
      for (let j = 0; j < k; j++) s += c[co + j]! * U[uo + j]!;
      out[ro + i] = accumulate ? out[ro + i]! + s : s;
    }
  }
  return out;
}

/** Rows projected onto span(U) in place: row ← row·U·Uᵀ. */
export function projectRows(b: Basis, rows: Float32Array, n: number): void {
  const c = toCoefficients(b, rows, n);
  fromCoefficients(b, c, n, rows);
}

/**
 * Columns of W [d×m] (PyTorch Linear layout out×in, output dimension d) projected onto span(U) in
 * place: W ← U·(Uᵀ·W). Used for out-projections (wo, w2) and their gradients.
 */
export function projectColumns(b: Basis, W: Float32Array, m: number): void {
  const { d, k, U } = b;
  const C = new Float64Array(k * m); // Uᵀ·W
  for (let i = 0; i < d; i++) {
    const wo = i * m, uo = i * k;
    for (let j = 0; j < k; j++) {
      const u = U[uo + j]!;
      if (u === 0) continue;
      const co = j * m;
      for (let c = 0; c < m; c++) C[co + c] = C[co + c]! + u * W[wo + c]!;
    }
  }
  for (let i = 0; i < d; i++) {
    const wo = i * m, uo = i * k;
    for (let c = 0; c < m; c++) {
      let s = 0;
      for (let j = 0; j < k; j++) s += U[uo + j]! * C[j * m + c]!;
      W[wo + c] = s;
    }
  }
}

/** F = tok·(I − P): the fixed table of a window, from the window's global embedding tok [V×d]. */
export function fixedTable(b: Basis, tok: Float32Array, V: number): Float32Array {
  const F = tok.slice();
  const c = toCoefficients(b, tok, V);
  const inSpan = fromCoefficients(b, c, V, new Float32Array(V * b.d));
  for (let i = 0; i < F.length; i++) F[i] = F[i]! - inSpan[i]!;
  return F;
}

/** tok ← F + (tok − F)·P in place: puts the trainable part of the embedding back into span(U). */
export function projectEmbedding(b: Basis, tok: Float32Array, F: Float32Array, V: number): void {
  const diff = new Float32Array(tok.length);
  for (let i = 0; i < tok.length; i++) diff[i] = tok[i]! - F[i]!;
  projectRows(b, diff, V);
  for (let i = 0; i < tok.length; i++) tok[i] = F[i]! + diff[i]!;
}

/** Largest |row − row·P| over rows: how far rows [n×d] are from span(U) (0 when inside, up to rounding). */
export function offSpan(b: Basis, rows: Float32Array, n: number): number {
  const p = rows.slice();
  projectRows(b, p, n);
  let worst = 0;
  for (let i = 0; i < p.length; i++) worst = Math.max(worst, Math.abs(p[i]! - rows[i]!));
  return worst;
}

/**
 * The same projections through the engine's GEMM (float32 accumulation): rows [n×d] ← rows·U·Uᵀ,
 * and W [d×m] ← U·(Uᵀ·W). For the per-step projections of a stage (the embedding is V×d).
 */
export function projectRowsGemm(be: Backend, b: Basis, rows: Float32Array, n: number, scratch = new Float32Array(n * b.k)): void {
  be.matmul(rows, b.U, scratch, n, b.k, b.d, false, false, false);
  be.matmul(scratch, b.U, rows, n, b.d, b.k, false, true, false);
}

export function projectColumnsGemm(be: Backend, b: Basis, W: Float32Array, m: number, scratch = new Float32Array(b.k * m)): void {
  be.matmul(b.U, W, scratch, b.k, m, b.d, true, false, false);
  be.matmul(b.U, scratch, W, b.d, m, b.k, false, false, false);
}
