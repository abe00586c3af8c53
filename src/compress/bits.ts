// Bit packing for the SparseLoCo wire format: 12-bit indices (2 per 3 bytes), 2-bit codes (4 per
// byte) and an MSB-first bit writer/reader for variable-length codes. Pure; readers never read past
// their buffer and report failure (null / −1) instead of throwing on malformed input.

/** Bytes holding n 12-bit values: 3 per pair, 2 for an odd tail (its top 4 bits zero). */
export function packed12Bytes(n: number): number {
  return 3 * (n >>> 1) + 2 * (n & 1);
}

/** Pairs (a, b) → [a & 0xff, a >> 8 | (b & 0xf) << 4, b >> 4]; an odd tail a → [a & 0xff, a >> 8]. */
export function pack12(v: Uint16Array): Uint8Array {
  const n = v.length, out = new Uint8Array(packed12Bytes(n));
  let o = 0, i = 0;
  for (; i + 1 < n; i += 2) {
    const a = v[i]!, b = v[i + 1]!;
    if ((a | b) > 0xfff) throw new RangeError(`pack12: value ${Math.max(a, b)} does not fit in 12 bits`);
    out[o++] = a & 0xff; out[o++] = (a >>> 8) | ((b & 0xf) << 4); out[o++] = b >>> 4;
  }
  if (i < n) {
    const a = v[i]!;
    if (a > 0xfff) throw new RangeError(`pack12: value ${a} does not fit in 12 bits`);
    out[o++] = a & 0xff; out[o] = a >>> 8;
  }
  return out;
}

/** Inverse of pack12; null unless `bytes` is exactly packed12Bytes(n) long with a zero tail pad. */
export function unpack12(bytes: Uint8Array, n: number): Uint16Array | null {
  if (bytes.length !== packed12Bytes(n)) return null;
  const out = new Uint16Array(n);
  let o = 0, i = 0;
  for (; i + 1 < n; i += 2) {
    const b0 = bytes[o++]!, b1 = bytes[o++]!, b2 = bytes[o++]!;
    out[i] = b0 | ((b1 & 0xf) << 8); out[i + 1] = (b1 >>> 4) | (b2 << 4);
  }
  if (i < n) {
    const b1 = bytes[o + 1]!;
    if (b1 > 0xf) return null;
    out[i] = bytes[o]! | (b1 << 8);
  }
  return out;
}

/** Bytes holding n 2-bit codes. */
export function packed2Bytes(n: number): number {
  return (n + 3) >>> 2;
}

/** Code i sits at bits 2·(i mod 4) of byte ⌊i/4⌋ (LSB first); unused high bits of the last byte are 0. */
export function pack2(codes: Uint8Array): Uint8Array {
  const out = new Uint8Array(packed2Bytes(codes.length));
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i]!;
    if (c > 3) throw new RangeError(`pack2: code ${c} does not fit in 2 bits`);
    out[i >>> 2]! |= c << ((i & 3) << 1);
  }
  return out;
}

/** Inverse of pack2; null unless `bytes` is exactly packed2Bytes(n) long with zero pad bits. */
export function unpack2(bytes: Uint8Array, n: number): Uint8Array | null {
  if (bytes.length !== packed2Bytes(n)) return null;
  const rem = n & 3;
  if (rem !== 0 && bytes[bytes.length - 1]! >>> (rem << 1) !== 0) return null;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (bytes[i >>> 2]! >>> ((i & 3) << 1)) & 3;
  return out;
}

/** MSB-first bit writer into a growing buffer; `finish()` zero-pads to a whole byte. */
export class BitWriter {
  private buf = new Uint8Array(256);
  private len = 0; // whole bytes written
  private acc = 0; // pending bits (fewer than 8 between calls), right-aligned
  private nacc = 0;

  /** Append the low n bits of value (0 ≤ n ≤ 24), most significant first. */
  write(value: number, n: number): void {
    this.acc = (this.acc << n) | (value & ((1 << n) - 1));
    this.nacc += n;
    while (this.nacc >= 8) {
      this.nacc -= 8;
      if (this.len === this.buf.length) this.grow();
      this.buf[this.len++] = (this.acc >>> this.nacc) & 0xff;
    }
    this.acc &= (1 << this.nacc) - 1;
  }

  /** Unary: q one-bits, then a zero bit. */
  writeUnary(q: number): void {
    for (; q >= 24; q -= 24) this.write(0xffffff, 24);
    this.write(((1 << q) - 1) << 1, q + 1);
  }

  get bitLength(): number {
    return this.len * 8 + this.nacc;
  }

  finish(): Uint8Array {
    if (this.nacc > 0) this.write(0, 8 - this.nacc);
    return this.buf.slice(0, this.len);
  }

  private grow(): void {
    const b = new Uint8Array(this.buf.length * 2);
    b.set(this.buf);
    this.buf = b;
  }
}

/** MSB-first bit reader over a byte buffer; reads past the end return −1 and consume nothing. */
export class BitReader {
  private pos = 0; // bit position
  private readonly end: number;

  constructor(private readonly bytes: Uint8Array) {
    this.end = bytes.length * 8;
  }

  /** The next n bits (0 ≤ n ≤ 24) as an unsigned number, or −1 if fewer than n remain. */
  read(n: number): number {
    if (this.pos + n > this.end) return -1;
    let v = 0, p = this.pos, left = n;
    while (left > 0) {
      const off = p & 7, take = Math.min(8 - off, left);
      v = (v << take) | ((this.bytes[p >>> 3]! >>> (8 - off - take)) & ((1 << take) - 1));
      p += take; left -= take;
    }
    this.pos = p;
    return v;
  }

  /** Count one-bits up to the terminating zero; −1 if more than `max` ones or the buffer ends first. */
  readUnary(max: number): number {
    let q = 0;
    for (;;) {
      if (this.pos >= this.end) return -1;
      const bit = (this.bytes[this.pos >>> 3]! >>> (7 - (this.pos & 7))) & 1;
      this.pos++;
      if (bit === 0) return q;
      if (++q > max) return -1;
    }
  }

  get bitPosition(): number {
    return this.pos;
  }

  /** True when what is left is under one byte of zero padding (the writer's `finish`). */
  atPaddedEnd(): boolean {
    const left = this.end - this.pos;
    return left < 8 && (left === 0 || this.read(left) === 0);
  }
}
