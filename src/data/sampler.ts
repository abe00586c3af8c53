// Deterministic training-data sampling: a miner's sequence offsets for a window are a pure
// function of (seed, uid, window), so any validator can recompute exactly what it trained on.
import { TesseraError } from '../util/errors.js';
import { makeRng } from '../util/rng.js';

/** The sampler's identity (part of a published dataset's index): what (seed, uid, window) → offsets means. */
export const SAMPLER_VERSION = 'tessera/sample/v1';

const checkInt = (name: string, v: number, min: number): void => {
  if (!Number.isSafeInteger(v) || v < min) throw new RangeError(`${name} must be an integer ≥ ${min}, got ${v}`);
};

/**
 * Start offsets of `count` training sequences, each needing seqLen + 1 tokens, uniform over
 * [0, nTokens - seqLen - 1]. The RNG is makeRng(`tessera/sample/v1:${seed}:${uid}:${window}`)
 * (xoshiro128** seeded by sha256, see util/rng.ts); offset i is its i-th nextInt(nTokens - seqLen).
 */
export function sampleWindows(
  seed: number | bigint, uid: number, window: number, count: number, nTokens: number, seqLen: number,
): number[] {
  if (typeof seed === 'number') checkInt('seed', seed, Number.MIN_SAFE_INTEGER);
  checkInt('uid', uid, 0); checkInt('window', window, 0); checkInt('count', count, 0);
  checkInt('seqLen', seqLen, 1); checkInt('nTokens', nTokens, 0);
  if (nTokens < seqLen + 1) {
    throw new TesseraError(`dataset has ${nTokens} tokens, fewer than one sequence needs (${seqLen + 1})`, 'use a larger corpus or a shorter sequence length');
  }
  const rng = makeRng(`${SAMPLER_VERSION}:${String(seed)}:${uid}:${window}`);
  const starts = nTokens - seqLen;
  const out = new Array<number>(count);
  for (let i = 0; i < count; i++) out[i] = rng.nextInt(starts);
  return out;
}

export interface Batch {
  /** B×T row-major input ids. */
  inputs: Int32Array;
  /** B×T targets: inputs shifted left by one (the next token). */
  targets: Int32Array;
  batch: number;
  seqLen: number;
}

/** Gathers sequences at `offsets` into input/target matrices for next-token prediction. */
export function makeBatch(tokens: ArrayLike<number>, offsets: readonly number[], seqLen: number): Batch {
  checkInt('seqLen', seqLen, 1);
  const B = offsets.length;
  const inputs = new Int32Array(B * seqLen);
  const targets = new Int32Array(B * seqLen);
  for (let b = 0; b < B; b++) {
    const o = offsets[b];
    if (!Number.isSafeInteger(o) || o < 0 || o + seqLen + 1 > tokens.length) {
      throw new RangeError(`offset ${o} needs tokens [${o}, ${o + seqLen}] but only ${tokens.length} exist`);
    }
    const row = b * seqLen;
    for (let t = 0; t < seqLen; t++) {
      inputs[row + t] = tokens[o + t];
      targets[row + t] = tokens[o + t + 1];
    }
  }
  return { inputs, targets, batch: B, seqLen };
}
