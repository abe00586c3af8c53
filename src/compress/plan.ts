// The codec's view of a parameter layout: which flat range each tensor occupies and how it is cut
// into chunks (geometry.chunksOf), checked once per call so the kernels (TS and native) can trust it.
import { TesseraError } from '../util/errors.js';
import { chunksOf, keptTotal, type Chunk, type TensorShape } from './geometry.js';
import type { CodecConfig } from './types.js';

/** What the codec needs of a parameter: where it starts in the flat buffer and its shape (ParamSpec fits). */
export interface CodecSpec {
  offset: number;
  shape: TensorShape;
}

export interface TensorPlan {
  /** Flat offset of the tensor's first value. */
  offset: number;
  /** Number of values (product of the shape). */
  size: number;
  chunks: Chunk[];
  /** Values kept over all chunks (= length of the tensor's idx/codes arrays). */
  kept: number;
}

/** Largest chunk the codec supports: chunk-local positions must fit the 12-bit wire index. */
export const MAX_CHUNK = 4096;

const isInt = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x);

/** Throws a TesseraError naming the first bad field of `cfg`. */
export function validateCodecConfig(cfg: CodecConfig): void {
  const bad = (field: keyof CodecConfig, want: string): never => {
    throw new TesseraError(`codec config: ${field} must be ${want} (got ${String(cfg[field])})`,
      'defaults: tile 64, vectorChunk 64 (every vector value sent, as Templar does), topk 64, beta 0.95');
  };
  if (!isInt(cfg.tile) || cfg.tile < 1 || cfg.tile * cfg.tile > MAX_CHUNK) bad('tile', `an integer ≥ 1 with tile² ≤ ${MAX_CHUNK}`);
  if (!isInt(cfg.vectorChunk) || cfg.vectorChunk < 1 || cfg.vectorChunk > MAX_CHUNK) bad('vectorChunk', `an integer in [1, ${MAX_CHUNK}]`);
  if (!isInt(cfg.topk) || cfg.topk < 1) bad('topk', 'an integer ≥ 1');
  if (typeof cfg.beta !== 'number' || !(cfg.beta >= 0 && cfg.beta < 1)) bad('beta', 'a number in [0, 1)');
}

/**
 * Checks the config and the specs against a flat buffer of `length` values (ranges inside it, integer
 * dimensions, no two tensors overlapping) and returns every tensor's chunks.
 */
export function planCodec(specs: readonly CodecSpec[], cfg: CodecConfig, length: number): TensorPlan[] {
  validateCodecConfig(cfg);
  const plans: TensorPlan[] = [];
  for (let t = 0; t < specs.length; t++) {
    const { offset, shape } = specs[t];
    const dims = shape as readonly number[];
    if ((dims.length !== 1 && dims.length !== 2) || !dims.every((d) => isInt(d) && d >= 0)) {
      throw new TesseraError(`codec: tensor ${t} has shape [${dims.join(', ')}]; expected 1 or 2 non-negative integer dimensions`);
    }
    const size = dims.length === 1 ? dims[0] : dims[0] * dims[1];
    if (!isInt(offset) || offset < 0 || offset + size > length) {
      throw new TesseraError(`codec: tensor ${t} (offset ${offset}, ${size} values) lies outside the flat buffer of ${length} values`);
    }
    const chunks = chunksOf(shape, cfg);
    plans.push({ offset, size, chunks, kept: keptTotal(chunks) });
  }
  const order = plans.map((p, i) => i).sort((a, b) => plans[a].offset - plans[b].offset);
  for (let j = 1; j < order.length; j++) {
    const prev = plans[order[j - 1]], cur = plans[order[j]];
    if (prev.size > 0 && cur.size > 0 && prev.offset + prev.size > cur.offset) {
      throw new TesseraError(`codec: tensors ${order[j - 1]} and ${order[j]} overlap in the flat buffer`);
    }
  }
  return plans;
}
