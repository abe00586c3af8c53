// Chunk geometry shared by encoder, decoder and aggregator: how a tensor is cut into chunks, how
// many values each chunk keeps, and where a chunk-local position lives in the flat tensor.
// Matrices [R×C]: a row-major grid of tile×tile tiles (edge tiles smaller); a tile's positions are
// numbered row-major over its actual h×w extent. Vectors: contiguous chunks of vectorChunk values.
import type { CodecConfig } from './types.js';

export type TensorShape = readonly [number] | readonly [number, number];

export interface Chunk {
  /** Number of values in the chunk. */
  size: number;
  /** Values the chunk keeps. */
  k: number;
  /** Flat offset (within the tensor) of chunk-local position 0. */
  base: number;
  /** Row stride inside the chunk: local p → base + floor(p / width) * rowStride + p % width. */
  width: number;
  rowStride: number;
}

/** Values kept in a chunk of `size`: topk scaled by size / full chunk, at least 1, at most size. */
export function keptCount(size: number, full: number, topk: number): number {
  return Math.min(size, Math.max(1, Math.round((topk * size) / full)));
}

export function chunksOf(shape: TensorShape, cfg: CodecConfig): Chunk[] {
  const out: Chunk[] = [];
  if (shape.length === 1) {
    const n = shape[0], V = cfg.vectorChunk;
    for (let b = 0; b < n; b += V) {
      const size = Math.min(V, n - b);
      out.push({ size, k: keptCount(size, V, cfg.topk), base: b, width: size, rowStride: size });
    }
    return out;
  }
  const [R, C] = shape, t = cfg.tile, full = t * t;
  for (let r0 = 0; r0 < R; r0 += t) {
    for (let c0 = 0; c0 < C; c0 += t) {
      const h = Math.min(t, R - r0), w = Math.min(t, C - c0);
      out.push({ size: h * w, k: keptCount(h * w, full, cfg.topk), base: r0 * C + c0, width: w, rowStride: C });
    }
  }
  return out;
}

/** Flat offset within the tensor of chunk-local position p. */
export function flatIndex(ch: Chunk, p: number): number {
  const row = Math.floor(p / ch.width);
  return ch.base + row * ch.rowStride + (p - row * ch.width);
}

/** Total kept values of a tensor (= length of its SparseTensor arrays). */
export function keptTotal(chunks: Chunk[]): number {
  let n = 0;
  for (const c of chunks) n += c.k;
  return n;
}
