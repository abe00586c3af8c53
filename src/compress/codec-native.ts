// The native (C++, threaded) encoder: native/compress.cc's sparselocoCompress, fed with the chunk
// geometry computed here (geometry.chunksOf via plan.ts), so C++ never re-derives the layout.
import { loadNativeAddon } from '../engine/native.js';
import { nonFinite } from './codec-ref.js';
import type { TensorPlan } from './plan.js';
import type { SparseTensor } from './types.js';

/** Values per chunk in the descriptor passed to C++: flat base, size, k, width, row stride. */
export const CHUNK_FIELDS = 5;

export interface CompressAddon {
  /**
   * Runs the whole encoder in place: ef ← residual, idx/codes/tables ← the compressed update.
   * chunks: CHUNK_FIELDS per chunk (base is the global flat index); tensors: [first chunk, end chunk)
   * per tensor; idx/codes/tables: one array per tensor, sized by the caller. Returns −1 on success or
   * the flat base of the first chunk holding a non-finite value (then nothing was written).
   */
  sparselocoCompress(delta: Float32Array, ef: Float32Array, chunks: Float64Array, tensors: Int32Array,
    idx: Uint16Array[], codes: Uint8Array[], tables: Float32Array[], beta: number): number;
}

/** The addon's encoder, or null when the addon is missing or was built before it existed. */
export function nativeCodec(): CompressAddon | null {
  const a = loadNativeAddon() as unknown as Partial<CompressAddon> | null;
  return a && typeof a.sparselocoCompress === 'function' ? (a as CompressAddon) : null;
}

export function compressNative(addon: CompressAddon, delta: Float32Array, ef: Float32Array,
  plans: TensorPlan[], beta: number): SparseTensor[] {
  let nChunks = 0;
  for (const t of plans) nChunks += t.chunks.length;
  const chunks = new Float64Array(nChunks * CHUNK_FIELDS), tensors = new Int32Array(plans.length * 2);
  let c = 0;
  plans.forEach((t, ti) => {
    tensors[2 * ti] = c;
    for (const ch of t.chunks) {
      const o = c++ * CHUNK_FIELDS;
      chunks[o] = t.offset + ch.base;
      chunks[o + 1] = ch.size;
      chunks[o + 2] = ch.k;
      chunks[o + 3] = ch.width;
      chunks[o + 4] = ch.rowStride;
    }
    tensors[2 * ti + 1] = c;
  });
  const out: SparseTensor[] = plans.map((t) => ({
    idx: new Uint16Array(t.kept), codes: new Uint8Array(t.kept), table: new Float32Array(4),
  }));
  const bad = addon.sparselocoCompress(delta, ef, chunks, tensors,
    out.map((s) => s.idx), out.map((s) => s.codes), out.map((s) => s.table), beta);
  if (bad >= 0) throw nonFinite(bad);
  return out;
}
