// DeMo (Peng, Quesnelle, Kingma 2024, "Decoupled Momentum Optimization") as a baseline:
// m ← β·m + g; q = top-k of the 2-D DCT of each 64×64 tile of m; m ← m − IDCT(q);
// the replicas' q are averaged, and θ ← θ − lr·(sign(IDCT(mean q)) + wd·θ), every step.
// Tiles cover the flat parameter vector (padded to whole tiles); transforms run as batched GEMMs.
import type { Backend } from '../engine/backend.js';

export interface DemoConfig {
  beta: number;
  tile: number;
  topk: number;
  lr: number;
  weightDecay: number;
}

export const DEMO_DEFAULTS: DemoConfig = { beta: 0.999, tile: 64, topk: 32, lr: 3e-4, weightDecay: 0.0 };

/** Orthonormal DCT-II matrix D [n×n]: coefficients = D·x, inverse = Dᵀ·c. */
export function dctMatrix(n: number): Float32Array {
  const d = new Float32Array(n * n);
  for (let k = 0; k < n; k++) {
    const s = k === 0 ? Math.sqrt(1 / n) : Math.sqrt(2 / n);
    for (let i = 0; i < n; i++) d[k * n + i] = s * Math.cos((Math.PI * (i + 0.5) * k) / n);
  }
  return d;
}

export class DemoTransform {
  readonly tiles: number;
  readonly padded: number;
  private readonly d: Float32Array;
  private readonly tmp: Float32Array;

  constructor(private readonly be: Backend, readonly n: number, readonly tile: number) {
    const t2 = tile * tile;
    this.tiles = Math.ceil(n / t2);
    this.padded = this.tiles * t2;
    this.d = dctMatrix(tile);
    this.tmp = new Float32Array(this.padded);
  }

  /** out = D·X·Dᵀ per tile (x, out padded length). */
  forward(x: Float32Array, out: Float32Array): void {
    const t = this.tile, t2 = t * t;
    this.be.matmul(this.d, x, this.tmp, t, t, t, false, false, false, this.tiles, 0, t2, t2);
    this.be.matmul(this.tmp, this.d, out, t, t, t, false, true, false, this.tiles, t2, 0, t2);
  }

  /** out = Dᵀ·C·D per tile. */
  inverse(c: Float32Array, out: Float32Array): void {
    const t = this.tile, t2 = t * t;
    this.be.matmul(this.d, c, this.tmp, t, t, t, true, false, false, this.tiles, 0, t2, t2);
    this.be.matmul(this.tmp, this.d, out, t, t, t, false, false, false, this.tiles, t2, 0, t2);
  }
}

/** Indices (into the padded coefficient vector) of the k largest |c| in each tile; ties → lower index. */
export function topkPerTile(c: Float32Array, tile2: number, k: number, out: Int32Array): void {
  const tiles = c.length / tile2;
  const idx = new Int32Array(tile2);
  for (let t = 0; t < tiles; t++) {
    const base = t * tile2;
    for (let i = 0; i < tile2; i++) idx[i] = i;
    // Partial selection: quickselect on |c| descending, index ascending on ties.
    const better = (a: number, b: number) => {
      const va = Math.abs(c[base + a]!), vb = Math.abs(c[base + b]!);
      return va > vb || (va === vb && a < b);
    };
    let lo = 0, hi = tile2 - 1;
    while (lo < hi) {
      const p = idx[(lo + hi) >> 1]!;
      let i = lo, j = hi;
      while (i <= j) {
        while (better(idx[i]!, p)) i++;
        while (better(p, idx[j]!)) j--;
        if (i <= j) { const s = idx[i]!; idx[i] = idx[j]!; idx[j] = s; i++; j--; }
      }
      if (k - 1 <= j) hi = j;
      else if (k - 1 >= i) lo = i;
      else break;
    }
    const sel = Array.from(idx.subarray(0, k)).sort((a, b) => a - b);
    for (let j = 0; j < k; j++) out[t * k + j] = base + sel[j]!;
  }
}

export interface DemoReplica {
  m: Float32Array;
}

/**
 * One replica's DeMo compression of gradient g (length n): updates its momentum and adds its
 * transmitted coefficients into `sum` (padded coefficient domain). Returns the kept count.
 */
export function demoCompress(tr: DemoTransform, cfg: DemoConfig, rep: DemoReplica, g: Float32Array,
  coef: Float32Array, sel: Int32Array, sum: Float32Array, scratch: Float32Array): number {
  const m = rep.m;
  for (let i = 0; i < g.length; i++) m[i] = cfg.beta * m[i]! + g[i]!;
  tr.forward(m, coef);
  topkPerTile(coef, tr.tile * tr.tile, cfg.topk, sel);
  // q: only the selected coefficients; remove what was sent from the momentum (m ← m − IDCT(q)).
  scratch.fill(0);
  for (let j = 0; j < sel.length; j++) { const i = sel[j]!; scratch[i] = coef[i]!; sum[i] = sum[i]! + coef[i]!; }
  tr.inverse(scratch, coef);
  for (let i = 0; i < g.length; i++) m[i] = m[i]! - coef[i]!;
  return sel.length;
}

/** θ ← θ − lr·(sign(IDCT(sum / R)) + wd·θ); `dense` is scratch of padded length. */
export function demoApply(tr: DemoTransform, cfg: DemoConfig, params: Float32Array, sum: Float32Array, dense: Float32Array): void {
  tr.inverse(sum, dense);
  for (let i = 0; i < params.length; i++) {
    const s = dense[i]! > 0 ? 1 : dense[i]! < 0 ? -1 : 0;
    params[i] = params[i]! - cfg.lr * (s + cfg.weightDecay * params[i]!);
  }
}
