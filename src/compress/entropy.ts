// Entropy coding for the SparseLoCo payload. Indices: per chunk, the gaps between successive sorted
// positions (first from −1) in Golomb code, parameter from (chunk size, k). Codes: per tensor, a
// static 4-symbol rANS (Duda 2013; byte-wise renormalization as in ryg_rans) with sent frequencies.
import { BitReader, BitWriter } from './bits.js';
import type { Chunk } from './geometry.js';

/**
 * Golomb parameter m ≈ ln2 · size / k, in integers (ln2 ≈ 709/1024): for the near-geometric gaps of
 * a random k-subset (p ≈ k/size) the optimal m is the smallest with (1−p)^m + (1−p)^(m+1) ≤ 1,
 * ≈ ln2 / p (Gallager & Van Voorhis 1975). At 64 of 4096: m = 44, 7.44 bits/index measured (bound
 * log2 C(4096, 64) / 64 = 7.36; Rice m = 32: 7.50).
 */
export function golombParam(size: number, k: number): number {
  return Math.max(1, Math.floor((size * 709 + k * 512) / (k * 1024)));
}

/** Truncated-binary remainder: b = ⌈log2 m⌉ bits, values below u = 2^b − m use b − 1 bits. */
function remainderBits(m: number): { b: number; u: number } {
  const b = m <= 1 ? 0 : 32 - Math.clz32(m - 1);
  return { b, u: (1 << b) - m };
}

/** Golomb-code each chunk's sorted positions (chunks in order, k each) into one zero-padded stream. */
export function encodeIndices(idx: Uint16Array, chunks: readonly Chunk[]): Uint8Array {
  const w = new BitWriter();
  let i = 0;
  for (const ch of chunks) {
    const m = golombParam(ch.size, ch.k), { b, u } = remainderBits(m);
    let prev = -1;
    for (let j = 0; j < ch.k; j++, i++) {
      const g = idx[i]! - prev - 1, q = Math.floor(g / m), r = g - q * m;
      w.writeUnary(q);
      if (r < u) w.write(r, b - 1);
      else w.write(r + u, b);
      prev = idx[i]!;
    }
  }
  return w.finish();
}

/** Largest valid index stream: Σ over chunks of (⌊(size−k)/m⌋ unary ones + k·(1 + b)) bits. */
export function maxIndexBytes(chunks: readonly Chunk[]): number {
  let bits = 0;
  for (const ch of chunks) {
    const m = golombParam(ch.size, ch.k);
    bits += Math.floor((ch.size - ch.k) / m) + ch.k * (1 + remainderBits(m).b);
  }
  return Math.ceil(bits / 8);
}

/**
 * Inverse of encodeIndices. Returns the positions, or a string saying why the stream is invalid:
 * every position < chunk size, strictly increasing, k per chunk, nothing left but zero padding.
 */
export function decodeIndices(bytes: Uint8Array, chunks: readonly Chunk[], total: number): Uint16Array | string {
  const rd = new BitReader(bytes), out = new Uint16Array(total);
  let i = 0;
  for (let c = 0; c < chunks.length; c++) {
    const ch = chunks[c]!, m = golombParam(ch.size, ch.k), { b, u } = remainderBits(m);
    let prev = -1;
    for (let j = 0; j < ch.k; j++, i++) {
      const room = ch.size - prev - 2; // largest gap that keeps the position < size
      if (room < 0) return `chunk ${c}: more positions than fit in ${ch.size}`;
      const q = rd.readUnary(Math.floor(room / m));
      if (q < 0) return `chunk ${c}: position ${j} out of range or stream truncated`;
      let r = b === 0 ? 0 : rd.read(b - 1);
      if (b > 0 && r >= u) {
        const bit = rd.read(1);
        r = bit < 0 ? -1 : ((r << 1) | bit) - u;
      }
      if (r < 0) return `chunk ${c}: stream truncated`;
      const g = q * m + r;
      if (g > room) return `chunk ${c}: position ${prev + 1 + g} ≥ chunk size ${ch.size}`;
      prev += g + 1;
      out[i] = prev;
    }
  }
  if (!rd.atPaddedEnd()) return 'bits left after the last chunk (or non-zero padding)';
  return out;
}

const PROB_BITS = 12, M = 1 << PROB_BITS; // frequencies sum to M
const L = 1 << 23; // rANS state lives in [L, 2^31); one byte in or out per renormalization step

/** Frequencies ∝ counts (each used symbol ≥ 1), summing to M; the rounding error goes to the most common. */
function normalizedFreqs(codes: Uint8Array): number[] {
  const counts = [0, 0, 0, 0];
  for (let i = 0; i < codes.length; i++) counts[codes[i]!]!++;
  const f = counts.map((c) => (c === 0 ? 0 : Math.max(1, Math.round((c * M) / codes.length))));
  const top = counts.indexOf(Math.max(...counts));
  f[top]! += M - f.reduce((a, v) => a + v, 0);
  return f;
}

/** Largest valid codes section for n values: 8 + 4 header bytes, at most 2 renormalization bytes per value. */
export function maxCodeBytes(n: number): number {
  return n === 0 ? 0 : 12 + 2 * n;
}

/**
 * Codes section: 4 × u16 frequencies (sum 4096), the final state u32, then the renormalization bytes.
 * Top-k values binned per tensor crowd the outer bins (Gaussian: ≈ 50/50 in bins 0 and 3), ≈ 1 bit/code.
 */
export function encodeCodes(codes: Uint8Array): Uint8Array {
  const n = codes.length;
  if (n === 0) return new Uint8Array(0);
  const freq = normalizedFreqs(codes), start = [0, freq[0]!, freq[0]! + freq[1]!, M - freq[3]!];
  const buf = new Uint8Array(maxCodeBytes(n));
  let p = buf.length, x = L;
  for (let i = n - 1; i >= 0; i--) { // rANS encodes backwards so that decoding runs forwards
    const s = codes[i]!;
    if (s > 3) throw new RangeError(`encodeCodes: code ${s} does not fit in 2 bits`);
    const f = freq[s]!, xmax = (L >>> PROB_BITS) * 256 * f;
    while (x >= xmax) { buf[--p] = x & 0xff; x >>>= 8; }
    x = Math.floor(x / f) * M + (x % f) + start[s]!; // C(s, x) = ⌊x/f⌋·M + x mod f + start
  }
  const dv = new DataView(buf.buffer);
  p -= 12;
  for (let s = 0; s < 4; s++) dv.setUint16(p + 2 * s, freq[s]!, true);
  dv.setUint32(p + 8, x, true);
  return buf.slice(p);
}

/** Inverse of encodeCodes; the string says why the section is invalid. */
export function decodeCodes(bytes: Uint8Array, n: number): Uint8Array | string {
  if (n === 0) return bytes.length === 0 ? new Uint8Array(0) : 'codes section must be empty';
  if (bytes.length < 12) return 'codes section shorter than its 12-byte header';
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const freq = [0, 1, 2, 3].map((s) => dv.getUint16(2 * s, true));
  if (freq.reduce((a, v) => a + v, 0) !== M) return `code frequencies sum to ${freq.join('+')}, not ${M}`;
  const start = [0, freq[0]!, freq[0]! + freq[1]!, M - freq[3]!], sym = new Uint8Array(M);
  for (let s = 1; s < 4; s++) sym.fill(s, start[s]!, start[s]! + freq[s]!);
  let x = dv.getUint32(8, true), p = 12;
  if (x < L || x >= 2 ** 31) return `rANS state ${x} outside [2^23, 2^31)`;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const slot = x & (M - 1), s = sym[slot]!;
    x = freq[s]! * (x >>> PROB_BITS) + slot - start[s]!; // D(x) inverts C
    while (x < L) {
      if (p >= bytes.length) return 'codes stream truncated';
      x = (x << 8) | bytes[p++]!;
    }
    out[i] = s;
  }
  if (x !== L || p !== bytes.length) return 'codes stream does not end in the initial state (corrupt or trailing bytes)';
  return out;
}
