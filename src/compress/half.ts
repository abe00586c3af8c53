// IEEE 754 binary16 ("half") for the SparseLoCo bin-mean tables (payload v3, docs/protocol.md
// "2-bit quantization"): the encoder rounds each float32 bin mean to half before it computes the
// error-feedback residual, and the wire carries the 16 bits. Integer operations on the float32 bit
// pattern only, so native/compress.cc (halfBits / halfValue there) rounds identically.
//
// Why half and not bfloat16 (scripts/table16-measure.mjs on real training, bench/codec.md): at the
// protocol's H = 30 the update decoded from a half table is 1.5–2.1e-4 away (relative) from the
// float32 one, from a bfloat16 table 1.2–1.8e-3; bfloat16 only wins on the tiny updates of single
// inner steps at lr ≈ 2e-6 (bin means below half's normal range, 6.1e-5). Both are far below the
// 2-bit quantization error itself (5–10%), and the residual keeps what rounding removes.

const f = new Float32Array(1), u = new Uint32Array(f.buffer);

/** Largest finite half, 65504: bin means beyond it are saturated there (the residual keeps the rest). */
export const HALF_MAX = 65504;

/**
 * The binary16 bit pattern nearest to the float32 value x (round to nearest, ties to even), with
 * magnitudes that would round past 65504 saturated to ±65504 and NaN → 0x7e00. Subnormal halves
 * (|x| < 2^-14) keep a fixed quantum of 2^-24; |x| ≤ 2^-25 becomes ±0.
 */
export function halfBits(x: number): number {
  f[0] = x;
  const a = u[0]! & 0x7fffffff, sign = (u[0]! >>> 16) & 0x8000;
  if (a > 0x7f800000) return 0x7e00;
  if (a >= 0x477ff000) return sign | 0x7bff; // ≥ 65520 rounds to ∞ in binary16: saturate
  if (a >= 0x38800000) { // ≥ 2^-14: normal half, exponent rebiased by 127 − 15
    let h = (a - 0x38000000) >>> 13;
    const rem = a & 0x1fff;
    if (rem > 0x1000 || (rem === 0x1000 && (h & 1) === 1)) h++;
    return sign | h;
  }
  if (a <= 0x33000000) return sign; // ≤ 2^-25: rounds to zero (2^-25 itself is the tie to even 0)
  const shift = 126 - (a >>> 23), mant = (a & 0x7fffff) | 0x800000; // value = mant·2^(e−150) = (mant >> shift)·2^-24
  let h = mant >>> shift;
  const rem = mant & ((1 << shift) - 1), halfway = 1 << (shift - 1);
  if (rem > halfway || (rem === halfway && (h & 1) === 1)) h++;
  return sign | h;
}

/** The value of a binary16 bit pattern (exact in float32 and float64). */
export function halfValue(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >>> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m === 0 ? s * Infinity : NaN;
  return s * (1024 + m) * 2 ** (e - 25);
}

/** x (a float32 value) rounded to the nearest half, as a number: what the encoder puts in a table. */
export const roundHalf = (x: number): number => halfValue(halfBits(x));
