// What crosses a stage boundary: the residual stream x [n×d] forward (with its token ids) and its
// gradient dx [n×d] backward. Three encodings:
//   dense    — float32 x and dx (4·d bytes per token each way): the uncompressed reference;
//   subspace — token ids (uint16 when the vocabulary fits, else uint32) + c = (x − F[ids])·U forward,
//              dc = dx·U backward (4·k bytes per token each way, + the ids forward); exact when the
//              sender's parameters keep x − F[ids] inside span(U) (subspace.ts);
//   int8     — per token a float32 scale (max|x|/127) and d int8 values; round-to-nearest forward,
//              stochastic rounding backward (unbiased: E[decoded] = dx), seeded per codec.
// Payload layouts are little-endian and carry no header: the transport frames them (transport.ts).
import { makeRng, type Rng } from '../util/rng.js';
import { TesseraError } from '../util/errors.js';
import { fromCoefficients, toCoefficients, type Basis } from './subspace.js';

export type ActivationKind = 'dense' | 'subspace' | 'int8';
export const ACTIVATION_KINDS: ActivationKind[] = ['dense', 'subspace', 'int8'];

export interface ActivationCodec {
  readonly kind: ActivationKind;
  readonly d: number;
  /** Forward payload for n tokens: x [n×d] and their ids. */
  encodeForward(x: Float32Array, ids: Int32Array, n: number): Uint8Array;
  /** Rebuilds x [n×d] into `out` and returns the token ids the payload carries (null when it carries none). */
  decodeForward(buf: Uint8Array, n: number, out: Float32Array): Int32Array | null;
  encodeBackward(dx: Float32Array, n: number): Uint8Array;
  decodeBackward(buf: Uint8Array, n: number, out: Float32Array): void;
  /** Bytes of one forward and one backward payload per token. */
  bytesPerToken(): { forward: number; backward: number };
}

const f32view = (buf: Uint8Array, off: number, n: number): Float32Array => {
  // Copy when unaligned (frames arrive at arbitrary offsets).
  if ((buf.byteOffset + off) % 4 === 0) return new Float32Array(buf.buffer, buf.byteOffset + off, n);
  return new Float32Array(buf.slice(off, off + 4 * n).buffer);
};
const bytesOf = (a: Float32Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

function expectLength(kind: string, dir: string, buf: Uint8Array, want: number): void {
  if (buf.length !== want) throw new TesseraError(`activation payload (${kind}, ${dir}) has ${buf.length} bytes, expected ${want}`,
    'both stages of a group must use the same --activations codec, rank and batch shape');
}

export class DenseCodec implements ActivationCodec {
  readonly kind = 'dense';
  constructor(readonly d: number) {}
  encodeForward(x: Float32Array, _ids: Int32Array, n: number): Uint8Array { return bytesOf(x.slice(0, n * this.d)); }
  decodeForward(buf: Uint8Array, n: number, out: Float32Array): null {
    expectLength('dense', 'forward', buf, 4 * n * this.d);
    out.set(f32view(buf, 0, n * this.d));
    return null;
  }
  encodeBackward(dx: Float32Array, n: number): Uint8Array { return bytesOf(dx.slice(0, n * this.d)); }
  decodeBackward(buf: Uint8Array, n: number, out: Float32Array): void {
    expectLength('dense', 'backward', buf, 4 * n * this.d);
    out.set(f32view(buf, 0, n * this.d));
  }
  bytesPerToken() { return { forward: 4 * this.d, backward: 4 * this.d }; }
}

export class SubspaceCodec implements ActivationCodec {
  readonly kind = 'subspace';
  readonly d: number;
  private readonly idBytes: 2 | 4;
  /** The window's fixed table F [V×d] (set at every window start: setFixed). */
  private F: Float32Array | null = null;
  constructor(readonly basis: Basis, readonly vocabSize: number) {
    this.d = basis.d;
    this.idBytes = vocabSize <= 65536 ? 2 : 4;
  }
  setFixed(F: Float32Array): void {
    if (F.length !== this.vocabSize * this.d) throw new TesseraError(`subspace: fixed table has ${F.length} values, expected ${this.vocabSize}×${this.d}`);
    this.F = F;
  }
  fixed(): Float32Array {
    if (!this.F) throw new Error('subspace codec: no fixed table for this window (call setFixed at the window start)');
    return this.F;
  }
  encodeForward(x: Float32Array, ids: Int32Array, n: number): Uint8Array {
    const { d, k } = this.basis, F = this.fixed();
    const diff = new Float32Array(n * d);
    for (let r = 0; r < n; r++) {
      const id = ids[r]!, fo = id * d, ro = r * d;
      for (let i = 0; i < d; i++) diff[ro + i] = x[ro + i]! - F[fo + i]!;
    }
    const out = new Uint8Array(n * this.idBytes + 4 * n * k);
    const ib = this.idBytes === 2 ? new Uint16Array(n) : new Uint32Array(n);
    for (let r = 0; r < n; r++) ib[r] = ids[r]!;
    out.set(new Uint8Array(ib.buffer), 0);
    out.set(bytesOf(toCoefficients(this.basis, diff, n)), n * this.idBytes);
    return out;
  }
  decodeForward(buf: Uint8Array, n: number, out: Float32Array): Int32Array {
    const { d, k } = this.basis, F = this.fixed();
    expectLength('subspace', 'forward', buf, n * this.idBytes + 4 * n * k);
    const raw = buf.slice(0, n * this.idBytes);
    const ib = this.idBytes === 2 ? new Uint16Array(raw.buffer) : new Uint32Array(raw.buffer);
    const ids = Int32Array.from(ib);
    for (const id of ids) if (id >= this.vocabSize) throw new TesseraError(`subspace payload: token id ${id} ≥ vocabulary ${this.vocabSize}`);
    fromCoefficients(this.basis, f32view(buf, n * this.idBytes, n * k), n, out);
    for (let r = 0; r < n; r++) {
      const fo = ids[r]! * d, ro = r * d;
      for (let i = 0; i < d; i++) out[ro + i] = out[ro + i]! + F[fo + i]!;
    }
    return ids;
  }
  encodeBackward(dx: Float32Array, n: number): Uint8Array { return bytesOf(toCoefficients(this.basis, dx, n)); }
  decodeBackward(buf: Uint8Array, n: number, out: Float32Array): void {
    expectLength('subspace', 'backward', buf, 4 * n * this.basis.k);
    fromCoefficients(this.basis, f32view(buf, 0, n * this.basis.k), n, out);
  }
  bytesPerToken() { return { forward: this.idBytes + 4 * this.basis.k, backward: 4 * this.basis.k }; }
}

/** Per-row int8: [scale f32 × n][int8 × n·d]. stochastic: floor(v/scale + u) with u ~ U[0,1). */
export function quantizeInt8(x: Float32Array, n: number, d: number, rng: Rng | null): Uint8Array {
  const out = new Uint8Array(4 * n + n * d);
  const scales = new Float32Array(n);
  const q = new Int8Array(out.buffer, 4 * n, n * d);
  for (let r = 0; r < n; r++) {
    let m = 0;
    for (let i = 0; i < d; i++) m = Math.max(m, Math.abs(x[r * d + i]!));
    const s = Math.fround(m / 127);
    scales[r] = s;
    if (s === 0) continue;
    for (let i = 0; i < d; i++) {
      const v = x[r * d + i]! / s;
      const t = rng ? Math.floor(v + rng.nextFloat()) : Math.round(v);
      q[r * d + i] = Math.max(-127, Math.min(127, t));
    }
  }
  out.set(new Uint8Array(scales.buffer), 0);
  return out;
}

export function dequantizeInt8(buf: Uint8Array, n: number, d: number, out: Float32Array): void {
  expectLength('int8', 'payload', buf, 4 * n + n * d);
  const scales = f32view(buf, 0, n);
  const q = new Int8Array(buf.buffer, buf.byteOffset + 4 * n, n * d);
  for (let r = 0; r < n; r++) {
    const s = scales[r]!;
    for (let i = 0; i < d; i++) out[r * d + i] = q[r * d + i]! * s;
  }
}

export class Int8Codec implements ActivationCodec {
  readonly kind = 'int8';
  private readonly rng: Rng;
  constructor(readonly d: number, seed: number | string) { this.rng = makeRng(`int8-activations:${String(seed)}`); }
  encodeForward(x: Float32Array, _ids: Int32Array, n: number): Uint8Array { return quantizeInt8(x, n, this.d, null); }
  decodeForward(buf: Uint8Array, n: number, out: Float32Array): null { dequantizeInt8(buf, n, this.d, out); return null; }
  encodeBackward(dx: Float32Array, n: number): Uint8Array { return quantizeInt8(dx, n, this.d, this.rng); }
  decodeBackward(buf: Uint8Array, n: number, out: Float32Array): void { dequantizeInt8(buf, n, this.d, out); }
  bytesPerToken() { return { forward: 4 + this.d, backward: 4 + this.d }; }
}

/** Dense bytes per token (both directions) ÷ this codec's: the activation compression ratio. */
export function activationCompression(c: ActivationCodec): number {
  const b = c.bytesPerToken();
  return (8 * c.d) / (b.forward + b.backward);
}
