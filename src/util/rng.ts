// Seeded PRNG (xoshiro128**, state from sha256 of the seed) that any language can reimplement
// bit-for-bit: validators recompute a miner's data sample and init from public seeds alone.
// Pure 32-bit integer math (Math.imul), so millions of draws (parameter init) stay fast.
import { createHash } from 'node:crypto';

export type Seed = number | bigint | string;

export interface Rng {
  /** Uniform 32-bit unsigned integer (the raw xoshiro128** output). */
  nextU32(): number;
  /** Uniform in [0, 1) with 53 bits: (u32 >>> 5) · 2^26 + (u32 >>> 6), over 2^53. */
  nextFloat(): number;
  /** Unbiased uniform integer in [0, n) for 1 ≤ n ≤ 2^53 (rejection sampling). */
  nextInt(n: number): number;
  /** Standard normal N(0, 1) by Box–Muller (pairs: the second value is returned on the next call). */
  normal(): number;
}

/**
 * Seed → 128-bit state: the first 16 bytes of sha256("tessera-rng\x1f" + String(seed)) as four
 * little-endian u32 words. String(5) === String(5n), so number and bigint seeds agree.
 */
export function seedState(seed: Seed): Uint32Array {
  if (typeof seed === 'number' && !Number.isFinite(seed)) throw new RangeError(`rng seed must be finite, got ${seed}`);
  const d = createHash('sha256').update(`tessera-rng\x1f${String(seed)}`).digest();
  const s = new Uint32Array([d.readUInt32LE(0), d.readUInt32LE(4), d.readUInt32LE(8), d.readUInt32LE(12)]);
  if ((s[0] | s[1] | s[2] | s[3]) === 0) s[0] = 1; // the all-zero state is a fixed point
  return s;
}

const rotl = (x: number, k: number): number => (x << k) | (x >>> (32 - k));

export function makeRng(seed: Seed): Rng {
  const st = seedState(seed);
  let s0 = st[0], s1 = st[1], s2 = st[2], s3 = st[3];
  let spare: number | undefined;
  const nextU32 = (): number => {
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t; s3 = rotl(s3, 11);
    return result;
  };
  const nextFloat = (): number => ((nextU32() >>> 5) * 67108864 + (nextU32() >>> 6)) / 9007199254740992;
  return {
    nextU32,
    nextFloat,
    nextInt(n: number): number {
      if (!Number.isSafeInteger(n) || n <= 0) throw new RangeError(`nextInt bound must be a positive safe integer, got ${n}`);
      if (n <= 0x100000000) {
        const limit = 0x100000000 - (0x100000000 % n); // drop the partial top bucket: no modulo bias
        for (;;) { const x = nextU32(); if (x < limit) return x % n; }
      }
      const limit = 9007199254740992 - (9007199254740992 % n);
      for (;;) { const x = nextFloat() * 9007199254740992; if (x < limit) return x % n; }
    },
    normal(): number {
      if (spare !== undefined) { const v = spare; spare = undefined; return v; }
      const u1 = 1 - nextFloat(); // (0, 1]: log stays finite
      const u2 = nextFloat();
      const r = Math.sqrt(-2 * Math.log(u1));
      spare = r * Math.sin(2 * Math.PI * u2);
      return r * Math.cos(2 * Math.PI * u2);
    },
  };
}
