// `tessera bench codec`: SparseLoCo wire cost and speed on a ~100M-parameter layout (150m preset, tied
// embeddings: 109.5M) with 20 peers: encoder time, payload ratios (12-bit and entropy indices, ratio =
// 32·params / (8·payload bytes)), and decode + aggregate + outer step of all peers.
import { createHash } from 'node:crypto';
import { cpus } from 'node:os';
import { getPreset, type ModelConfig } from '../model/config.js';
import { paramLayout } from '../model/params.js';
import { applyAggregate, fingerprint, type AggregateOptions } from '../compress/aggregate.js';
import { compress, nativeCodecAvailable, type CodecImpl } from '../compress/codec.js';
import { decodePayload, encodePayload, type IndexMode } from '../compress/wire.js';
import type { TensorShape } from '../compress/geometry.js';
import { CODEC_DEFAULTS, vectorPolicy, type CodecConfig, type SparseUpdate } from '../compress/types.js';
import { loadNativeAddon } from '../engine/native.js';

export interface CodecBenchOptions {
  /** Model shape (default: the 150m preset with tied embeddings, 109.5M parameters). */
  config?: ModelConfig;
  cfg?: CodecConfig;
  peers?: number;
  /** Outer step size α. */
  alpha?: number;
  /** Encoder and aggregation implementation (default 'auto': native when built). */
  impl?: CodecImpl;
  /** Also time the TypeScript aggregation path (default true). */
  compareTs?: boolean;
  seed?: number;
}

export interface CodecBenchResult {
  params: number; tensors: number; peers: number; kept_values: number; density: number;
  /** How 1-D tensors are compressed (compress/types.ts vectorPolicy), their values and how many of them are kept. */
  vector_policy: string; vector_values: number; vector_kept: number;
  payload_bytes_12bit: number; payload_bytes_entropy: number;
  bits_per_value_12bit: number; bits_per_value_entropy: number;
  bits_per_param_12bit: number; bits_per_param_entropy: number;
  ratio_12bit: number; ratio_entropy: number;
  /** compress(): error feedback + per-chunk top-k + 2-bit quantization of the whole model (one peer):
   *  median over the peers after the first; encode_first_s includes first-touch page faults of fresh buffers. */
  encode_s: number; encode_first_s: number; encode_impl: string;
  /** encodePayload() of one update, per index mode. */
  wire_encode_12bit_s: number; wire_encode_entropy_s: number;
  /** decodePayload() of all peers' entropy payloads. */
  decode_s: number;
  /** applyAggregate() of all peers (validate, clip, scatter-mean, θ ← θ − α·agg). */
  apply_s: number; apply_impl: string;
  /** decode_s + apply_s: what a node spends per round to turn downloads into its new model. */
  aggregate_s: number;
  /** Same as apply_s on the TypeScript path (null when skipped or when apply already ran in TS). */
  apply_ts_s: number | null;
  ts_native_identical: boolean | null;
  fingerprint_s: number;
  targets: { ratio_12bit: boolean; ratio_entropy: boolean; encode: boolean; aggregate: boolean };
  threads: number; peak_rss_mb: number; cpu: string; date: string;
}

/** Fast seeded normals (xorshift32 + Box–Muller) for the pseudo-gradient; not the protocol RNG. */
function gaussianFill(out: Float32Array, from: number, to: number, std: number, state: { s: number }): void {
  let s = state.s;
  const u = () => { s ^= s << 13; s ^= s >>> 17; s ^= s << 5; return ((s >>> 0) + 0.5) / 4294967296; };
  for (let i = from; i < to; i += 2) {
    const r = std * Math.sqrt(-2 * Math.log(u())), th = 2 * Math.PI * u();
    out[i] = r * Math.cos(th);
    if (i + 1 < to) out[i + 1] = r * Math.sin(th);
  }
  state.s = s;
}

const secs = (t0: number) => (performance.now() - t0) / 1000;

export async function benchCodec(o: CodecBenchOptions = {}): Promise<CodecBenchResult> {
  const model = o.config ?? { ...getPreset('150m'), tiedEmbeddings: true };
  const cfg = o.cfg ?? CODEC_DEFAULTS, P = o.peers ?? 20, alpha = o.alpha ?? 0.7, impl = o.impl ?? 'auto';
  const { specs, total } = paramLayout(model);
  const shapes: TensorShape[] = specs.map((s) => s.shape);
  const modelHash = createHash('sha256').update(JSON.stringify(model)).digest('hex');

  // A realistic pseudo-gradient: Gaussian with a log-uniform per-tensor scale (1e-5 … 1e-3).
  const delta = new Float32Array(total), st = { s: (o.seed ?? 1) * 2654435761 >>> 0 || 1 };
  specs.forEach((s, t) => gaussianFill(delta, s.offset, s.offset + s.size, 10 ** (-5 + 2 * ((t * 0.618) % 1)), st));
  const ef = new Float32Array(total);
  let t0 = performance.now();
  const first = compress(delta, ef, specs, cfg, impl);
  const encode_first_s = secs(t0), encodes: number[] = [];

  // The other peers: the same statistics, different positions (each tensor rotated by a per-peer
  // prime stride, fresh error feedback), encoded with the real encoder.
  const updates: SparseUpdate[] = [first];
  const d = new Float32Array(total);
  for (let p = 1; p < P; p++) {
    for (const s of specs) {
      const src = delta.subarray(s.offset, s.offset + s.size), sh = (p * 7_919_993) % s.size;
      d.set(src.subarray(sh), s.offset);
      d.set(src.subarray(0, sh), s.offset + s.size - sh);
    }
    ef.fill(0);
    t0 = performance.now();
    updates.push(compress(d, ef, specs, cfg, impl));
    encodes.push(secs(t0));
  }
  const encode_s = encodes.length ? [...encodes].sort((a, b) => a - b)[encodes.length >> 1]! : encode_first_s;

  const wire = (mode: IndexMode, p: number) => encodePayload({ update: updates[p]!, modelHash, window: 1, uid: p, indexMode: mode, shapes, cfg });
  t0 = performance.now();
  const b12 = wire('12bit', 0);
  const wire_encode_12bit_s = secs(t0);
  t0 = performance.now();
  const bEnt = wire('entropy', 0);
  const wire_encode_entropy_s = secs(t0);
  const payloads = [bEnt, ...Array.from({ length: P - 1 }, (_, i) => wire('entropy', i + 1))];
  const entropyBytes = payloads.reduce((a, b) => a + b.length, 0) / P; // mean over peers

  // Round: decode every peer's payload, then one fused aggregate + outer step.
  const params = new Float32Array(total).map((_, i) => (i % 1000) * 1e-5);
  const start = params.slice();
  t0 = performance.now();
  const decoded = payloads.map((b) => {
    const r = decodePayload(b, { shapes, cfg, modelHash });
    if (!r.ok) throw new Error(`bench codec: payload rejected: ${r.reason} ${r.detail}`);
    return r.payload.update;
  });
  const decode_s = secs(t0);
  const aggImpl: AggregateOptions['impl'] = impl === 'ts' ? 'ts' : 'auto';
  t0 = performance.now();
  const stats = applyAggregate(params, decoded, specs, cfg, alpha, null, { impl: aggImpl });
  const apply_s = secs(t0);
  t0 = performance.now();
  const fpNative = fingerprint(params);
  const fingerprint_s = secs(t0);

  let apply_ts_s: number | null = null, identical: boolean | null = null;
  if ((o.compareTs ?? true) && stats.impl === 'native') {
    const p2 = start;
    t0 = performance.now();
    applyAggregate(p2, decoded, specs, cfg, alpha, null, { impl: 'ts' });
    apply_ts_s = secs(t0);
    identical = fingerprint(p2) === fpNative;
  }

  const kept = stats.kept[0] ?? 0;
  const vecs = specs.map((sp, t) => ({ sp, t })).filter((x) => x.sp.shape.length === 1);
  const bits12 = 8 * b12.length, bitsEnt = 8 * entropyBytes;
  const aggregate_s = decode_s + apply_s;
  const r = {
    ratio_12bit: (32 * total) / bits12, ratio_entropy: (32 * total) / bitsEnt,
  };
  return {
    params: total, tensors: specs.length, peers: P, kept_values: kept, density: kept / total,
    vector_policy: vectorPolicy(cfg), vector_values: vecs.reduce((a, x) => a + x.sp.size, 0),
    vector_kept: vecs.reduce((a, x) => a + first.tensors[x.t]!.idx.length, 0),
    payload_bytes_12bit: b12.length, payload_bytes_entropy: Math.round(entropyBytes),
    bits_per_value_12bit: bits12 / kept, bits_per_value_entropy: bitsEnt / kept,
    bits_per_param_12bit: bits12 / total, bits_per_param_entropy: bitsEnt / total,
    ...r,
    encode_s, encode_first_s, encode_impl: impl !== 'ts' && nativeCodecAvailable() ? 'native' : 'ts',
    wire_encode_12bit_s, wire_encode_entropy_s, decode_s, apply_s, apply_impl: stats.impl, aggregate_s,
    apply_ts_s, ts_native_identical: identical, fingerprint_s,
    targets: { ratio_12bit: r.ratio_12bit >= 146, ratio_entropy: r.ratio_entropy >= 200, encode: encode_s < 2, aggregate: aggregate_s < 4 },
    threads: (loadNativeAddon()?.numThreads ?? 1), peak_rss_mb: process.resourceUsage().maxRSS / 1024,
    cpu: cpus()[0]?.model ?? 'unknown', date: new Date().toISOString(),
  };
}

/** A few human-readable lines of a result. */
export function formatCodecBench(r: CodecBenchResult): string {
  const ok = (b: boolean) => (b ? 'ok' : 'MISSED');
  return [
    `layout: ${(r.params / 1e6).toFixed(1)}M params in ${r.tensors} tensors, ${r.kept_values} kept values per peer (${(100 * r.density).toFixed(2)}%), ${r.peers} peers`,
    `vectors: ${r.vector_policy}; ${r.vector_kept} of ${r.vector_values} values kept`,
    `12-bit  payload ${r.payload_bytes_12bit} B: ${r.bits_per_value_12bit.toFixed(2)} bit/value, ${r.bits_per_param_12bit.toFixed(4)} bit/param, ${r.ratio_12bit.toFixed(1)}× vs fp32 (target ≥ 146: ${ok(r.targets.ratio_12bit)})`,
    `entropy payload ${r.payload_bytes_entropy} B: ${r.bits_per_value_entropy.toFixed(2)} bit/value, ${r.bits_per_param_entropy.toFixed(4)} bit/param, ${r.ratio_entropy.toFixed(1)}× vs fp32 (target ≥ 200: ${ok(r.targets.ratio_entropy)})`,
    `encode ${r.encode_s.toFixed(3)} s (first call ${r.encode_first_s.toFixed(3)} s; target < 2 s: ${ok(r.targets.encode)}); wire encode 12-bit ${r.wire_encode_12bit_s.toFixed(3)} s, entropy ${r.wire_encode_entropy_s.toFixed(3)} s`,
    `round: decode ${r.decode_s.toFixed(3)} s + aggregate/outer step ${r.apply_s.toFixed(3)} s (${r.apply_impl}) = ${r.aggregate_s.toFixed(3)} s (target < 4 s: ${ok(r.targets.aggregate)})` +
      (r.apply_ts_s === null ? '' : `; TS path ${r.apply_ts_s.toFixed(3)} s, bit-identical: ${r.ts_native_identical}`),
    `fingerprint (sha256 of ${(4 * r.params / 1e6).toFixed(0)} MB) ${r.fingerprint_s.toFixed(3)} s; ${r.threads} threads, peak RSS ${r.peak_rss_mb.toFixed(0)} MB`,
  ].join('\n');
}
