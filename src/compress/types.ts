// SparseLoCo's in-memory types: the codec configuration and a compressed pseudo-gradient
// (per tensor: sorted within-chunk indices of the kept values, their 2-bit codes, a 4-entry table).
// Wire encoding (12-bit or entropy-coded indices, packed codes) lives in the payload format.

export interface CodecConfig {
  /** Matrices are cut into tile×tile chunks (Templar: 64 → 4096 values). */
  tile: number;
  /**
   * Vectors (1-D tensors: norm gains, biases) are cut into contiguous chunks of this many values.
   * Default 64 = topk, so every value of a vector is sent, as Templar does (it chunks a vector by the
   * largest divisor of its length up to 64 and keeps min(64, chunk) values, i.e. all of them).
   */
  vectorChunk: number;
  /** Values kept per full chunk (Templar: 64 of 4096 = 1.56% density); partial chunks keep proportionally (≥ 1). */
  topk: number;
  /** Error-feedback decay β (Templar: 0.95). */
  beta: number;
}

export const CODEC_DEFAULTS: CodecConfig = { tile: 64, vectorChunk: 64, topk: 64, beta: 0.95 };

/** How the codec treats 1-D tensors under `cfg`: 'whole' when every value is kept, else 'top-k of n'. */
export function vectorPolicy(cfg: CodecConfig): string {
  return cfg.topk >= cfg.vectorChunk ? `whole (vectorChunk ${cfg.vectorChunk} ≤ topk ${cfg.topk}: every value sent, Templar's rule)`
    : `top-${cfg.topk} of every ${cfg.vectorChunk} values`;
}

/** One tensor's compressed update. Values are listed chunk after chunk, indices ascending within a chunk. */
export interface SparseTensor {
  /** Position of each kept value inside its chunk (0 ≤ idx < chunk size ≤ 4096). */
  idx: Uint16Array;
  /** 2-bit bin code (0..3) of each kept value. */
  codes: Uint8Array;
  /** Value of each bin: the mean of the values that fell in it, rounded to float32 and then to binary16 (half.ts; payload v3 carries 16 bits); 0 for an empty bin. */
  table: Float32Array;
}

/** A whole compressed pseudo-gradient: one SparseTensor per parameter spec, in layout order. */
export interface SparseUpdate {
  tensors: SparseTensor[];
  /**
   * Which tensors this sender holds (absent: all). A pipeline stage's payload holds only its own
   * tensors; the aggregate averages each coordinate over the senders that hold it (docs/hetero.md).
   * A tensor not held has empty idx/codes.
   */
  held?: readonly boolean[];
}
