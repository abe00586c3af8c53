// SparseLoCo encoder/decoder (docs/protocol.md "SparseLoCo"): error feedback, per-chunk top-k by |a|,
// per-tensor 2-bit quantization with a 4-entry table of bin means, residual back into the error
// feedback. Two bit-identical implementations: native/compress.cc (threaded) and codec-ref.ts.
import { TesseraError } from '../util/errors.js';
import { compressTs } from './codec-ref.js';
import { compressNative, nativeCodec } from './codec-native.js';
import { flatIndex } from './geometry.js';
import { planCodec, type CodecSpec, type TensorPlan } from './plan.js';
import type { CodecConfig, SparseTensor, SparseUpdate } from './types.js';

export { validateCodecConfig, planCodec, MAX_CHUNK, type CodecSpec, type TensorPlan } from './plan.js';

/** Which encoder runs: 'auto' = native when the addon has it, else TypeScript. */
export type CodecImpl = 'auto' | 'ts' | 'native';

/** True when the native addon is built and exports the encoder. */
export function nativeCodecAvailable(): boolean {
  return nativeCodec() !== null;
}

/**
 * Compresses the pseudo-gradient `delta` (flat, all parameters) with error feedback `ef` (same length,
 * UPDATED IN PLACE). For every tensor of `specs` (ranges not covered by a spec are left alone):
 *   a = fl32(fl32(β·ef) + delta)            (β rounded to float32 once; no fused multiply-add)
 *   per chunk (geometry.chunksOf): keep the k largest |a|; ties → lower chunk-local index first;
 *     kept indices listed ascending within the chunk, chunks in chunksOf order
 *   quantize the tensor's kept values to 2 bits (see codec-ref.ts quantize); table = binary16-rounded bin means
 *   ef = a at non-kept positions, and at kept positions the residual e with fl32(table[code] + e) === a
 *     (exact whenever any float32 can satisfy it; see codec-ref.ts residual for the rare exception).
 * Throws TesseraError (ef untouched) on a bad config/layout or a non-finite a. delta and ef must not alias.
 */
export function compress(delta: Float32Array, ef: Float32Array, specs: readonly CodecSpec[], cfg: CodecConfig,
  impl: CodecImpl = 'auto'): SparseUpdate {
  if (delta.length !== ef.length) {
    throw new TesseraError(`codec: delta has ${delta.length} values but error feedback has ${ef.length}`);
  }
  const plans = planCodec(specs, cfg, delta.length);
  const addon = impl === 'ts' ? null : nativeCodec();
  if (impl === 'native' && !addon) {
    throw new TesseraError('codec: the native encoder is not available', 'build the addon: npm run build:native');
  }
  const tensors = addon ? compressNative(addon, delta, ef, plans, cfg.beta) : compressTs(delta, ef, plans, cfg.beta);
  return { tensors };
}

/**
 * Checks an update (e.g. decoded from an untrusted peer) against the layout: one tensor per spec,
 * idx/codes lengths = kept count, indices strictly ascending within each chunk and inside it, codes
 * in 0..3, a 4-entry finite table. Throws TesseraError naming the first problem.
 */
export function validateSparseUpdate(update: SparseUpdate, specs: readonly CodecSpec[], cfg: CodecConfig,
  plans: TensorPlan[] = planCodec(specs, cfg, Number.MAX_SAFE_INTEGER)): void {
  const fail = (msg: string): never => { throw new TesseraError(`sparse update: ${msg}`); };
  if (!update || !Array.isArray(update.tensors)) fail('missing tensors');
  if (update.tensors.length !== plans.length) fail(`${update.tensors.length} tensors, layout has ${plans.length}`);
  plans.forEach((t, ti) => {
    const s: SparseTensor = update.tensors[ti];
    if (!(s?.idx instanceof Uint16Array) || !(s.codes instanceof Uint8Array) || !(s.table instanceof Float32Array)) {
      fail(`tensor ${ti}: idx/codes/table must be Uint16Array/Uint8Array/Float32Array`);
    }
    if (s.idx.length !== t.kept || s.codes.length !== t.kept) {
      fail(`tensor ${ti}: ${s.idx.length} indices and ${s.codes.length} codes, expected ${t.kept}`);
    }
    if (s.table.length !== 4 || !s.table.every(Number.isFinite)) fail(`tensor ${ti}: table must be 4 finite values`);
    let j = 0;
    for (let c = 0; c < t.chunks.length; c++) {
      const ch = t.chunks[c];
      let prev = -1;
      for (let q = 0; q < ch.k; q++, j++) {
        const p = s.idx[j];
        if (p <= prev || p >= ch.size) fail(`tensor ${ti} chunk ${c}: index ${p} out of order or ≥ chunk size ${ch.size}`);
        if (s.codes[j] > 3) fail(`tensor ${ti}: code ${s.codes[j]} at ${j} is not 2-bit`);
        prev = p;
      }
    }
  });
}

/**
 * The error feedback after an upload whose commit was lost: a node that crashed after anchoring
 * `update` and before keeping its residual restarts with the error feedback from before it. The true
 * e' = β·e + Δ − sent needs Δ, which is gone; this keeps what is known: ef ← fl32(β·ef) on every tensor
 * the update holds, and 0 at its kept positions (their mass was sent). Without it the next upload
 * sends those values again (a re-send of the node's own upload, which validators penalize as a copy).
 * Returns the number of positions zeroed. The update must be valid for (specs, cfg) (a verified payload).
 */
export function forgetSent(ef: Float32Array, update: SparseUpdate, specs: readonly CodecSpec[], cfg: CodecConfig): number {
  const plans = planCodec(specs, cfg, ef.length), bf = Math.fround(cfg.beta);
  if (update.tensors.length !== plans.length) throw new TesseraError(`forgetSent: the update has ${update.tensors.length} tensors, the layout ${plans.length}`);
  let zeroed = 0;
  plans.forEach((t, ti) => {
    if (update.held && !update.held[ti]) return;
    const { idx } = update.tensors[ti];
    if (idx.length !== t.kept) throw new TesseraError(`forgetSent: tensor ${ti} holds ${idx.length} indices, the plan keeps ${t.kept}`);
    for (let i = t.offset, end = t.offset + t.size; i < end; i++) ef[i] = Math.fround(bf * ef[i]);
    let j = 0;
    for (const ch of t.chunks) for (let q = 0; q < ch.k; q++, j++) { ef[t.offset + flatIndex(ch, idx[j])] = 0; zeroed++; }
  });
  return zeroed;
}

/**
 * Writes the dense form of `update` into `out`: every coordinate covered by `specs` is OVERWRITTEN,
 * with fl32(scale·table[code]) at the kept positions and 0 elsewhere; coordinates outside the specs
 * are not touched. The update is validated first (validateSparseUpdate).
 */
export function decompress(update: SparseUpdate, specs: readonly CodecSpec[], cfg: CodecConfig, out: Float32Array,
  scale = 1): void {
  const plans = planCodec(specs, cfg, out.length);
  validateSparseUpdate(update, specs, cfg, plans);
  const st = new Float32Array(4);
  plans.forEach((t, ti) => {
    const { idx, codes, table } = update.tensors[ti];
    for (let b = 0; b < 4; b++) st[b] = scale * table[b];
    out.fill(0, t.offset, t.offset + t.size);
    let j = 0;
    for (const ch of t.chunks) {
      const base = t.offset + ch.base;
      if (ch.width === ch.rowStride) {
        for (let q = 0; q < ch.k; q++, j++) out[base + idx[j]] = st[codes[j]];
      } else {
        for (let q = 0; q < ch.k; q++, j++) out[t.offset + flatIndex(ch, idx[j])] = st[codes[j]];
      }
    }
  });
}
