// Reading and writing the safetensors format (https://github.com/huggingface/safetensors):
//
//   [8 bytes]  N, unsigned 64-bit little-endian: byte length of the header
//   [N bytes]  UTF-8 JSON object: { "<name>": { "dtype": "F32", "shape": [..], "data_offsets": [begin, end] },
//                                   ..., "__metadata__": { "<key>": "<string value>" } }
//              (may be padded at the end with spaces, 0x20; we pad so that 8 + N is a multiple of 8)
//   [rest]     the data buffer; data_offsets are relative to its start. Little-endian, row-major.
//
// Supported dtypes: F32, F64, I32, I64, U16, U8, and F16 / BF16 as their raw 16-bit patterns in a
// Uint16Array (halfToFloat32 / bf16ToFloat32 widen them). Anything else is rejected with a
// TesseraError rather than silently misread.
//
// I64 policy: I64 tensors are read losslessly into a BigInt64Array. Use `toInt32()` to get an
// Int32Array when you need one; it throws a TesseraError naming the file and tensor if a value does
// not fit in int32. Writing I64 takes a BigInt64Array.
//
// Views: a tensor's `data` is a zero-copy view into the file's bytes when its start is aligned to its
// element size (always true for files written here and by the reference implementation, which both
// order the data section by element size, largest first); otherwise it is a copy. Either way, treat it as read-only unless you own the bytes.
//
// Validation is strict (the same rules as the reference Rust implementation): header length within
// the file, valid UTF-8 JSON object, known dtypes, integer shapes, offsets inside the data buffer,
// byte count = product(shape) × dtype size, tensors contiguous and non-overlapping, covering the whole
// data buffer (no holes, no trailing bytes). Every failure is a TesseraError whose message names the
// file, says it is corrupt or truncated, and what to do.

import { closeSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { endianness } from 'node:os';
import { randomBytes } from 'node:crypto';
import { TesseraError } from './errors.js';

export type Dtype = 'F32' | 'F64' | 'I32' | 'I64' | 'U16' | 'U8' | 'F16' | 'BF16';

export interface DtypeArrays {
  F32: Float32Array;
  F64: Float64Array;
  I32: Int32Array;
  I64: BigInt64Array;
  U16: Uint16Array;
  U8: Uint8Array;
  /** IEEE half-precision bit patterns. */
  F16: Uint16Array;
  /** bfloat16 bit patterns (the upper half of a float32). */
  BF16: Uint16Array;
}

export type TensorData = DtypeArrays[Dtype];

export interface Tensor<D extends Dtype = Dtype> {
  dtype: D;
  shape: number[];
  data: DtypeArrays[D];
}

export interface SafetensorsContents {
  /** Tensors by name, in the order of their data offsets. */
  tensors: Record<string, Tensor>;
  /** The "__metadata__" string map ({} when absent). */
  metadata: Record<string, string>;
}

/** Largest header we accept (the reference implementation uses the same 100 MB limit). */
const MAX_HEADER_BYTES = 100_000_000;

const DTYPE_INFO: { [D in Dtype]: { size: number; ctor: { new(buffer: ArrayBufferLike, byteOffset: number, length: number): DtypeArrays[D]; new(length: number): DtypeArrays[D] } } } = {
  F32: { size: 4, ctor: Float32Array },
  F64: { size: 8, ctor: Float64Array },
  I32: { size: 4, ctor: Int32Array },
  I64: { size: 8, ctor: BigInt64Array },
  U16: { size: 2, ctor: Uint16Array },
  U8: { size: 1, ctor: Uint8Array },
  F16: { size: 2, ctor: Uint16Array },
  BF16: { size: 2, ctor: Uint16Array },
};

const LITTLE_ENDIAN_HOST = endianness() === 'LE';

/** Byte size of one element of `dtype`. */
export function dtypeSize(dtype: Dtype): number {
  return DTYPE_INFO[dtype].size;
}

function isDtype(s: unknown): s is Dtype {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_INFO, s);
}

function corrupt(file: string, detail: string): TesseraError {
  const what = 'Delete it and re-create it (or re-download / re-copy it from its source); do not edit it by hand.';
  return new TesseraError(
    `${file}: corrupt or truncated safetensors file — ${detail}. ${what}`,
    what,
  );
}

function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Expected typed-array class name for each dtype, for messages. */
function arrayName(dtype: Dtype): string {
  return DTYPE_INFO[dtype].ctor.name;
}

/**
 * Parse a safetensors file already in memory. `nameForErrors` is used in error messages (normally the
 * path). Tensors are zero-copy views into `bytes` where alignment allows (see the file comment).
 */
export function parseSafetensors(bytes: Uint8Array, nameForErrors: string): SafetensorsContents {
  const file = nameForErrors;
  if (bytes.byteLength < 8) {
    throw corrupt(file, `it is ${bytes.byteLength} bytes long, shorter than the 8-byte header length field`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen64 = dv.getBigUint64(0, true);
  if (headerLen64 > BigInt(bytes.byteLength - 8)) {
    throw corrupt(file, `the header claims ${headerLen64} bytes but only ${bytes.byteLength - 8} follow the length field`);
  }
  const headerLen = Number(headerLen64);
  if (headerLen > MAX_HEADER_BYTES) {
    throw corrupt(file, `the header is ${headerLen} bytes, over the ${MAX_HEADER_BYTES}-byte limit`);
  }
  if (headerLen < 2) throw corrupt(file, `the header is only ${headerLen} bytes, too short for a JSON object`);

  let headerText: string;
  try {
    headerText = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen));
  } catch {
    throw corrupt(file, 'the header is not valid UTF-8');
  }
  if (headerText[0] !== '{') throw corrupt(file, 'the header does not start with "{"');
  let header: unknown;
  try {
    header = JSON.parse(headerText);
  } catch (e) {
    throw corrupt(file, `the header is not valid JSON (${(e as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    throw corrupt(file, 'the header is not a JSON object');
  }

  const dataStart = 8 + headerLen;
  const dataLen = bytes.byteLength - dataStart;
  const metadata: Record<string, string> = {};
  interface Entry { name: string; dtype: Dtype; shape: number[]; begin: number; end: number }
  const entries: Entry[] = [];

  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
        throw corrupt(file, '"__metadata__" is not an object of strings');
      }
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== 'string') throw corrupt(file, `"__metadata__" value for "${k}" is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      throw corrupt(file, `the entry for tensor "${name}" is not an object`);
    }
    const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
    if (!isDtype(dtype)) {
      throw corrupt(file, `tensor "${name}" has dtype ${JSON.stringify(dtype)}; supported: ${Object.keys(DTYPE_INFO).join(', ')}`);
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw corrupt(file, `tensor "${name}" has an invalid shape ${JSON.stringify(shape)}`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      throw corrupt(file, `tensor "${name}" has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    if (begin > end) throw corrupt(file, `tensor "${name}" has data_offsets [${begin}, ${end}] with begin > end`);
    if (end > dataLen) {
      throw corrupt(file, `tensor "${name}" ends at data offset ${end} but the data section holds only ${dataLen} bytes`);
    }
    const count = shapeSize(shape as number[]);
    const expected = count * DTYPE_INFO[dtype].size;
    if (!Number.isSafeInteger(expected) || expected !== end - begin) {
      throw corrupt(file, `tensor "${name}" (${dtype} [${(shape as number[]).join(', ')}]) needs ${expected} bytes but its data_offsets span ${end - begin}`);
    }
    entries.push({ name, dtype, shape: (shape as number[]).slice(), begin, end });
  }

  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  for (const e of entries) {
    if (e.begin < pos) throw corrupt(file, `tensor "${e.name}" overlaps the previous tensor (starts at ${e.begin}, previous ends at ${pos})`);
    if (e.begin > pos) throw corrupt(file, `there is a gap in the data section before tensor "${e.name}" (bytes ${pos}..${e.begin} belong to no tensor)`);
    pos = e.end;
  }
  if (pos !== dataLen) {
    throw corrupt(file, `the data section is ${dataLen} bytes but the tensors cover only ${pos} (trailing bytes)`);
  }

  const tensors: Record<string, Tensor> = {};
  for (const e of entries) {
    tensors[e.name] = { dtype: e.dtype, shape: e.shape, data: makeView(bytes, dataStart + e.begin, e.end - e.begin, e.dtype) } as Tensor;
  }
  return { tensors, metadata };
}

function makeView<D extends Dtype>(bytes: Uint8Array, byteStart: number, byteLen: number, dtype: D): DtypeArrays[D] {
  const { size, ctor } = DTYPE_INFO[dtype];
  const n = byteLen / size;
  const abs = bytes.byteOffset + byteStart;
  if (LITTLE_ENDIAN_HOST) {
    if (abs % size === 0) return new ctor(bytes.buffer, abs, n); // zero-copy view
    const copy = new Uint8Array(byteLen);
    copy.set(bytes.subarray(byteStart, byteStart + byteLen));
    return new ctor(copy.buffer, 0, n);
  }
  // Big-endian host: decode element by element.
  const out = new ctor(n);
  const dv = new DataView(bytes.buffer, abs, byteLen);
  for (let i = 0; i < n; i++) {
    const o = i * size;
    switch (dtype) {
      case 'F32': (out as Float32Array)[i] = dv.getFloat32(o, true); break;
      case 'F64': (out as Float64Array)[i] = dv.getFloat64(o, true); break;
      case 'I32': (out as Int32Array)[i] = dv.getInt32(o, true); break;
      case 'I64': (out as BigInt64Array)[i] = dv.getBigInt64(o, true); break;
      case 'U16': case 'F16': case 'BF16': (out as Uint16Array)[i] = dv.getUint16(o, true); break;
      case 'U8': (out as Uint8Array)[i] = dv.getUint8(o); break;
    }
  }
  return out;
}

/** Read and validate a safetensors file. Missing/unreadable files also throw a TesseraError. */
export function readSafetensors(path: string): SafetensorsContents {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new TesseraError(`${path}: safetensors file not found`, 'Check the path, or create the file first.');
    }
    throw new TesseraError(`${path}: cannot read safetensors file (${(e as Error).message})`, 'Check the file permissions and that the path is a regular file.');
  }
  return parseSafetensors(bytes, path);
}

function checkTensor(name: string, t: Tensor): void {
  if (name === '__metadata__' || name.length === 0) {
    throw new TesseraError(`safetensors: invalid tensor name ${JSON.stringify(name)}`, 'Rename the tensor; "__metadata__" is reserved.');
  }
  if (!isDtype(t.dtype)) {
    throw new TesseraError(`safetensors: tensor "${name}" has unsupported dtype ${JSON.stringify(t.dtype)}`, `Use one of ${Object.keys(DTYPE_INFO).join(', ')}.`);
  }
  if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new TesseraError(`safetensors: tensor "${name}" has an invalid shape ${JSON.stringify(t.shape)}`, 'Shapes are arrays of non-negative integers.');
  }
  const ctor = DTYPE_INFO[t.dtype].ctor;
  if (!(t.data instanceof ctor)) {
    throw new TesseraError(`safetensors: tensor "${name}" is ${t.dtype} but its data is a ${t.data?.constructor?.name ?? typeof t.data}`, `Pass a ${arrayName(t.dtype)} for dtype ${t.dtype}.`);
  }
  const n = shapeSize(t.shape);
  if (t.data.length !== n) {
    throw new TesseraError(`safetensors: tensor "${name}" has shape [${t.shape.join(', ')}] (${n} elements) but ${t.data.length} data elements`, 'Make the shape match the data length.');
  }
}

function toLittleEndianBytes(t: Tensor): Uint8Array {
  const d = t.data;
  if (LITTLE_ENDIAN_HOST || t.dtype === 'U8') return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
  const size = DTYPE_INFO[t.dtype].size;
  const out = new Uint8Array(d.byteLength);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < d.length; i++) {
    const o = i * size;
    switch (t.dtype) {
      case 'F32': dv.setFloat32(o, (d as Float32Array)[i]!, true); break;
      case 'F64': dv.setFloat64(o, (d as Float64Array)[i]!, true); break;
      case 'I32': dv.setInt32(o, (d as Int32Array)[i]!, true); break;
      case 'I64': dv.setBigInt64(o, (d as BigInt64Array)[i]!, true); break;
      case 'U16': case 'F16': case 'BF16': dv.setUint16(o, (d as Uint16Array)[i]!, true); break;
    }
  }
  return out;
}

/**
 * Serialize to the safetensors byte layout, as a list of chunks (length field, header, then each
 * tensor's bytes; tensor chunks are views of the inputs on little-endian hosts).
 */
export function serializeSafetensorsChunks(tensors: Record<string, Tensor>, metadata?: Record<string, string>): Uint8Array[] {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) {
    const meta: Record<string, string> = {};
    for (const k of Object.keys(metadata).sort()) {
      const v = metadata[k];
      if (typeof v !== 'string') {
        throw new TesseraError(`safetensors: metadata value for "${k}" is not a string`, 'Metadata is a string→string map; JSON.stringify structured values.');
      }
      meta[k] = v;
    }
    header['__metadata__'] = meta;
  }
  for (const name of names) checkTensor(name, tensors[name]!);
  // Header keys in sorted order; the data section ordered by element size (largest first), then name,
  // as the reference implementation does: with the data starting 8-byte aligned, every tensor is then
  // aligned to its element size, so readers get zero-copy views.
  const dataOrder = [...names].sort((a, b) => dtypeSize(tensors[b]!.dtype) - dtypeSize(tensors[a]!.dtype) || (a < b ? -1 : a > b ? 1 : 0));
  const offsets = new Map<string, [number, number]>();
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const name of dataOrder) {
    const b = toLittleEndianBytes(tensors[name]!);
    offsets.set(name, [offset, offset + b.byteLength]);
    offset += b.byteLength;
    chunks.push(b);
  }
  for (const name of names) {
    const t = tensors[name]!;
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: offsets.get(name) };
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const pad = (8 - ((8 + json.byteLength) % 8)) % 8;
  if (pad > 0) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.byteLength), 0);
  return [len, json, ...chunks];
}

/** Serialize to one contiguous buffer (for in-memory use, e.g. sending over the network). */
export function serializeSafetensors(tensors: Record<string, Tensor>, metadata?: Record<string, string>): Uint8Array {
  const chunks = serializeSafetensorsChunks(tensors, metadata);
  const total = chunks.reduce((s, c) => s + c.byteLength, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const c of chunks) { out.set(c, o); o += c.byteLength; }
  return out;
}

/**
 * Write a safetensors file atomically: the bytes go to a temporary file in the same directory, which
 * is fsynced and then renamed over `path` (and the directory fsynced, where the OS allows). Readers
 * never see a half-written file; a crash leaves either the old file or the new one.
 * Header keys are written in sorted order; the header is space-padded so the data starts 8-byte
 * aligned, and the data is ordered by element size (then name) so every tensor is aligned.
 */
const tmpPathOf = (path: string): string => join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
const writeError = (path: string, e: unknown): TesseraError =>
  new TesseraError(`${path}: cannot write safetensors file (${(e as Error).message})`, 'Check that the directory exists, is writable, and the disk is not full.');

/**
 * writeSafetensors with the disk work off the event loop (libuv's threads): the same atomic tmp + fsync +
 * rename. The tensors are serialized (copied) before the first await, so the caller may change them at once.
 */
export async function writeSafetensorsAsync(path: string, tensors: Record<string, Tensor>, metadata?: Record<string, string>): Promise<void> {
  const chunks = serializeSafetensorsChunks(tensors, metadata).map((c) => c.slice());
  const tmp = tmpPathOf(path);
  try {
    const fh = await open(tmp, 'wx', 0o644);
    try {
      for (const c of chunks) await fh.write(c);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw writeError(path, e);
  }
  try {
    const dfd = await open(dirname(path), 'r');
    try { await dfd.sync(); } finally { await dfd.close(); }
  } catch { /* directory fsync is best-effort (not supported everywhere) */ }
}

export function writeSafetensors(path: string, tensors: Record<string, Tensor>, metadata?: Record<string, string>): void {
  const chunks = serializeSafetensorsChunks(tensors, metadata); // validates before touching the disk
  const dir = dirname(path);
  const tmp = tmpPathOf(path);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'wx', 0o644);
    for (const c of chunks) {
      let off = 0;
      while (off < c.byteLength) off += writeSync(fd, c, off, c.byteLength - off);
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== undefined) { try { closeSync(fd); } catch { /* already failing */ } }
    try { unlinkSync(tmp); } catch { /* may not exist */ }
    throw writeError(path, e);
  }
  try {
    const dfd = openSync(dir, 'r');
    try { fsyncSync(dfd); } finally { closeSync(dfd); }
  } catch { /* directory fsync is best-effort (not supported everywhere) */ }
}

/**
 * An integer tensor as Int32Array: I32 is returned as is; I64, U16 and U8 are converted (I64 checked
 * to be within int32 range). `file` and `name` are only used in the error message.
 */
export function toInt32(t: Tensor, file: string, name: string): Int32Array {
  switch (t.dtype) {
    case 'I32': return t.data as Int32Array;
    case 'U16': case 'U8': return Int32Array.from(t.data as Uint16Array | Uint8Array);
    case 'I64': {
      const src = t.data as BigInt64Array;
      const out = new Int32Array(src.length);
      for (let i = 0; i < src.length; i++) {
        const v = src[i]!;
        if (v < -2147483648n || v > 2147483647n) {
          throw new TesseraError(`${file}: tensor "${name}" has value ${v} at index ${i}, outside the int32 range`, 'Store this tensor as I32 or keep it as BigInt64Array.');
        }
        out[i] = Number(v);
      }
      return out;
    }
    default:
      throw new TesseraError(`${file}: tensor "${name}" is ${t.dtype}, not an integer tensor`, 'Expected I32, I64, U16 or U8.');
  }
}

/** Fetch a tensor by name, checking dtype (and shape when given); errors name the file. */
export function getTensor<D extends Dtype>(contents: SafetensorsContents, file: string, name: string, dtype: D, shape?: readonly number[]): Tensor<D> {
  const t = contents.tensors[name];
  if (t === undefined) {
    throw new TesseraError(`${file}: tensor "${name}" is missing`, 'The file was written by a different version or for a different model; re-create it.');
  }
  if (t.dtype !== dtype) {
    throw new TesseraError(`${file}: tensor "${name}" is ${t.dtype}, expected ${dtype}`, 'The file was written for a different model or version; re-create it.');
  }
  if (shape !== undefined && (shape.length !== t.shape.length || shape.some((d, i) => d !== t.shape[i]))) {
    throw new TesseraError(`${file}: tensor "${name}" has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`, 'The file was written for a different model configuration; re-create it.');
  }
  return t as Tensor<D>;
}

/** bfloat16 bit patterns → float32 (exact: bf16 is the upper half of a float32). */
export function bf16ToFloat32(bits: Uint16Array): Float32Array {
  const u = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) u[i] = bits[i]! << 16;
  return new Float32Array(u.buffer);
}

/** IEEE half bit patterns → float32 (exact, subnormals, infinities and NaN included). */
export function halfToFloat32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i]!, sign = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
    out[i] = e === 0 ? sign * m * 2 ** -24 : e === 31 ? (m ? NaN : sign * Infinity) : sign * (1 + m / 1024) * 2 ** (e - 15);
  }
  return out;
}
