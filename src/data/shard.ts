// Token shard files: a fixed 32-byte little-endian header (magic, version, vocab, dtype, count,
// CRC32 of the payload) followed by uint16/uint32 tokens. Readers validate everything.
import { existsSync, readFileSync } from 'node:fs';
import { endianness } from 'node:os';
import { TesseraError } from '../util/errors.js';
import { atomicWrite } from './fsutil.js';

export const SHARD_MAGIC = 'TSRD';
export const SHARD_VERSION = 1;
export const SHARD_HEADER_BYTES = 32;
export type TokenArray = Uint16Array | Uint32Array;

// Layout: 0 magic[4] | 4 version u32 | 8 vocabSize u32 | 12 bytesPerToken u32 (2|4)
//         16 tokenCount u64 | 24 crc32(payload) u32 | 28 reserved u32 = 0
const REPAIR = 'delete the data directory and re-run `tessera data prepare`';

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (IEEE, as zlib/PNG/gzip) of `bytes`. */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Smallest dtype that holds every id of a vocab of this size. */
export function dtypeFor(vocabSize: number): 2 | 4 {
  return vocabSize <= 65536 ? 2 : 4;
}

/** The little-endian payload bytes of a token array (copies only on big-endian hosts). */
function payloadBytes(tokens: TokenArray): Uint8Array {
  const view = new Uint8Array(tokens.buffer, tokens.byteOffset, tokens.byteLength);
  if (endianness() === 'LE') return view;
  const b = Buffer.from(view);
  return tokens.BYTES_PER_ELEMENT === 2 ? b.swap16() : b.swap32();
}

/** Writes a shard atomically; returns its payload CRC32. Tokens are narrowed to the vocab's dtype. */
export function writeShard(path: string, tokens: ArrayLike<number>, vocabSize: number): number {
  const dtype = dtypeFor(vocabSize);
  const arr: TokenArray = dtype === 2 ? Uint16Array.from(tokens) : Uint32Array.from(tokens);
  for (let i = 0; i < arr.length; i++) {
    if (arr[i] !== tokens[i] || arr[i] >= vocabSize) throw new RangeError(`token ${tokens[i]} at ${i} is outside vocab size ${vocabSize}`);
  }
  const payload = payloadBytes(arr);
  const crc = crc32(payload);
  const file = Buffer.alloc(SHARD_HEADER_BYTES + payload.length);
  file.write(SHARD_MAGIC, 0, 'latin1');
  file.writeUInt32LE(SHARD_VERSION, 4);
  file.writeUInt32LE(vocabSize, 8);
  file.writeUInt32LE(dtype, 12);
  file.writeBigUInt64LE(BigInt(arr.length), 16);
  file.writeUInt32LE(crc, 24);
  file.set(payload, SHARD_HEADER_BYTES);
  atomicWrite(path, file);
  return crc;
}

export interface Shard { vocabSize: number; tokens: TokenArray; crc32: number }

/** Reads and fully validates a shard: magic, version, dtype, exact length, checksum, token range. */
export function readShard(path: string): Shard {
  if (!existsSync(path)) throw new TesseraError(`token shard not found: ${path}`, REPAIR);
  const buf = readFileSync(path);
  const bad = (what: string): TesseraError => new TesseraError(`token shard ${path} ${what}`, REPAIR);
  if (buf.length < SHARD_HEADER_BYTES) throw bad(`is truncated (${buf.length} bytes, header alone is ${SHARD_HEADER_BYTES})`);
  if (buf.toString('latin1', 0, 4) !== SHARD_MAGIC) throw bad('is not a tessera shard (bad magic)');
  const version = buf.readUInt32LE(4);
  if (version !== SHARD_VERSION) throw bad(`has unsupported version ${version} (expected ${SHARD_VERSION})`);
  const vocabSize = buf.readUInt32LE(8);
  const dtype = buf.readUInt32LE(12);
  if (dtype !== dtypeFor(vocabSize) || vocabSize === 0) throw bad(`has an inconsistent header (vocab ${vocabSize}, ${dtype} bytes/token)`);
  const count = buf.readBigUInt64LE(16);
  const expected = BigInt(SHARD_HEADER_BYTES) + count * BigInt(dtype);
  if (BigInt(buf.length) < expected) throw bad(`is truncated: ${buf.length} bytes, header implies ${expected}`);
  if (BigInt(buf.length) > expected) throw bad(`has ${BigInt(buf.length) - expected} unexpected trailing bytes`);
  const payload = buf.subarray(SHARD_HEADER_BYTES);
  const crc = crc32(payload);
  if (crc !== buf.readUInt32LE(24)) throw bad('is corrupted (CRC32 mismatch)');
  // Copy into a fresh, aligned buffer (Buffer slices may sit at odd offsets).
  const n = Number(count);
  const tokens: TokenArray = dtype === 2 ? new Uint16Array(n) : new Uint32Array(n);
  const bytes = new Uint8Array(tokens.buffer);
  bytes.set(payload);
  if (endianness() !== 'LE') (dtype === 2 ? Buffer.from(tokens.buffer).swap16() : Buffer.from(tokens.buffer).swap32());
  for (let i = 0; i < n; i++) if (tokens[i] >= vocabSize) throw bad(`holds token ${tokens[i]} ≥ vocab size ${vocabSize}`);
  return { vocabSize, tokens, crc32: crc };
}
