// SparseLoCo's in-memory types: the codec configuration and a compressed pseudo-gradient
// (per tensor: sorted within-chunk indices of the kept values, their 2-bit codes, a 4-entry table).
// Wire encoding (12-bit or entropy-coded indices, packed codes) lives in the payload format.

export interface CodecConfig {
  /** Matrices are cut into tile×tile chunks (Templar: 64 → 4096 values). */
  tile: number;
  /** Vectors are cut into contiguous chunks of this many values (default 4096). */
  vectorChunk: number;
  /** Values kept per full chunk (Templar: 64 of 4096 = 1.56% density); partial chunks keep proportionally (≥ 1). */
  topk: number;
  /** Error-feedback decay β (Templar: 0.95). */
  beta: number;
}

export const CODEC_DEFAULTS: CodecConfig = { tile: 64, vectorChunk: 4096, topk: 64, beta: 0.95 };

/** One tensor's compressed update. Values are listed chunk after chunk, indices ascending within a chunk. */
export interface SparseTensor {
  /** Position of each kept value inside its chunk (0 ≤ idx < chunk size ≤ 4096). */
  idx: Uint16Array;
  /** 2-bit bin code (0..3) of each kept value. */
  codes: Uint8Array;
  /** Value of each bin (the mean of the values that fell in it; 0 for an empty bin). */
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
