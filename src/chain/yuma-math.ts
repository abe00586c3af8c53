// Vector helpers of Yuma consensus, re-derived in float64 from subtensor's
// pallets/subtensor/src/epoch/math.rs (which uses I32F32 fixed point): normalize, stake-weighted
// median (weighted_median / weighted_median_col), top-k permits (is_topk_nonzero), u16 proportions.

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

/**
 * Stake-weighted median (subtensor `weighted_median`): the smallest score s whose cumulative stake
 * (scores sorted ascending, ties grouped) exceeds `minority` = Σstake − majority. So the result is
 * the largest score that at least `majority` (kappa) of the stake supports. subtensor finds it by
 * a mid-pivot partition search; sorting gives the same value. If no group passes (minority ≥ Σ),
 * the search ends on the highest score; an empty input gives 0.
 */
export function weightedMedian(stake: ArrayLike<number>, score: ArrayLike<number>, minority: number): number {
  const n = stake.length;
  if (n === 0) return 0;
  const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => score[a] - score[b]);
  let cum = 0;
  for (let k = 0; k < n; ) {
    const v = score[idx[k]];
    while (k < n && score[idx[k]] === v) cum += stake[idx[k++]];
    if (cum > minority) return v;
  }
  return score[idx[n - 1]];
}

/**
 * Column-wise stake-weighted median (subtensor `weighted_median_col`): rows with stake > 0 take
 * part, their stake is renormalized, minority = Σ(normalized stake) − majority.
 * `score` is row-major rows × cols; returns one consensus value per column.
 */
export function weightedMedianCol(stake: ArrayLike<number>, score: ArrayLike<number>, cols: number, majority: number): Float64Array {
  const rows: number[] = [];
  for (let r = 0; r < stake.length; r++) if (stake[r] > 0) rows.push(r);
  const median = new Float64Array(cols);
  if (rows.length === 0) return median;
  const useStake = normalize(rows.map((r) => stake[r]));
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
