// Sync score (docs/protocol.md "Gauntlet"): a miner publishes, after applying window W, its parameter
// values at probeIndices(W). The validator compares them with its own θ at the same indices, in
// units of a typical per-window change of those values: "windows behind". 0 behind → 1; the score
// falls linearly and reaches 0 at syncMaxBehind (T: 3) windows behind.

/** Mean |a_i − b_i|; NaN when the lengths differ or are 0 (a malformed probe). */
export function meanAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length || a.length === 0) return NaN;
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i]! - b[i]!);
  return s / a.length;
}

/**
 * Windows behind = mean |probe − θ| / typical per-window change. An identical probe is 0 behind even
 * when nothing changed; any difference with no measurable change is infinitely behind (null: the
 * probe does not match the validator's model at all).
 */
export function windowsBehind(probe: ArrayLike<number>, model: ArrayLike<number>, typicalChange: number): number | null {
  const d = meanAbsDiff(probe, model);
  if (!Number.isFinite(d)) return null;
  if (d === 0) return 0;
  return typicalChange > 0 && Number.isFinite(typicalChange) ? d / typicalChange : null;
}

/** 1 − behind / maxBehind, clamped to [0, 1]; null (no probe, unusable probe) → 0. */
export function syncScore(behind: number | null, maxBehind: number): number {
  if (behind === null || !Number.isFinite(behind)) return 0;
  return Math.min(1, Math.max(0, 1 - behind / maxBehind));
}

/** The typical per-window change: a moving average (T: α 0.2) of mean |θ_W+1 − θ_W| at the probe indices. */
export function foldChange(prev: number | null, change: number, alpha = 0.2): number {
  return prev === null || !(prev > 0) ? change : (1 - alpha) * prev + alpha * change;
}
