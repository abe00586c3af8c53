// Cheap, exact-to-recompute summaries of a SparseLoCo update: its L2 norm (as the aggregator defines
// it) and a bottom-k sketch of its top-k index set. Two sketches estimate the overlap |A∩B| / k of
// the index sets (Broder's bottom-k Jaccard estimate; error ~ 1/√size): honest miners overlap ~10%
// (shared large-gradient coordinates), a copy or a re-sent old update overlaps 100%.
import { chunksOf, type TensorShape } from '../compress/geometry.js';
import type { CodecConfig, SparseUpdate } from '../compress/types.js';

/** ‖update‖₂ = sqrt(Σ_t Σ_b n_tb · table_tb²) in float64, tensors then bins (compress/aggregate.ts's peer norm). */
export function updateNorm(update: SparseUpdate): number {
  let s = 0;
  for (const t of update.tensors) {
    const n = [0, 0, 0, 0];
    for (let j = 0; j < t.codes.length; j++) n[t.codes[j]! & 3]! += 1;
    for (let b = 0; b < 4; b++) if (n[b]! > 0) s += n[b]! * t.table[b]! * t.table[b]!;
  }
  return Math.sqrt(s);
}

/** murmur3's 32-bit finalizer: a bijective mix of a u32. */
function fmix32(h: number): number {
  h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Hash of a kept position (tensor t, chunk c, chunk-local index p). */
const keyHash = (t: number, c: number, p: number): number => fmix32(Math.imul(t + 1, 0x9e3779b1) ^ fmix32(Math.imul(c + 1, 0x27d4eb2f) ^ p));

/**
 * The `size` smallest distinct hashes of the update's kept positions, ascending, leaving out chunks that
 * keep every value (vectors are sent whole: their positions are the same in every upload). The chunk of each kept
 * value comes from the codec geometry (every chunk keeps exactly k values), so equal index sets give
 * equal sketches whatever the values or the window.
 */
export function indexSketch(update: SparseUpdate, shapes: readonly TensorShape[], cfg: CodecConfig, size: number): number[] {
  const best = new Uint32Array(size);
  let n = 0;
  const offer = (h: number): void => {
    if (n === size && h >= best[size - 1]!) return;
    let lo = 0, hi = n;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (best[mid]! < h) lo = mid + 1; else hi = mid; }
    if (lo < n && best[lo] === h) return;
    const end = Math.min(n, size - 1);
    best.copyWithin(lo + 1, lo, end);
    best[lo] = h;
    if (n < size) n++;
  };
  update.tensors.forEach((t, ti) => {
    const chunks = chunksOf(shapes[ti]!, cfg);
    let j = 0;
    chunks.forEach((ch, c) => {
      // A chunk that keeps every value (a vector, sent whole) has the same positions in every upload: no evidence of copying.
      if (ch.k >= ch.size) { j += ch.k; return; }
      for (let q = 0; q < ch.k && j < t.idx.length; q++, j++) offer(keyHash(ti, c, t.idx[j]!));
    });
  });
  return Array.from(best.subarray(0, n));
}

/**
 * Per tensor: the update's kept positions in chunks that do not keep every value (its weight in a
 * tensor comparison) and a bottom-`size` sketch of them (indexSketch restricted to the tensor).
 * Tensors with no such positions (vectors, sent whole) get { kept: 0, sketch: [] }.
 */
export function tensorSketches(update: SparseUpdate, shapes: readonly TensorShape[], cfg: CodecConfig, size: number): { kept: number; sketch: number[] }[] {
  return update.tensors.map((t, ti) => {
    let kept = 0;
    for (const ch of chunksOf(shapes[ti]!, cfg)) if (ch.k < ch.size) kept += ch.k;
    // The tensor alone (hashed as tensor 0): one pass over its own chunks; only equal tensors are compared.
    return { kept, sketch: kept > 0 ? indexSketch({ tensors: [t] }, [shapes[ti]!], cfg, size) : [] };
  });
}

/**
 * The share of two uploads' kept positions (by the first's tensor weights) in tensors whose index sets
 * overlap ≥ threshold: a stitched upload — tensors taken whole from other uploads — shares whole tensors
 * with each source although its whole-upload overlap with any one stays low.
 */
export function tensorCopyShare(a: readonly { kept: number; sketch: readonly number[] }[], b: readonly { kept: number; sketch: readonly number[] }[], threshold: number, size: number): number {
  const shared = sharedTensors(a, b, threshold, size);
  let total = 0, copied = 0;
  a.forEach((x, i) => { total += x.kept; if (shared.has(i)) copied += x.kept; });
  return total > 0 ? copied / total : 0;
}

/** Indices of the tensors (with kept positions) whose sketches overlap ≥ threshold: the tensors two uploads share whole. */
export function sharedTensors(a: readonly { kept: number; sketch: readonly number[] }[], b: readonly { kept: number; sketch: readonly number[] }[], threshold: number, size: number): Set<number> {
  const out = new Set<number>();
  a.forEach((x, i) => { const y = b[i]; if (y && x.kept > 0 && y.kept > 0 && sketchOverlap(x.sketch, y.sketch, size) >= threshold) out.add(i); });
  return out;
}

/**
 * Estimated overlap |A∩B| / |A| of two index sets of equal size from their `size`-value sketches:
 * Jaccard J from the bottom-`size` of the union, then 2J / (1 + J). Exact when the sets themselves are
 * smaller than the sketch (the sketches then hold them whole).
 */
export function sketchOverlap(a: readonly number[], b: readonly number[], size = Math.max(a.length, b.length)): number {
  const k = size;
  if (k === 0 || (a.length === 0 && b.length === 0)) return 0;
  const inB = new Set(b), inA = new Set(a);
  const union = [...new Set([...a, ...b])].sort((x, y) => x - y).slice(0, k);
  let both = 0;
  for (const h of union) if (inA.has(h) && inB.has(h)) both++;
  const J = both / union.length;
  return (2 * J) / (1 + J);
}
