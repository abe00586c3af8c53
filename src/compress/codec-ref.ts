// The TypeScript reference of the SparseLoCo encoder's hot path: error feedback, chunked top-k,
// 2-bit quantization, residual. native/compress.cc implements the same steps and must produce the
// same bytes; every float32 operation here is spelled out (Math.fround / Float32Array stores) so
// that it rounds exactly like the C++ single-precision code (no FMA there: contraction is off).
//
// Float32 results computed in float64 and then rounded are exact: the sum, difference or product of
// two float32 values rounded once to float64 and once to float32 equals the correctly rounded float32
// result (53 ≥ 2·24 + 2), so `f32[i] = fround(b·e) + d` matches C++ `b * e + d` in float.
import { TesseraError } from '../util/errors.js';
import { flatIndex } from './geometry.js';
import { roundHalf } from './half.js';
import type { TensorPlan } from './plan.js';
import { MAX_CHUNK } from './plan.js';
import type { SparseTensor } from './types.js';

/** Bit patterns at or above this are ±Infinity or NaN. */
export const NON_FINITE = 0x7f800000;

/**
 * Top-k of one chunk. keys[p] = bit pattern of |a_p| (sign cleared): for non-negative floats the
 * integer order is the numeric order, so "largest |a|, then lowest position" is exact and free of
 * float comparisons. Cut into k groups, the smallest group maximum L bounds the k-th largest key T
 * from below (k keys are ≥ L), so only keys ≥ L are candidates (collected in position order); T is
 * found by sorting a copy of them. Keeps every key > T and the lowest-positioned ties key = T.
 * Writes the kept positions (ascending) to idx[out..out+k) and their values to vals.
 */
export function selectChunk(buf: Float32Array, keys: Uint32Array, n: number, k: number, cand: Uint32Array,
  cpos: Uint16Array, tmp: Uint32Array, idx: Uint16Array, vals: Float32Array, out: number): void {
  let L = 0xffffffff;
  for (let j = 0; j < k; j++) {
    const e = Math.floor(((j + 1) * n) / k);
    let mx = 0;
    for (let p = Math.floor((j * n) / k); p < e; p++) if (keys[p] > mx) mx = keys[p];
    if (mx < L) L = mx;
  }
  let m = 0;
  for (let p = 0; p < n; p++) {
    if (keys[p] >= L) {
      cand[m] = keys[p];
      cpos[m++] = p;
    }
  }
  const t = tmp.subarray(0, m);
  t.set(cand.subarray(0, m));
  t.sort(); // numeric ascending
  const T = t[m - k];
  let greater = 0;
  for (let j = m - 1; j >= 0 && t[j] > T; j--) greater++;
  let ties = k - greater; // how many positions with key = T are kept (the lowest ones)
  let o = out;
  for (let j = 0; j < m; j++) {
    const key = cand[j];
    if (key > T || (key === T && ties-- > 0)) {
      idx[o] = cpos[j];
      vals[o++] = buf[cpos[j]];
    }
  }
}

/**
 * 2-bit quantization of one tensor's kept values (in kept order), float64 throughout:
 * μ = mean, σ = population std, u = clamp((v − μ)/(1.5σ), −1, 1), bin = min(3, ⌊2(u + 1)⌋)
 * (σ = 0 → u = 0 → bin 2 for all); table[b] = half(fround(mean of the values in bin b)), 0 when empty:
 * the mean rounded to float32, then to IEEE binary16 (half.ts), before the residual is computed, so
 * the error feedback is exact against the table the payload carries (v3: 16-bit tables).
 * Sums run sequentially in kept order, exactly like the native code.
 */
export function quantize(vals: Float32Array, codes: Uint8Array, table: Float32Array): void {
  const n = vals.length;
  table.fill(0);
  if (n === 0) return;
  let sum = 0;
  for (let j = 0; j < n; j++) sum += vals[j];
  const mu = sum / n;
  let ss = 0;
  for (let j = 0; j < n; j++) {
    const d = vals[j] - mu;
    ss += d * d;
  }
  const sigma = Math.sqrt(ss / n);
  const scale = 1.5 * sigma;
  const bsum = [0, 0, 0, 0], bcnt = [0, 0, 0, 0];
  for (let j = 0; j < n; j++) {
    const v = vals[j];
    let bin = 2;
    if (sigma > 0) {
      let u = (v - mu) / scale;
      if (u < -1) u = -1;
      else if (u > 1) u = 1;
      bin = Math.floor((u + 1) * 2);
      if (bin > 3) bin = 3;
    }
    codes[j] = bin;
    bsum[bin] += v;
    bcnt[bin]++;
  }
  for (let b = 0; b < 4; b++) table[b] = bcnt[b] > 0 ? roundHalf(bsum[b] / bcnt[b]) : 0; // halfBits rounds to float32 first
}

const one = new Float32Array(1), oneBits = new Uint32Array(one.buffer);

/** The next float32 above x (C's nextafterf(x, +∞)). */
export function nextUp32(x: number): number {
  if (x !== x || x === Infinity) return x;
  if (x === 0) return 1.401298464324817e-45;
  one[0] = x;
  if (x > 0) oneBits[0]++;
  else oneBits[0]--;
  return one[0];
}

/** The next float32 below x (C's nextafterf(x, −∞)). */
export const nextDown32 = (x: number): number => -nextUp32(-x);

/**
 * Error-feedback residual of a kept value a that was sent as s: a float32 e with fround(s + e) === a.
 * fl(a − s) is the float nearest to the exact a − s, but s + fl(a − s) can still round to a
 * neighbour of a: when a − s is not representable, its rounding error (half an ulp of a − s) can
 * exceed half an ulp of a — |a − s| > |a| happens when s has the other sign or |s| > 2|a| (inside
 * Sterbenz's range s ∈ [a/2, 2a] the difference is exact) — and at exact ties round-to-even may pick
 * the wrong side. fround(s + e) is monotone in e and the solutions lie next to the exact a − s, so
 * the only other candidate is the float one ulp beyond fl(a − s) on the side of a: if neither works,
 * none does (e.g. a = 1e-8 sent as 0.3, where s + e moves in steps of ulp(0.3) ≫ a), and e stays the
 * nearest float to a − s, off by under half an ulp of it.
 */
export function residual(a: number, s: number): number {
  const r = Math.fround(a - s);
  const f = Math.fround(s + r);
  if (f === a) return r;
  const r2 = f < a ? nextUp32(r) : f > a ? nextDown32(r) : r;
  return Math.fround(s + r2) === a ? r2 : r;
}

/**
 * Whole encoder on the TS path. Pass 1 (top-k) only reads delta and ef, so a non-finite input
 * throws before ef is touched; pass 3 writes ef = a, then the residuals at the kept positions.
 */
export function compressTs(delta: Float32Array, ef: Float32Array, plans: TensorPlan[], beta: number): SparseTensor[] {
  const bf = Math.fround(beta);
  const buf = new Float32Array(MAX_CHUNK), bufBits = new Uint32Array(buf.buffer);
  const keys = new Uint32Array(MAX_CHUNK), cand = new Uint32Array(MAX_CHUNK), tmp = new Uint32Array(MAX_CHUNK);
  const cpos = new Uint16Array(MAX_CHUNK);
  const out: SparseTensor[] = [];
  const kept: Float32Array[] = [];
  for (const t of plans) {
    const idx = new Uint16Array(t.kept), vals = new Float32Array(t.kept);
    let o = 0;
    for (const ch of t.chunks) {
      const h = ch.size / ch.width;
      let p = 0, maxKey = 0;
      for (let r = 0; r < h; r++) {
        let i = t.offset + ch.base + r * ch.rowStride;
        for (let c = 0; c < ch.width; c++, i++, p++) buf[p] = Math.fround(bf * ef[i]) + delta[i];
      }
      for (p = 0; p < ch.size; p++) {
        const key = bufBits[p] & 0x7fffffff;
        keys[p] = key;
        if (key > maxKey) maxKey = key;
      }
      if (maxKey >= NON_FINITE) throw nonFinite(t.offset + ch.base);
      selectChunk(buf, keys, ch.size, ch.k, cand, cpos, tmp, idx, vals, o);
      o += ch.k;
    }
    out.push({ idx, codes: new Uint8Array(t.kept), table: new Float32Array(4) });
    kept.push(vals);
  }
  for (let ti = 0; ti < plans.length; ti++) quantize(kept[ti], out[ti].codes, out[ti].table);
  for (let ti = 0; ti < plans.length; ti++) {
    const t = plans[ti], { idx, codes, table } = out[ti], vals = kept[ti];
    for (let i = t.offset, end = t.offset + t.size; i < end; i++) ef[i] = Math.fround(bf * ef[i]) + delta[i];
    let j = 0;
    for (const ch of t.chunks) {
      for (let q = 0; q < ch.k; q++, j++) ef[t.offset + flatIndex(ch, idx[j])] = residual(vals[j], table[codes[j]]);
    }
  }
  return out;
}

export function nonFinite(at: number): TesseraError {
  return new TesseraError(`codec: the pseudo-gradient or error feedback is not finite near flat index ${at}`,
    'a diverged inner step produced Inf/NaN; error feedback was left unchanged');
}
