// Kernel tests: both backends (reference TS, native addon) against independent float64 oracles written
// here; every backward also against central finite differences of the float64 forward of L = Σ w·f(x).
// All arrays are subarray views at a misaligned offset, as the engine may pass them.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as ref from './reference/kernels.js';
import { loadNativeAddon, nativeLoadError } from './native.js';

type Kernels = typeof ref;
type F64 = Float64Array;
const native = loadNativeAddon();

// Runs `fn` once per backend as subtests; the native one is visibly skipped when the addon is missing.
async function onBackends(t: TestContext, fn: (k: Kernels) => void): Promise<void> {
  const all: [string, Kernels | null][] = [['reference', ref], ['native', native]];
  for (const [name, k] of all) {
    await t.test(name, (st) => {
      if (!k) return st.skip(`native addon not loaded: ${nativeLoadError}`);
      fn(k);
    });
  }
}

// mulberry32: a small seeded generator, so failures reproduce.
let seed = 0x5eed;
function rand(): number {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const randInt = (n: number) => Math.floor(rand() * n);

// A Float32Array of n values living at a misaligned offset inside a larger buffer.
function f32(n: number, fill: (i: number) => number = () => 0): Float32Array {
  const a = new Float32Array(n + 8).subarray(3, 3 + n);
  for (let i = 0; i < n; i++) a[i] = fill(i);
  return a;
}
const uniform = (n: number, amp = 1) => f32(n, () => (2 * rand() - 1) * amp);
const copy = (a: ArrayLike<number>) => f32(a.length, (i) => a[i]);
function i32(values: number[]): Int32Array {
  const a = new Int32Array(values.length + 5).subarray(1, 1 + values.length);
  a.set(values);
  return a;
}
const f64 = (a: ArrayLike<number>): F64 => Float64Array.from(a);
const wsum = (w: ArrayLike<number>, y: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < y.length; i++) s += w[i] * y[i];
  return s;
};

// max |actual - expected| must be ≤ tol · max(max |expected|, floor) (NaN fails). `floor` is the
// natural magnitude for outputs that may be all zero (dq, dk with T = 1).
function close(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string, floor = 1e-30): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let err = 0, mag = floor;
  for (let i = 0; i < expected.length; i++) {
    err = Math.max(err, Math.abs(actual[i] - expected[i]));
    mag = Math.max(mag, Math.abs(expected[i]));
  }
  const rel = err / mag;
  assert.ok(rel <= tol, `${what}: max error ${err.toExponential(3)} = ${rel.toExponential(3)} × max|expected| > ${tol}`);
}

// Central differences of the scalar f() with respect to every entry of x (perturbed in place).
function fd(x: F64, f: () => number, eps = 1e-6): F64 {
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const x0 = x[i];
    x[i] = x0 + eps;
    const fp = f();
    x[i] = x0 - eps;
    const fm = f();
    x[i] = x0;
    g[i] = (fp - fm) / (2 * eps);
  }
  return g;
}
const FD_TIGHT = 1e-6; // float64 oracle gradient vs finite differences
const FD_F32 = 1e-4;   // float32 backend gradient vs finite differences

// ---------------------------------------------------------------- float64 oracles

function oEmbedding(table: ArrayLike<number>, ids: Int32Array, D: number): F64 {
  const out = new Float64Array(ids.length * D);
  ids.forEach((id, i) => { for (let j = 0; j < D; j++) out[i * D + j] = table[id * D + j]; });
  return out;
}

function oRmsnorm(x: ArrayLike<number>, w: ArrayLike<number>, rows: number, D: number, eps: number) {
  const out = new Float64Array(rows * D), rstd = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let ms = 0;
    for (let j = 0; j < D; j++) ms += x[r * D + j] ** 2 / D;
    rstd[r] = 1 / Math.sqrt(ms + eps);
    for (let j = 0; j < D; j++) out[r * D + j] = x[r * D + j] * rstd[r] * w[j];
  }
  return { out, rstd };
}

function oRmsnormBackward(g: ArrayLike<number>, x: ArrayLike<number>, w: ArrayLike<number>, rows: number, D: number, eps: number) {
  const { rstd } = oRmsnorm(x, w, rows, D, eps);
  const dx = new Float64Array(rows * D), dw = new Float64Array(D);
  for (let r = 0; r < rows; r++) {
    const s = rstd[r];
    let gwx = 0;
    for (let j = 0; j < D; j++) gwx += g[r * D + j] * w[j] * x[r * D + j];
    for (let j = 0; j < D; j++) {
      dx[r * D + j] = s * w[j] * g[r * D + j] - (s ** 3 / D) * x[r * D + j] * gwx;
      dw[j] += g[r * D + j] * x[r * D + j] * s;
    }
  }
  return { dx, dw };
}

// RoPE as complex multiplication: (x_i + i·x_{i+Dh/2}) · e^{±iθ}.
function oRope(x: ArrayLike<number>, B: number, T: number, H: number, Dh: number, cos: Float32Array, sin: Float32Array, inverse: boolean): F64 {
  const out = new Float64Array(B * T * H * Dh), half = Dh / 2;
  for (let row = 0; row < B * T * H; row++) {
    const t = Math.floor(row / H) % T;
    for (let i = 0; i < half; i++) {
      const re = x[row * Dh + i], im = x[row * Dh + half + i];
      const c = cos[t * half + i], s = inverse ? -sin[t * half + i] : sin[t * half + i];
      out[row * Dh + i] = re * c - im * s;
      out[row * Dh + half + i] = re * s + im * c;
    }
  }
  return out;
}

function ropeTables(Tmax: number, Dh: number) {
  const half = Dh / 2;
  const ang = (i: number) => Math.floor(i / half) * 10000 ** (-(i % half) / half);
  return { cos: f32(Tmax * half, (i) => Math.cos(ang(i))), sin: f32(Tmax * half, (i) => Math.sin(ang(i))) };
}

interface AttnShape { B: number; T: number; H: number; KVH: number; Dh: number; amp?: number }
const qi = (s: AttnShape, b: number, t: number, h: number) => ((b * s.T + t) * s.H + h) * s.Dh;
const ki = (s: AttnShape, b: number, t: number, h: number) => ((b * s.T + t) * s.KVH + Math.floor(h / (s.H / s.KVH))) * s.Dh;

// Per (b, h): the full masked probability matrix P [T×T] in float64.
function oProbs(s: AttnShape, q: ArrayLike<number>, k: ArrayLike<number>, b: number, h: number) {
  const { T, Dh } = s, P = new Float64Array(T * T), lse = new Float64Array(T);
  for (let t = 0; t < T; t++) {
    let mx = -Infinity;
    for (let u = 0; u <= t; u++) {
      let d = 0;
      for (let c = 0; c < Dh; c++) d += q[qi(s, b, t, h) + c] * k[ki(s, b, u, h) + c];
      P[t * T + u] = d / Math.sqrt(Dh);
      mx = Math.max(mx, P[t * T + u]);
    }
    let z = 0;
    for (let u = 0; u <= t; u++) z += Math.exp(P[t * T + u] - mx);
    for (let u = 0; u <= t; u++) P[t * T + u] = Math.exp(P[t * T + u] - mx) / z;
    lse[t] = mx + Math.log(z);
  }
  return { P, lse };
}

function oAttention(s: AttnShape, q: ArrayLike<number>, k: ArrayLike<number>, v: ArrayLike<number>) {
  const { B, T, H, Dh } = s, out = new Float64Array(B * T * H * Dh), lse = new Float64Array(B * H * T);
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) {
    const r = oProbs(s, q, k, b, h);
    lse.set(r.lse, (b * H + h) * T);
    for (let t = 0; t < T; t++) for (let u = 0; u <= t; u++) for (let c = 0; c < Dh; c++)
      out[qi(s, b, t, h) + c] += r.P[t * T + u] * v[ki(s, b, u, h) + c];
  }
  return { out, lse };
}

// dP = dO·Vᵀ; dS = P∘(dP - rowsum(P∘dP)) (softmax Jacobian); dq = dS·K/√Dh; dk = dSᵀ·Q/√Dh; dv = Pᵀ·dO.
function oAttentionBackward(s: AttnShape, g: ArrayLike<number>, q: ArrayLike<number>, k: ArrayLike<number>, v: ArrayLike<number>) {
  const { B, T, H, Dh } = s, sc = 1 / Math.sqrt(Dh);
  const dq = new Float64Array(q.length), dk = new Float64Array(k.length), dv = new Float64Array(v.length);
  const dP = new Float64Array(T * T);
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) {
    const { P } = oProbs(s, q, k, b, h);
    for (let t = 0; t < T; t++) {
      let rs = 0;
      for (let u = 0; u <= t; u++) {
        let d = 0;
        for (let c = 0; c < Dh; c++) d += g[qi(s, b, t, h) + c] * v[ki(s, b, u, h) + c];
        dP[t * T + u] = d;
        rs += P[t * T + u] * d;
      }
      for (let u = 0; u <= t; u++) {
        const dS = P[t * T + u] * (dP[t * T + u] - rs) * sc, p = P[t * T + u];
        for (let c = 0; c < Dh; c++) {
          dq[qi(s, b, t, h) + c] += dS * k[ki(s, b, u, h) + c];
          dk[ki(s, b, u, h) + c] += dS * q[qi(s, b, t, h) + c];
          dv[ki(s, b, u, h) + c] += p * g[qi(s, b, t, h) + c];
        }
      }
    }
  }
  return { dq, dk, dv };
}

const sig = (x: number) => 1 / (1 + Math.exp(-x));
const oSwiglu = (gate: ArrayLike<number>, up: ArrayLike<number>) => Float64Array.from(gate, (g, i) => g * sig(g) * up[i]);

function oCrossEntropy(logits: ArrayLike<number>, targets: Int32Array, V: number): F64 {
  return Float64Array.from(targets, (t, i) => {
    if (t < 0) return 0;
    let z = 0;
    for (let j = 0; j < V; j++) z += Math.exp(logits[i * V + j] - logits[i * V + t]);
    return Math.log(z); // log Σ e^{x_j - x_t} = lse - x_t
  });
}

// ---------------------------------------------------------------- tests

test('embedding: forward gathers, backward scatter-adds repeated ids (vs finite differences)', async (t) => {
  for (const [n, V, D] of [[7, 3, 5], [2000, 50, 200], [1, 1, 1]]) {
    const table = uniform(V * D), ids = i32(Array.from({ length: n }, () => randInt(V)));
    const w = uniform(n * D), base = uniform(V * D);
    const tab64 = f64(table);
    const want = n * V * D <= 200 ? fd(tab64, () => wsum(w, oEmbedding(tab64, ids, D))) : null;
    const scatter = new Float64Array(V * D);
    ids.forEach((id, i) => { for (let j = 0; j < D; j++) scatter[id * D + j] += w[i * D + j]; });
    if (want) close(scatter, want, FD_TIGHT, 'oracle scatter vs fd');
    await onBackends(t, (k) => {
      const out = f32(n * D);
      k.embeddingForward(table, ids, out, n, D);
      close(out, oEmbedding(table, ids, D), 0, 'forward');
      const dtable = copy(base);
      k.embeddingBackward(w, ids, dtable, n, D);
      close(Float64Array.from(dtable, (x, i) => x - base[i]), scatter, 1e-6, 'backward accumulates');
      if (want) close(dtable.map((x, i) => x - base[i]), want, FD_F32, 'backward vs fd');
      assert.throws(() => k.embeddingForward(table, i32([V]), f32(D), 1, D), RangeError);
    });
  }
});

test('rmsnorm: forward, backward dx and accumulated dw (vs finite differences)', async (t) => {
  for (const [rows, D, fdOk] of [[3, 5, 1], [1, 16, 1], [200, 300, 0], [70, 33, 0]]) {
    const eps = 1e-5, x = uniform(rows * D, 2), w = uniform(D), g = uniform(rows * D), dw0 = uniform(D);
    const ref64 = oRmsnorm(x, w, rows, D, eps), bw = oRmsnormBackward(g, x, w, rows, D, eps);
    if (fdOk) {
      const x64 = f64(x), w64 = f64(w), L = () => wsum(g, oRmsnorm(x64, w64, rows, D, eps).out);
      close(bw.dx, fd(x64, L), FD_TIGHT, 'oracle dx vs fd');
      close(bw.dw, fd(w64, L), FD_TIGHT, 'oracle dw vs fd');
    }
    await onBackends(t, (k) => {
      const out = f32(rows * D), rstd = f32(rows), dx = f32(rows * D), dw = copy(dw0);
      k.rmsnormForward(x, w, out, rstd, rows, D, eps);
      close(out, ref64.out, 1e-6, 'out');
      close(rstd, ref64.rstd, 1e-6, 'rstd');
      k.rmsnormBackward(g, x, w, rstd, dx, dw, rows, D);
      close(dx, bw.dx, 1e-5, 'dx');
      close(dw.map((v, i) => v - dw0[i]), bw.dw, 1e-5, 'dw (accumulated)');
    });
  }
});

test('rope: forward, inverse∘forward = identity, in place, backward = inverse (vs finite differences)', async (t) => {
  for (const [B, T, H, Dh] of [[1, 3, 2, 4], [2, 5, 1, 2], [2, 300, 4, 40], [1, 7, 3, 16]]) {
    const n = B * T * H * Dh, { cos, sin } = ropeTables(T + 3, Dh), x = uniform(n), w = uniform(n);
    const want = oRope(x, B, T, H, Dh, cos, sin, false);
    const x64 = f64(x);
    const grad = n <= 64 ? fd(x64, () => wsum(w, oRope(x64, B, T, H, Dh, cos, sin, false))) : null;
    if (grad) close(oRope(w, B, T, H, Dh, cos, sin, true), grad, FD_TIGHT, 'oracle inverse vs fd');
    await onBackends(t, (k) => {
      const out = f32(n), back = f32(n), inplace = copy(x);
      k.rope(x, out, B, T, H, Dh, cos, sin, false);
      close(out, want, 1e-6, 'forward');
      k.rope(out, back, B, T, H, Dh, cos, sin, true);
      close(back, x, 1e-6, 'inverse(forward(x)) = x');
      k.rope(inplace, inplace, B, T, H, Dh, cos, sin, false);
      close(inplace, out, 0, 'out === x');
      assert.throws(() => k.rope(x, out, 1, 1, 1, 3, cos, sin, false), RangeError);
      if (grad) {
        const dx = f32(n);
        k.rope(w, dx, B, T, H, Dh, cos, sin, true);
        close(dx, grad, FD_F32, 'backward vs fd');
      }
    });
  }
});

test('attention: causal GQA forward (out, lse) and backward dq, dk, dv (vs finite differences)', async (t) => {
  const shapes: (AttnShape & { fd?: boolean })[] = [
    { B: 2, T: 5, H: 4, KVH: 2, Dh: 6, fd: true }, { B: 1, T: 4, H: 2, KVH: 2, Dh: 4, fd: true },
    { B: 1, T: 3, H: 4, KVH: 1, Dh: 8, fd: true }, { B: 2, T: 1, H: 2, KVH: 1, Dh: 4, fd: true },
    { B: 2, T: 67, H: 8, KVH: 2, Dh: 32 }, { B: 1, T: 150, H: 4, KVH: 1, Dh: 40 },
    { B: 3, T: 1, H: 4, KVH: 4, Dh: 64 }, { B: 1, T: 33, H: 2, KVH: 2, Dh: 20 },
    { B: 1, T: 128, H: 2, KVH: 1, Dh: 64 }, { B: 1, T: 40, H: 2, KVH: 1, Dh: 16, amp: 6 },
  ];
  for (const s of shapes) {
    const nq = s.B * s.T * s.H * s.Dh, nk = s.B * s.T * s.KVH * s.Dh, amp = s.amp ?? 1.5;
    const q = uniform(nq, amp), k = uniform(nk, amp), v = uniform(nk), g = uniform(nq);
    const fwd = oAttention(s, q, k, v), bwd = oAttentionBackward(s, g, q, k, v);
    const label = `B${s.B} T${s.T} H${s.H} KVH${s.KVH} Dh${s.Dh}`;
    let grads: F64[] | null = null;
    if (s.fd) {
      const [q64, k64, v64] = [f64(q), f64(k), f64(v)], L = () => wsum(g, oAttention(s, q64, k64, v64).out);
      grads = [fd(q64, L), fd(k64, L), fd(v64, L)];
      close(bwd.dq, grads[0], FD_TIGHT, `${label} oracle dq vs fd`, 1);
      close(bwd.dk, grads[1], FD_TIGHT, `${label} oracle dk vs fd`, 1);
      close(bwd.dv, grads[2], FD_TIGHT, `${label} oracle dv vs fd`, 1);
    }
    await onBackends(t, (kr) => {
      const nan = () => NaN; // outputs must be fully overwritten
      const out = f32(nq, nan), lse = f32(s.B * s.H * s.T, nan), dq = f32(nq, nan), dk = f32(nk, nan), dv = f32(nk, nan);
      kr.attentionForward(q, k, v, out, lse, s.B, s.T, s.H, s.KVH, s.Dh);
      close(out, fwd.out, 1e-5, `${label} out`);
      close(lse, fwd.lse, 1e-6, `${label} lse`);
      kr.attentionBackward(g, q, k, v, out, lse, dq, dk, dv, s.B, s.T, s.H, s.KVH, s.Dh);
      close(dq, bwd.dq, 2e-5, `${label} dq`, 1);
      close(dk, bwd.dk, 2e-5, `${label} dk`, 1);
      close(dv, bwd.dv, 2e-5, `${label} dv`, 1);
      assert.throws(() => kr.attentionForward(q, k, v, out, lse, s.B, s.T, 3, 2, s.Dh), RangeError);
      if (grads) {
        close(dq, grads[0], FD_F32, `${label} dq vs fd`, 1);
        close(dk, grads[1], FD_F32, `${label} dk vs fd`, 1);
        close(dv, grads[2], FD_F32, `${label} dv vs fd`, 1);
      }
    });
  }
});

test('swiglu: forward and backward dgate, dup (vs finite differences), saturating gates', async (t) => {
  for (const n of [9, 1, 100003]) {
    const gate = uniform(n, 4), up = uniform(n), w = uniform(n);
    if (n === 1) gate[0] = -100;
    const want = oSwiglu(gate, up);
    const dgate64 = Float64Array.from(gate, (x, i) => w[i] * up[i] * sig(x) * (1 + x * (1 - sig(x))));
    const dup64 = Float64Array.from(gate, (x, i) => w[i] * x * sig(x));
    if (n < 100) {
      const g64 = f64(gate), u64 = f64(up), L = () => wsum(w, oSwiglu(g64, u64));
      const [fg, fu] = [fd(g64, L), fd(u64, L)];
      close(dgate64, fg, FD_TIGHT, 'oracle dgate vs fd');
      close(dup64, fu, FD_TIGHT, 'oracle dup vs fd');
    }
    await onBackends(t, (k) => {
      const out = f32(n), dgate = f32(n), dup = f32(n);
      k.swigluForward(gate, up, out, n);
      close(out, want, 1e-6, 'forward');
      k.swigluBackward(w, gate, up, dgate, dup, n);
      close(dgate, dgate64, 1e-6, 'dgate');
      close(dup, dup64, 1e-6, 'dup');
    });
  }
});

test('cross-entropy: losses, float64 sum, ignored targets, dlogits (vs finite differences), in place', async (t) => {
  for (const [N, V, amp] of [[5, 7, 3], [100, 1000, 10], [3, 50257, 30], [4, 1, 1]]) {
    const logits = uniform(N * V, amp), scale = 0.37;
    const targets = i32(Array.from({ length: N }, (_, i) => (i % 3 === 1 ? -1 : randInt(V))));
    const losses64 = oCrossEntropy(logits, targets, V);
    const dl64 = new Float64Array(N * V);
    for (let i = 0; i < N; i++) {
      if (targets[i] < 0) continue;
      const lse = losses64[i] + logits[i * V + targets[i]];
      for (let j = 0; j < V; j++) dl64[i * V + j] = scale * (Math.exp(logits[i * V + j] - lse) - (j === targets[i] ? 1 : 0));
    }
    if (N * V < 100) {
      const x64 = f64(logits);
      close(dl64, fd(x64, () => scale * oCrossEntropy(x64, targets, V).reduce((a, b) => a + b, 0)), FD_TIGHT, 'oracle vs fd');
    }
    await onBackends(t, (k) => {
      const losses = f32(N, () => NaN), dl = f32(N * V, () => NaN);
      const sum = k.crossEntropyForward(logits, targets, losses, N, V);
      close(losses, losses64, 1e-6, 'losses');
      close([sum], [losses64.reduce((a, b) => a + b, 0)], 1e-6, 'sum');
      for (let i = 0; i < N; i++) if (targets[i] < 0) assert.equal(losses[i], 0, 'ignored loss');
      k.crossEntropyBackward(logits, targets, dl, N, V, scale);
      close(dl, dl64, 1e-6, 'dlogits');
      for (let i = 0; i < N; i++) if (targets[i] < 0) assert.ok(dl.subarray(i * V, i * V + V).every((x) => x === 0), 'ignored row');
      const inplace = copy(logits);
      k.crossEntropyBackward(inplace, targets, inplace, N, V, scale);
      close(inplace, dl, 0, 'dlogits === logits');
      assert.throws(() => k.crossEntropyForward(logits, i32([V]), f32(1), 1, V), RangeError);
    });
  }
});

test('add, scale, sumSquares: values and aliasing', async (t) => {
  for (const n of [1, 13, 100003]) {
    const a = uniform(n), b = uniform(n), s = -1.7;
    const sum64 = Float64Array.from(a, (x, i) => x + b[i]), scaled64 = Float64Array.from(a, (x) => x * s);
    let ss = 0;
    for (let i = 0; i < n; i++) ss += a[i] * a[i];
    await onBackends(t, (k) => {
      const out = f32(n);
      k.add(a, b, out, n);
      close(out, sum64, 1e-7, 'add');
      const a1 = copy(a), b1 = copy(b);
      k.add(a1, b, a1, n);
      k.add(a, b1, b1, n);
      close(a1, out, 0, 'add out === a');
      close(b1, out, 0, 'add out === b');
      k.scale(a, s, out, n);
      close(out, scaled64, 1e-7, 'scale');
      k.scale(a1, s, a1, n);
      close(a1, Float64Array.from(sum64, (x) => Math.fround(x) * s), 1e-7, 'scale out === a');
      close([k.sumSquares(a, n)], [ss], 1e-12, 'sumSquares');
    });
  }
});

test('adamw: one step per the PyTorch formula', async (t) => {
  for (const n of [5, 100003]) {
    const p = uniform(n), g = uniform(n), m = uniform(n, 0.1), v = f32(n, () => rand() * 0.01);
    const [lr, b1, b2, eps, wd, step] = [3e-3, 0.9, 0.95, 1e-8, 0.1, 3];
    const bc1 = 1 - b1 ** step, bc2 = 1 - b2 ** step;
    const m64 = Float64Array.from(m, (x, i) => b1 * x + (1 - b1) * g[i]);
    const v64 = Float64Array.from(v, (x, i) => b2 * x + (1 - b2) * g[i] ** 2);
    const dp64 = Float64Array.from(p, (x, i) => -lr * wd * x - (lr * m64[i] / bc1) / (Math.sqrt(v64[i] / bc2) + eps));
    await onBackends(t, (k) => {
      const [pp, mm, vv] = [copy(p), copy(m), copy(v)];
      k.adamw(pp, g, mm, vv, n, lr, b1, b2, eps, wd, bc1, bc2);
      close(mm, m64, 1e-6, 'm');
      close(vv, v64, 1e-6, 'v');
      close(pp.map((x, i) => x - p[i]), dp64, 1e-3, 'p update');
    });
  }
});
