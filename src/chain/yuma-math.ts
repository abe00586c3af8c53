// Vector helpers of Yuma consensus, re-derived in float64 from subtensor's
// pallets/subtensor/src/epoch/math.rs (which uses I32F32 fixed point): normalize, stake-weighted
// median (weighted_median / weighted_median_col_sparse), top-k permits (is_topk_nonzero), u16 proportions,
// and the I32F32 truncations that decide permits and consensus exactly as subtensor does.

/** Sum-to-one copy (subtensor `normalize`); an all-zero vector stays all zero. */
export function normalize(x: ArrayLike<number>): Float64Array {
  const out = Float64Array.from(x as ArrayLike<number>);
  let s = 0;
  for (let i = 0; i < out.length; i++) s += out[i];
  if (s !== 0) for (let i = 0; i < out.length; i++) out[i] /= s;
  return out;
}

/** Element-wise x / y with 0 where y = 0 (subtensor `vecdiv`). */
export function vecdiv(x: ArrayLike<number>, y: ArrayLike<number>): Float64Array {
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = y[i] !== 0 ? x[i] / y[i] : 0;
  return out;
}

/** 2^32: one in subtensor's I32F32 fixed point (32 fractional bits). */
export const FIXED_ONE = 4294967296;

/**
 * x / total as an I32F32 raw integer (the fraction times 2^32, rounded down), as subtensor truncates when it
 * divides fixed-point numbers. Exact (BigInt) when both are safe integers, else float64; 0 when total is 0.
 * A fraction below 2^-32 is 0.
 */
export function fixedFraction(x: number, total: number): number {
  if (!(total > 0) || !(x > 0)) return 0;
  if (Number.isSafeInteger(x) && Number.isSafeInteger(total)) return divFixed(x, total);
  return Math.floor((x / total) * FIXED_ONE);
}

const TWO16 = 65536;
const EXACT = 2 ** 53;
const SMALL = 2 ** 37; // below this, the 16-bit splits below stay exact in float64

/** ⌊x / d⌋ for integers 0 ≤ x < 2^53, 0 < d < 2^53: the float quotient, corrected by its exact remainder. */
function floorDiv(x: number, d: number): number {
  let q = Math.floor(x / d);
  let r = x - q * d;
  while (r < 0) { q--; r += d; }
  while (r >= d) { q++; r -= d; }
  return q;
}

/** I32F32 product of two raw integers, rounded down like fixed-point multiplication: ⌊a·b / 2^32⌋. */
export function mulFixed(a: number, b: number): number {
  if (a === 0 || b === 0) return 0;
  if (a === FIXED_ONE) return b;
  if (b === FIXED_ONE) return a;
  const p = a * b;
  if (Math.abs(p) < EXACT) return Math.floor(p / FIXED_ONE);
  if (a > 0 && b > 0 && a < SMALL && b < SMALL) {
    // a = ah·2^16 + al: a·b / 2^32 = (ah·b) / 2^16 + (al·b) / 2^32, each product exact
    const ah = Math.floor(a / TWO16), al = a - ah * TWO16;
    const x = ah * b, y = al * b;
    const xq = Math.floor(x / TWO16), xr = x - xq * TWO16;
    return xq + Math.floor((xr * TWO16 + y) / FIXED_ONE);
  }
  return Number((BigInt(a) * BigInt(b)) >> 32n);
}

/** I32F32 quotient of two raw integers, rounded down: ⌊a·2^32 / b⌋ (a ≥ 0, b > 0). */
export function divFixed(a: number, b: number): number {
  if (a === 0) return 0;
  if (a < SMALL && b < SMALL) {
    // long division in two 16-bit steps, every product and remainder exact
    const x1 = a * TWO16, q1 = floorDiv(x1, b), r1 = x1 - q1 * b;
    return q1 * TWO16 + floorDiv(r1 * TWO16, b);
  }
  return Number((BigInt(a) << 32n) / BigInt(b));
}

/** Column sums then column division in I32F32 (subtensor `inplace_col_normalize_sparse`); `m` is n × n raw, changed in place. */
export function colNormalizeFixed(m: Float64Array, n: number): void {
  const sum = new Float64Array(n);
  for (let i = 0, k = 0; i < n; i++) for (let j = 0; j < n; j++, k++) if (m[k] !== 0) sum[j] += m[k];
  for (let i = 0, k = 0; i < n; i++) for (let j = 0; j < n; j++, k++) if (m[k] !== 0 && sum[j] !== 0) m[k] = divFixed(m[k], sum[j]);
}

/** Sum-to-one in I32F32 (subtensor `inplace_normalize` on fixed values): raw integers in, raw integers out. */
export function normalizeFixed(raw: ArrayLike<number>): number[] {
  let sum = 0;
  for (let i = 0; i < raw.length; i++) sum += raw[i];
  return Array.from(raw, (x) => (sum === 0 ? x : fixedFraction(x, sum)));
}

/**
 * Stake-weighted median (subtensor math.rs `weighted_median`): the largest score that at least `majority`
 * (= Σstake − minority) of the stake supports, found like subtensor by a partition search around a middle
 * pivot. Equal scores form one group; the search goes below the pivot only when the stake under it exceeds
 * `minority` strictly, and above it when the stake at or under it is at most `minority` — which fixes how an
 * exact tie at the kappa boundary breaks (to the higher score). Works on floats and on I32F32 raw integers
 * (exact: only sums and comparisons). An empty input gives 0.
 */
export function weightedMedian(stake: ArrayLike<number>, score: ArrayLike<number>, minority: number): number {
  let part = Array.from({ length: stake.length }, (_, i) => i);
  let lo = 0, hi = 0;
  for (let i = 0; i < stake.length; i++) hi += stake[i];
  for (let guard = 0; guard <= stake.length; guard++) {
    if (part.length === 0) return 0;
    if (part.length === 1) return score[part[0]];
    const pivot = score[part[part.length >> 1]];
    const lower: number[] = [], upper: number[] = [];
    let loStake = 0, hiStake = 0;
    for (const i of part) {
      if (score[i] < pivot) { lower.push(i); loStake += stake[i]; } else if (score[i] > pivot) { upper.push(i); hiStake += stake[i]; }
    }
    if (minority < lo + loStake && lower.length > 0) { part = lower; hi = lo + loStake; }
    else if (hi - hiStake <= minority && upper.length > 0) { part = upper; lo = hi - hiStake; }
    else return pivot;
  }
  return 0;
}

/**
 * Column-wise stake-weighted median (subtensor `weighted_median_col_sparse`): rows with stake > 0 take part,
 * their stake is renormalized, minority = Σ(normalized stake) − majority. `score` is row-major rows × cols.
 * `fixed`: stake, score and majority are I32F32 raw integers and the renormalization truncates like subtensor's.
 */
export function weightedMedianCol(stake: ArrayLike<number>, score: ArrayLike<number>, cols: number, majority: number, fixed = false): Float64Array {
  const rows: number[] = [];
  for (let r = 0; r < stake.length; r++) if (stake[r] > 0) rows.push(r);
  const median = new Float64Array(cols);
  if (rows.length === 0) return median;
  const picked = rows.map((r) => stake[r]);
  const useStake = fixed ? normalizeFixed(picked) : Array.from(normalize(picked));
  let stakeSum = 0;
  for (const s of useStake) stakeSum += s;
  const minority = stakeSum - majority;
  const col = new Float64Array(rows.length);
  for (let c = 0; c < cols; c++) {
    for (let k = 0; k < rows.length; k++) col[k] = score[rows[k] * cols + c];
    median[c] = weightedMedian(useStake, col, minority);
  }
  return median;
}

/**
 * Validator permits (subtensor `is_topk_nonzero`): the k largest non-zero entries. Ties break like
 * subtensor's ascending *stable* sort that drops the first n − k: among equals, higher uids win.
 */
export function isTopkNonzero(x: ArrayLike<number>, k: number): boolean[] {
  const n = x.length;
  const out = Array.from({ length: n }, (_, i) => x[i] !== 0);
  if (n < k) return out;
  const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => x[a] - x[b] || a - b);
  for (let i = 0; i < n - k; i++) out[idx[i]] = false;
  return out;
}

/** A [0, 1] proportion as subtensor stores it: floor(x · 65535), saturating (`fixed_proportion_to_u16`). */
export function toU16Proportion(x: number): number {
  if (!(x > 0)) return 0;
  return Math.min(65535, Math.floor(x * 65535));
}

/** A proportion quantized as subtensor stores it in u16 and read back as a fraction: toU16Proportion(x) / 65535. */
export const u16Quantize = (x: number): number => toU16Proportion(x) / 65535;
