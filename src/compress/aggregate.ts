// SparseLoCo aggregation (docs/protocol.md "SparseLoCo"): dequantize each peer, clip each tensor to that
// tensor's median peer norm (Templar's rule), per-coordinate mean over the peers that sent the coordinate,
// θ ← θ − α·agg; plus a model fingerprint.
// A sender may hold only some tensors (SparseUpdate.held: a pipeline group missing a stage); its other
// tensors count as not sent (nor in that tensor's median), and such an aggregate runs on the TS path (same definition, same bits).
// Native hot loop (native/aggregate.cc) and a TS reference that give the same bits, for any thread count.
//
// Exact definition (what "bit-identical" means; f32 = round to float32, peers in the given order):
//   ‖peer, t‖ = sqrt(Σ_b n_tb · table_tb²) in float64, bins in order (n_tb = codes of tensor t equal to b)
//   median_t = lower median of ‖·, t‖ over the peers (the ⌈P/2⌉-th smallest, as torch.median takes it)
//   scale_pt = min(1, median_t / ‖p, t‖), 0 if ‖p, t‖ = 0
//   v = f32(table[code] · scale_pt);  sum_j = float32 running sum of v over peers;  agg_j = f32(sum_j / cnt_j), 0 if cnt_j = 0
//   θ_j = f32(θ_j − α·agg_j) evaluated in float64 (no fused multiply-add)
import { createHash } from 'node:crypto';
import { loadNativeAddon } from '../engine/native.js';
import { chunksOf, type TensorShape } from './geometry.js';
import type { CodecConfig, SparseUpdate } from './types.js';

/** Where a tensor lives in the flat parameter vector (a ParamSpec fits). */
export interface TensorPlace { offset: number; shape: readonly number[] }

export interface AggregateOptions {
  /** 'auto' (default): native when the addon is built, else TS. 'native' throws when it is missing. */
  impl?: 'auto' | 'native' | 'ts';
}

export interface AggregateStats {
  peers: number;
  /** Peer uids in aggregation order (aggregateByUid only). */
  uids?: number[];
  /** ‖dequantized values‖₂ per peer over the whole update (float64; reported, not used to clip). */
  norms: number[];
  /** ‖dequantized values of tensor t‖₂ per peer: tensorNorms[p][t]. */
  tensorNorms: number[][];
  /** Per tensor, the lower median of the peers' norms of that tensor (lowerMedian); 0 without peers. */
  tensorMedians: number[];
  /** Clip scale per peer and tensor: scales[p][t] = min(1, tensorMedians[t] / tensorNorms[p][t]); 0 for a zero norm. */
  scales: number[][];
  /** Peers with at least one tensor scaled below 1. */
  clipped: number;
  /** Kept values per peer. */
  kept: number[];
  /** Coordinates at least one peer sent, and the dense length. */
  covered: number;
  total: number;
  impl: 'native' | 'ts';
}

interface AggregateAddon {
  aggregateScan(idx: Uint16Array[], codes: Uint8Array[], chunks: Float64Array, tensorChunks: Int32Array, hist: Float64Array): number;
  aggregateApply(idx: Uint16Array[], codes: Uint8Array[], chunks: Float64Array, T: number, scaled: Float32Array,
    out: Float32Array | null, params: Float32Array | null, alpha: number, covered: Float64Array): number;
  outerStep(params: Float32Array, agg: Float32Array, alpha: number): void;
}

const ROW = 7; // chunk table row: tensor, size, k, base (absolute flat offset), width, rowStride, voff (value offset)

interface Plan {
  table: Float64Array;
  tensorChunks: Int32Array; // chunks of tensor t: [tensorChunks[t], tensorChunks[t+1])
  kept: number[];           // values per tensor
  maxSize: number;
  gaps: [number, number][]; // [start, end) of coordinates no tensor covers
}

const plans = new WeakMap<object, Map<string, Plan>>();

/** Chunk table of a layout (cached per specs array, cfg and total). */
function planOf(specs: readonly TensorPlace[], cfg: CodecConfig, total: number): Plan {
  const key = `${cfg.tile}/${cfg.vectorChunk}/${cfg.topk}/${total}`;
  let m = plans.get(specs);
  const hit = m?.get(key);
  if (hit) return hit;
  const rows: number[] = [], tensorChunks = new Int32Array(specs.length + 1), kept: number[] = [];
  const spans: [number, number][] = [];
  let maxSize = 1;
  specs.forEach((s, t) => {
    if (s.shape.length !== 1 && s.shape.length !== 2) throw new RangeError(`aggregate: tensor ${t} must be 1-D or 2-D`);
    const size = s.shape.reduce((a, b) => a * b, 1);
    if (!Number.isInteger(s.offset) || s.offset < 0 || s.offset + size > total) throw new RangeError(`aggregate: tensor ${t} lies outside [0, ${total})`);
    spans.push([s.offset, s.offset + size]);
    let voff = 0;
    for (const ch of chunksOf(s.shape as TensorShape, cfg)) {
      rows.push(t, ch.size, ch.k, s.offset + ch.base, ch.width, ch.rowStride, voff);
      voff += ch.k;
      maxSize = Math.max(maxSize, ch.size);
    }
    if (maxSize > 65536) throw new RangeError('aggregate: chunks above 65536 values do not fit 16-bit indices');
    kept.push(voff);
    tensorChunks[t + 1] = rows.length / ROW;
  });
  spans.sort((a, b) => a[0] - b[0]);
  const gaps: [number, number][] = [];
  let pos = 0;
  for (const [a, b] of spans) {
    if (a < pos) throw new RangeError('aggregate: tensors overlap');
    if (a > pos) gaps.push([pos, a]);
    pos = b;
  }
  if (pos < total) gaps.push([pos, total]);
  const plan: Plan = { table: Float64Array.from(rows), tensorChunks, kept, maxSize, gaps };
  if (!m) plans.set(specs, (m = new Map()));
  m.set(key, plan);
  return plan;
}

function addonFor(impl: AggregateOptions['impl']): AggregateAddon | null {
  if (impl === 'ts') return null;
  const a = loadNativeAddon() as unknown as Partial<AggregateAddon> | null;
  const ok = !!a && typeof a.aggregateApply === 'function' && typeof a.aggregateScan === 'function';
  if (!ok && impl === 'native') throw new Error('aggregate: native addon (with aggregateApply) is not built; run "npm run build:native"');
  return ok ? (a as AggregateAddon) : null;
}

/** TS twin of aggregateScan: validates indices/codes and counts codes per bin; -1 or the first bad pair p·T + t. */
function scanTs(idx: Uint16Array[], codes: Uint8Array[], plan: Plan, hist: Float64Array, held: Uint8Array | null = null): number {
  const T = plan.kept.length, tab = plan.table;
  let bad = -1;
  for (let q = 0; q < idx.length; q++) {
    if (held && !held[q]) continue;
    const ip = idx[q]!, cp = codes[q]!, t = q % T;
    let ok = true;
    for (let c = plan.tensorChunks[t]!; c < plan.tensorChunks[t + 1]! && ok; c++) {
      const size = tab[c * ROW + 1]!, k = tab[c * ROW + 2]!, voff = tab[c * ROW + 6]!;
      let prev = -1;
      for (let j = voff; j < voff + k; j++) {
        const p = ip[j]!, code = cp[j]!;
        if (p <= prev || p >= size || code > 3) { ok = false; break; }
        prev = p;
        hist[q * 4 + code] += 1;
      }
    }
    if (!ok && bad < 0) bad = q;
  }
  return bad;
}

/** TS twin of aggregateApply (same operation order and roundings; see native/aggregate.cc). */
function applyTs(idx: Uint16Array[], codes: Uint8Array[], plan: Plan, scaled: Float32Array,
  out: Float32Array | null, params: Float32Array | null, alpha: number, covered: Float64Array, held: Uint8Array | null = null): void {
  const T = plan.kept.length, P = idx.length / T, tab = plan.table, nch = tab.length / ROW;
  const sum = new Float32Array(plan.maxSize), cnt = new Uint32Array(plan.maxSize);
  for (let c = 0; c < nch; c++) {
    const o = c * ROW, t = tab[o]!, size = tab[o + 1]!, k = tab[o + 2]!, base = tab[o + 3]!;
    const width = tab[o + 4]!, stride = tab[o + 5]!, voff = tab[o + 6]!;
    for (let p = 0; p < P; p++) {
      const q = p * T + t, ip = idx[q]!, cp = codes[q]!, so = q * 4;
      if (held && !held[q]) continue;
      for (let j = voff; j < voff + k; j++) {
        const pos = ip[j]!;
        sum[pos] += scaled[so + (cp[j]! & 3)]!; // float32 add: the double sum of two floats, rounded once
        cnt[pos] += 1;
      }
    }
    let cov = 0;
    for (let r = 0, i = 0; r < size / width; r++) {
      const row = base + r * stride;
      for (let x = 0; x < width; x++, i++) {
        const n = cnt[i]!;
        const m = n ? Math.fround(sum[i]! / n) : 0; // = float32 division (double has ≥ 2·24+2 bits)
        if (n) cov++;
        if (out) out[row + x] = m;
        if (params) params[row + x] = params[row + x]! - alpha * m; // θ = f32(θ − α·m), float64 inside
        sum[i] = 0;
        cnt[i] = 0;
      }
    }
    covered[c] = cov;
  }
}

/** Shared core: validate, norms, median clip, then scatter-mean (and the outer step when params is given). */
function run(peers: readonly SparseUpdate[], specs: readonly TensorPlace[], cfg: CodecConfig, total: number,
  out: Float32Array | null, params: Float32Array | null, alpha: number, opts: AggregateOptions): AggregateStats {
  if (out && out.length !== total) throw new RangeError(`aggregate: out has ${out.length} values, expected ${total}`);
  if (params && params.length !== total) throw new RangeError(`aggregate: params has ${params.length} values, expected ${total}`);
  const plan = planOf(specs, cfg, total), T = specs.length, P = peers.length;
  // Partial senders (pipeline stages, SparseUpdate.held) take the TS path: the same bits, see applyTs.
  const partial = peers.some((u) => u.held && u.held.some((h) => !h));
  const held = partial ? new Uint8Array(P * T) : null;
  const addon = partial ? null : addonFor(opts.impl);
  const idx: Uint16Array[] = [], codes: Uint8Array[] = [];
  peers.forEach((u, p) => {
    if (u.tensors.length !== T) throw new RangeError(`aggregate: peer ${p} has ${u.tensors.length} tensors, expected ${T}`);
    if (u.held && u.held.length !== T) throw new RangeError(`aggregate: peer ${p} says which of ${u.held.length} tensors it holds, expected ${T}`);
    u.tensors.forEach((s, t) => {
      if (held) held[p * T + t] = !u.held || u.held[t] ? 1 : 0;
      if (held && !held[p * T + t]) { idx.push(new Uint16Array(0)); codes.push(new Uint8Array(0)); return; }
      if (s.idx.length !== plan.kept[t] || s.codes.length !== plan.kept[t] || s.table.length !== 4)
        throw new RangeError(`aggregate: peer ${p} tensor ${t}: expected ${plan.kept[t]} indices and codes and a 4-entry table`);
      idx.push(s.idx);
      codes.push(s.codes);
    });
  });
  const hist = new Float64Array(P * T * 4);
  const bad = P === 0 || T === 0 ? -1 : addon ? addon.aggregateScan(idx, codes, plan.table, plan.tensorChunks, hist) : scanTs(idx, codes, plan, hist, held);
  if (bad >= 0) throw new RangeError(`aggregate: peer ${Math.floor(bad / T)} tensor ${bad % T}: indices must ascend strictly within a chunk and stay inside it; codes must be 0..3`);
  // ‖p, t‖² = Σ_b n_tb · table_tb² (float64, bins in order: exact counts, same on both paths).
  const tensorNorms = peers.map((u, p) => u.tensors.map((st, t) => {
    let s = 0;
    for (let b = 0; b < 4; b++) {
      const n = hist[(p * T + t) * 4 + b]!, v = st.table[b]!;
      if (n === 0) continue;
      if (!Number.isFinite(v)) throw new RangeError(`aggregate: peer ${p} tensor ${t}: table entry ${b} is not finite`);
      s += n * v * v;
    }
    return s;
  }));
  const norms = tensorNorms.map((sq) => Math.sqrt(sq.reduce((a, b) => a + b, 0)));
  for (const sq of tensorNorms) for (let t = 0; t < T; t++) sq[t] = Math.sqrt(sq[t]!);
  // The clip level of tensor t: the lower median over the peers that hold t (a partial sender's missing tensors do not count).
  const tensorMedians = Array.from({ length: T }, (_, t) => lowerMedian(tensorNorms.filter((_, p) => !held || held[p * T + t]).map((n) => n[t]!)));
  const scales = tensorNorms.map((ns) => ns.map((n, t) => (n > 0 ? Math.min(1, tensorMedians[t]! / n) : 0)));
  // Scaled tables: f32(table_b · scale_pt), computed once here for both paths.
  const scaled = new Float32Array(P * T * 4);
  peers.forEach((u, p) => u.tensors.forEach((st, t) => {
    for (let b = 0; b < 4; b++) scaled[(p * T + t) * 4 + b] = st.table[b]! * scales[p]![t]!;
  }));
  if (out) for (const [a, b] of plan.gaps) out.fill(0, a, b);
  const covered = new Float64Array(plan.table.length / ROW);
  if (T === 0) { /* no tensors: out is all gaps */ } else if (addon) {
    const skipped = addon.aggregateApply(idx, codes, plan.table, T, scaled, out, params, alpha, covered);
    if (skipped !== 0) throw new Error(`aggregate: native kernel skipped ${skipped} indices after a clean scan`);
  } else applyTs(idx, codes, plan, scaled, out, params, alpha, covered, held);
  let cov = 0;
  for (const c of covered) cov += c;
  const kept = peers.map((u) => plan.kept.reduce((a, b, t) => a + (!u.held || u.held[t] ? b : 0), 0));
  return { peers: P, norms, tensorNorms, tensorMedians, scales, clipped: scales.filter((sc) => sc.some((x) => x < 1)).length, kept, covered: cov, total, impl: addon ? 'native' : 'ts' };
}

/**
 * The lower median: the ⌈n/2⌉-th smallest value (for an even count the lower of the two middle ones,
 * which is what torch.median returns and Templar clips to); 0 when empty.
 */
export function lowerMedian(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const s = Float64Array.from(values).sort();
  return s[(s.length - 1) >> 1]!;
}

/** Median: the middle of the sorted values, or the mean of the two middle ones for an even count; 0 when empty. */
export function medianOf(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const s = Float64Array.from(values).sort(), h = s.length >> 1;
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
}

/**
 * Dense aggregate of `peers` (already sorted by uid) into `out` (length `total`): per coordinate the
 * float32 mean, in peer order, of the clipped dequantized values of the peers that sent it; 0 elsewhere.
 */
export function aggregate(peers: readonly SparseUpdate[], specs: readonly TensorPlace[], cfg: CodecConfig, total: number,
  out: Float32Array, opts: AggregateOptions = {}): AggregateStats {
  return run(peers, specs, cfg, total, out, null, 0, opts);
}

/** aggregate() after sorting by uid (uids must be distinct): the result does not depend on input order. */
export function aggregateByUid(peers: readonly { uid: number; update: SparseUpdate }[], specs: readonly TensorPlace[],
  cfg: CodecConfig, total: number, out: Float32Array, opts: AggregateOptions = {}): AggregateStats {
  const sorted = [...peers].sort((a, b) => a.uid - b.uid);
  for (let i = 1; i < sorted.length; i++)
    if (sorted[i]!.uid === sorted[i - 1]!.uid) throw new RangeError(`aggregate: uid ${sorted[i]!.uid} appears twice`);
  const stats = run(sorted.map((p) => p.update), specs, cfg, total, out, null, 0, opts);
  return { ...stats, uids: sorted.map((p) => p.uid) };
}

/**
 * Fused aggregate + outer step: θ ← θ − α·agg in one pass (no dense aggregate buffer unless `out` is
 * given). Bit-identical to aggregate() followed by outerStep().
 */
export function applyAggregate(params: Float32Array, peers: readonly SparseUpdate[], specs: readonly TensorPlace[],
  cfg: CodecConfig, alpha: number, out: Float32Array | null = null, opts: AggregateOptions = {}): AggregateStats {
  return run(peers, specs, cfg, params.length, out, params, alpha, opts);
}

/** Outer SGD step θ ← f32(θ − α·agg), evaluated in float64 per element (same bits as optim/outer.ts outerSgd). */
export function outerStep(params: Float32Array, agg: Float32Array, alpha: number, opts: AggregateOptions = {}): void {
  if (params.length !== agg.length) throw new RangeError('outerStep: params and agg differ in length');
  const addon = addonFor(opts.impl);
  if (addon) return addon.outerStep(params, agg, alpha);
  for (let i = 0; i < params.length; i++) params[i] = params[i]! - alpha * agg[i]!;
}

/**
 * Model fingerprint: sha256 (hex) of the parameters' little-endian float32 bytes, hashed in place (no
 * copy; node's OpenSSL uses SHA-NI where present: ~0.2–0.5 s for 100M params). Equal hex ⇔ equal bits.
 */
export function fingerprint(params: Float32Array): string {
  return createHash('sha256').update(new Uint8Array(params.buffer, params.byteOffset, params.byteLength)).digest('hex');
}
