// The SparseLoCo payload: one versioned encode/decode pair. Decoding checks every length, count,
// index and table value against the geometry expected from (shapes, cfg) before use and never throws
// on bad bytes: it returns {ok:false, reason}, a value the validator scores (architecture habit 7).
//
//   offset   size     field (little-endian)
//   0        4        magic "TSLC"
//   4        2        version u16 = 3 (v2 and older are refused: 'bad_version')
//   6        2        flags u16: bit 0 = entropy-coded indices and codes (else 12-bit + 2-bit); bit 1 = partial
//                     (a pipeline stage's payload, docs/hetero.md: a held-tensor bitmap follows the fixed
//                     header; at least one tensor is held); bit 2 = a state commitment follows the fixed
//                     header (neurons/audit.ts: sha256 of the miner's inner-optimizer state, error feedback
//                     and base before this window's training, revealed when a replay audit picks it); others 0
//   8        4        header length u32 = 80 + C + B + E·Th (where the sections start): C = 32 with a state
//                     commitment else 0; B = ⌈T/8⌉ if partial else 0; Th = tensors held (T unless partial);
//                     E = 8 (12-bit) or 16 (entropy)
//   12       32       model-config hash
//   44       8        window u64 (≤ 2^53 − 1)
//   52       4        uid u32
//   56       12       codec config echoed: tile, vectorChunk, topk (u32 each)
//   68       4        tensor count T u32
//   72       4        inner steps u32: how many of its assigned batches the miner trained (0: not stated)
//   76       4        section bytes u32: Σ of all sections (the content hash is at header length + this)
//   80       C        the state commitment (32 bytes), when flag bit 2 is set
//   80+C     B        partial only: bit t%8 of byte ⌊t/8⌋ set ⇔ tensor t held; pad bits 0
//   80+C+B   E·Th     per held tensor: table 4 × binary16 (half.ts); entropy mode adds index-section
//                     bytes u32 and code-section bytes u32. Kept counts follow from the geometry, and so
//                     do the 12-bit mode's section lengths.
//   H        Σ        per held tensor: index section, then code section. Positions of a chunk that keeps
//                     every value (k = size, e.g. a vector chunk under vectorChunk ≤ topk) are implied
//                     (0 … size − 1) and not written in either mode.
//   S        32       content hash = sha256(bytes[0, S))
//   S+32     2        signature length u16 (0 or 64), then the signature over payloadSigningBytes
import { createHash } from 'node:crypto';
import { TesseraError } from '../util/errors.js';
import { pack12, pack2, packed12Bytes, packed2Bytes, unpack12, unpack2 } from './bits.js';
import { decodeCodes, decodeIndices, encodeCodes, encodeIndices, maxCodeBytes, maxIndexBytes } from './entropy.js';
import { chunksOf, keptTotal, type Chunk, type TensorShape } from './geometry.js';
import { halfBits, halfValue, roundHalf } from './half.js';
import type { CodecConfig, SparseTensor, SparseUpdate } from './types.js';

export const PAYLOAD_VERSION = 3;
export const SIGNATURE_BYTES = 64; // sr25519
/** Largest |table value| accepted; pseudo-gradient bins are orders of magnitude smaller. */
export const TABLE_BOUND = 1e6;
const MAGIC = [0x54, 0x53, 0x4c, 0x43]; // "TSLC"
const FIXED = 80, TRAILER = 34; // trailer: content hash + signature length
const COMMIT_BYTES = 32;
/** Bytes of a held tensor's entry: its 16-bit table, and in entropy mode the two section lengths. */
const entryBytes = (entropy: boolean): number => (entropy ? 16 : 8);
const bitmapBytes = (T: number): number => (T + 7) >>> 3;
const SIGNING_DOMAIN = new TextEncoder().encode('tessera/sparseloco-payload/v1');

export type IndexMode = '12bit' | 'entropy';

export const REJECT_REASONS = [
  'too_large', 'truncated', 'bad_magic', 'bad_version', 'bad_flags', 'bad_header', 'bad_tensor_count',
  'config_mismatch', 'model_mismatch', 'bad_count', 'bad_table', 'bad_indices', 'bad_codes',
  'bad_signature_slot', 'trailing_bytes', 'hash_mismatch',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

export interface PayloadInput {
  update: SparseUpdate;
  /** Hex sha256 of the model configuration (64 hex digits). */
  modelHash: string;
  window: number;
  uid: number;
  indexMode: IndexMode;
  shapes: readonly TensorShape[];
  cfg: CodecConfig;
  /** Inner steps trained (the first `steps` assigned batches); 0 or absent: not stated. */
  steps?: number;
  /** Hex sha256 committing to the miner's state before this window's training (neurons/audit.ts); absent: none. */
  stateCommitment?: string;
}

export interface Expectation {
  shapes: readonly TensorShape[];
  cfg: CodecConfig;
  modelHash?: string;
  maxBytes?: number;
}

export interface DecodedPayload {
  window: number;
  uid: number;
  indexMode: IndexMode;
  modelHash: string;
  /** Inner steps the miner says it trained (0: not stated). */
  steps: number;
  /** The state commitment (hex sha256; neurons/audit.ts), or null when the payload carries none. */
  stateCommitment: string | null;
  update: SparseUpdate;
  signature: Uint8Array | null;
  /** Hex sha256 of everything before the hash (what the signature covers, with a domain tag). */
  contentHash: string;
}

export type DecodeResult = { ok: true; payload: DecodedPayload } | { ok: false; reason: RejectReason; detail: string };

interface Geometry {
  chunks: Chunk[][];
  /** Per tensor: the chunks whose positions are written (k < size); a full chunk's are implied. */
  sent: Chunk[][];
  kept: number[];
  /** Per tensor: how many positions are written (Σ k over `sent`). */
  sentKept: number[];
  maxIdx: number[];
  maxBytes: number;
}

const isInt = (v: unknown, lo: number, hi: number): v is number => Number.isSafeInteger(v) && (v as number) >= lo && (v as number) <= hi;

/** Chunks, kept counts and the largest valid payload; throws if shapes or cfg are invalid (a local bug). */
function geometry(shapes: readonly TensorShape[], cfg: CodecConfig): Geometry {
  // Positions must fit in 12 bits: chunk sizes ≤ 4096.
  if (!isInt(cfg.tile, 1, 64) || !isInt(cfg.vectorChunk, 1, 4096) || !isInt(cfg.topk, 1, 0xffffffff)) {
    throw new TesseraError(`codec config ${JSON.stringify(cfg)} has no wire form`, 'Use tile ≤ 64, vectorChunk ≤ 4096 and topk ≥ 1.');
  }
  const T = shapes.length;
  const g: Geometry = { chunks: [], sent: [], kept: [], sentKept: [], maxIdx: [], maxBytes: FIXED + COMMIT_BYTES + bitmapBytes(T) + entryBytes(true) * T + TRAILER + SIGNATURE_BYTES };
  for (const s of shapes) {
    if (!Array.isArray(s) || (s.length !== 1 && s.length !== 2) || !s.every((d) => isInt(d, 1, 2 ** 40))) {
      throw new TesseraError(`tensor shape ${JSON.stringify(s)} is not a 1-D or 2-D shape of positive integers`);
    }
    const ch = chunksOf(s, cfg), sent = ch.filter((c) => c.k < c.size), n = keptTotal(ch), m = keptTotal(sent), mi = maxIndexBytes(sent);
    g.chunks.push(ch); g.sent.push(sent); g.kept.push(n); g.sentKept.push(m); g.maxIdx.push(mi);
    g.maxBytes += Math.max(packed12Bytes(m), mi) + Math.max(packed2Bytes(n), maxCodeBytes(n));
  }
  return g;
}

/** The positions a payload writes: those of the chunks that do not keep every value, in order. */
function writtenPositions(idx: Uint16Array, chunks: readonly Chunk[], m: number): Uint16Array {
  if (m === idx.length) return idx;
  const out = new Uint16Array(m);
  let i = 0, o = 0;
  for (const ch of chunks) {
    if (ch.k < ch.size) { out.set(idx.subarray(i, i + ch.k), o); o += ch.k; }
    i += ch.k;
  }
  return out;
}

/** Inverse of writtenPositions: the written positions with each full chunk's 0 … size − 1 put back. */
function withImpliedPositions(written: Uint16Array, chunks: readonly Chunk[], n: number): Uint16Array {
  if (written.length === n) return written;
  const out = new Uint16Array(n);
  let i = 0, w = 0;
  for (const ch of chunks) {
    if (ch.k < ch.size) { out.set(written.subarray(w, w + ch.k), i); w += ch.k; } else for (let p = 0; p < ch.k; p++) out[i + p] = p;
    i += ch.k;
  }
  return out;
}

/** Why a tensor's positions break the geometry (each < chunk size, strictly increasing), or null. */
function indexError(idx: Uint16Array, chunks: readonly Chunk[]): string | null {
  let i = 0;
  for (let c = 0; c < chunks.length; c++) {
    const ch = chunks[c]!;
    for (let j = 0, prev = -1; j < ch.k; j++, i++) {
      if (idx[i]! <= prev || idx[i]! >= ch.size) return `chunk ${c}: position ${idx[i]} after ${prev} in a chunk of ${ch.size}`;
      prev = idx[i]!;
    }
  }
  return null;
}

function tableError(t: Float32Array): string | null {
  if (t.length !== 4) return `table has ${t.length} entries, not 4`;
  for (const v of t) if (!Number.isFinite(v) || Math.abs(v) > TABLE_BOUND) return `table value ${v} not finite within ±${TABLE_BOUND}`;
  return null;
}

function checkUpdate(u: SparseUpdate, g: Geometry): void {
  if (u.tensors.length !== g.kept.length) throw new TesseraError(`update has ${u.tensors.length} tensors, the layout ${g.kept.length}`);
  if (u.held && u.held.length !== g.kept.length) throw new TesseraError(`update says which of ${u.held.length} tensors it holds, the layout has ${g.kept.length}`);
  if (u.held && !u.held.some(Boolean)) throw new TesseraError('encodePayload: a partial update must hold at least one tensor');
  u.tensors.forEach((t, i) => {
    if (u.held && !u.held[i]) return;
    const n = g.kept[i]!;
    const err = t.idx.length !== n || t.codes.length !== n ? `holds ${t.idx.length} positions and ${t.codes.length} codes, expected ${n}`
      : indexError(t.idx, g.chunks[i]!) ?? tableError(t.table) ?? (t.codes.some((c) => c > 3) ? 'has a code above 3' : null);
    if (err !== null) throw new TesseraError(`encodePayload: tensor ${i} ${err}`, 'The update does not match the layout and codec config; this is a bug in the encoder.');
    const b = t.table.findIndex((v) => !Object.is(roundHalf(v), v));
    if (b >= 0) {
      throw new TesseraError(`encodePayload: tensor ${i} table entry ${b} (${t.table[b]}) is not a binary16 value`,
        'Payload v3 carries 16-bit tables: the codec rounds each bin mean with roundHalf (compress/half.ts) before the residual; round a hand-made table the same way.');
    }
  });
}

/** Encode a payload (unsigned: empty signature slot). Throws a TesseraError if the input is inconsistent. */
export function encodePayload(p: PayloadInput): Uint8Array {
  const g = geometry(p.shapes, p.cfg);
  if (!/^[0-9a-f]{64}$/.test(p.modelHash)) throw new TesseraError('encodePayload: modelHash must be 64 lowercase hex digits');
  const steps = p.steps ?? 0;
  if (!isInt(p.window, 0, Number.MAX_SAFE_INTEGER) || !isInt(p.uid, 0, 0xffffffff) || !['12bit', 'entropy'].includes(p.indexMode) || !isInt(steps, 0, 0xffffffff)) {
    throw new TesseraError(`encodePayload: bad window ${p.window}, uid ${p.uid}, index mode ${p.indexMode} or steps ${steps}`);
  }
  if (p.stateCommitment !== undefined && !/^[0-9a-f]{64}$/.test(p.stateCommitment)) throw new TesseraError('encodePayload: stateCommitment must be 64 lowercase hex digits');
  checkUpdate(p.update, g);
  const entropy = p.indexMode === 'entropy', T = g.kept.length;
  const held = p.update.held, partial = !!held && held.some((h) => !h);
  const mine = (i: number): boolean => !partial || held![i]!;
  const sections = p.update.tensors.map((t, i) => {
    if (!mine(i)) return null;
    const written = writtenPositions(t.idx, g.chunks[i]!, g.sentKept[i]!);
    return entropy ? [encodeIndices(written, g.sent[i]!), encodeCodes(t.codes)] as const : [pack12(written), pack2(t.codes)] as const;
  });
  const E = entryBytes(entropy), B = partial ? bitmapBytes(T) : 0, C = p.stateCommitment !== undefined ? COMMIT_BYTES : 0;
  const head = FIXED + C + B + E * sections.filter((x) => x !== null).length;
  const body = sections.reduce((a, x) => a + (x ? x[0].length + x[1].length : 0), 0), S = head + body;
  const out = new Uint8Array(S + TRAILER), dv = new DataView(out.buffer);
  out.set(MAGIC, 0);
  dv.setUint16(4, PAYLOAD_VERSION, true);
  dv.setUint16(6, (entropy ? 1 : 0) | (partial ? 2 : 0) | (C ? 4 : 0), true);
  dv.setUint32(8, head, true);
  out.set(Buffer.from(p.modelHash, 'hex'), 12);
  dv.setBigUint64(44, BigInt(p.window), true);
  dv.setUint32(52, p.uid, true);
  [p.cfg.tile, p.cfg.vectorChunk, p.cfg.topk, T, steps, body].forEach((v, i) => dv.setUint32(56 + 4 * i, v, true));
  if (C) out.set(Buffer.from(p.stateCommitment!, 'hex'), FIXED);
  if (partial) held!.forEach((h, t) => { if (h) out[FIXED + C + (t >>> 3)]! |= 1 << (t & 7); });
  let e = FIXED + C + B, o = head;
  sections.forEach((sec, i) => {
    if (!sec) return;
    const [x, c] = sec, t = p.update.tensors[i]!;
    for (let b = 0; b < 4; b++) dv.setUint16(e + 2 * b, halfBits(t.table[b]!), true);
    if (entropy) { dv.setUint32(e + 8, x.length, true); dv.setUint32(e + 12, c.length, true); }
    e += E;
    out.set(x, o); out.set(c, o + x.length); o += x.length + c.length;
  });
  out.set(createHash('sha256').update(out.subarray(0, S)).digest(), S);
  return out;
}

/** Offset S of the content hash, from the fixed header alone (header length + section bytes); −1 if it does not fit. */
function hashOffset(bytes: Uint8Array): number {
  if (bytes.length < FIXED + TRAILER) return -1;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const S = dv.getUint32(8, true) + dv.getUint32(76, true);
  return dv.getUint32(8, true) >= FIXED && S + TRAILER <= bytes.length ? S : -1;
}

/** The bytes a signature covers: a domain tag followed by the 32-byte content hash. Null if malformed. */
export function payloadSigningBytes(bytes: Uint8Array): Uint8Array | null {
  const S = hashOffset(bytes);
  return S < 0 ? null : Buffer.concat([SIGNING_DOMAIN, bytes.subarray(S, S + 32)]);
}

/** A copy of the payload with its signature slot set to `sig` (64 bytes, or empty to strip it). */
export function attachSignature(bytes: Uint8Array, sig: Uint8Array): Uint8Array {
  const S = hashOffset(bytes);
  if (S < 0) throw new TesseraError('attachSignature: not a payload (header and lengths inconsistent)');
  if (sig.length !== 0 && sig.length !== SIGNATURE_BYTES) throw new TesseraError(`attachSignature: signature is ${sig.length} bytes, not ${SIGNATURE_BYTES}`);
  const out = new Uint8Array(S + TRAILER + sig.length);
  out.set(bytes.subarray(0, S + 32));
  new DataView(out.buffer).setUint16(S + 32, sig.length, true);
  out.set(sig, S + TRAILER);
  return out;
}

/** Largest valid payload for a layout (a download cap); throws if shapes or cfg are invalid. */
export function maxPayloadBytes(shapes: readonly TensorShape[], cfg: CodecConfig): number {
  return geometry(shapes, cfg).maxBytes;
}

type Fail = { ok: false; reason: RejectReason; detail: string };
const fail = (reason: RejectReason, detail: string): Fail => ({ ok: false, reason, detail });

/**
 * Decode and fully validate a payload against the expected layout. Never throws for any bytes (only
 * if `expect` itself is invalid); allocations are bounded by the geometry of (shapes, cfg).
 */
export function decodePayload(bytes: Uint8Array, expect: Expectation): DecodeResult {
  const g = geometry(expect.shapes, expect.cfg), T = g.kept.length;
  const cap = Math.min(g.maxBytes, expect.maxBytes ?? Infinity);
  if (bytes.length > cap) return fail('too_large', `${bytes.length} bytes, limit ${cap}`);
  if (bytes.length < FIXED) return fail('truncated', `${bytes.length} bytes, shorter than the ${FIXED}-byte header`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), u32 = (o: number): number => dv.getUint32(o, true);
  if (MAGIC.some((b, i) => bytes[i] !== b)) return fail('bad_magic', 'does not start with "TSLC"');
  const version = dv.getUint16(4, true);
  if (version !== PAYLOAD_VERSION) {
    return fail('bad_version', version < PAYLOAD_VERSION
      ? `payload format version ${version}; this node reads only version ${PAYLOAD_VERSION} (16-bit tables, implied positions of fully kept chunks): the sender runs an older tessera and must upgrade`
      : `payload format version ${version}; this node reads only version ${PAYLOAD_VERSION}: upgrade this node`);
  }
  const flags = dv.getUint16(6, true);
  if (flags > 7) return fail('bad_flags', `unknown flag bits 0x${flags.toString(16)}`);
  const partial = (flags & 2) !== 0, entropy = (flags & 1) === 1, E = entryBytes(entropy), B = partial ? bitmapBytes(T) : 0, C = (flags & 4) !== 0 ? COMMIT_BYTES : 0;
  if (u32(68) !== T) return fail('bad_tensor_count', `${u32(68)} tensors, the layout has ${T}`);
  const [tile, vectorChunk, topk] = [u32(56), u32(60), u32(64)], c = expect.cfg;
  if (tile !== c.tile || vectorChunk !== c.vectorChunk || topk !== c.topk) {
    return fail('config_mismatch', `codec tile ${tile}/vectorChunk ${vectorChunk}/topk ${topk}, expected ${c.tile}/${c.vectorChunk}/${c.topk}`);
  }
  const modelHash = Buffer.from(bytes.subarray(12, 44)).toString('hex');
  if (expect.modelHash !== undefined && expect.modelHash.toLowerCase() !== modelHash) return fail('model_mismatch', `model hash ${modelHash}`);
  const window = Number(dv.getBigUint64(44, true));
  if (window > Number.MAX_SAFE_INTEGER) return fail('bad_header', `window ${dv.getBigUint64(44, true)} beyond 2^53 − 1`);
  if (bytes.length < FIXED + C + B) return fail('truncated', `${bytes.length} bytes, the header, state commitment and held-tensor bitmap need ${FIXED + C + B}`);
  const held: boolean[] = Array.from({ length: T }, (_, t) => !partial || ((bytes[FIXED + C + (t >>> 3)]! >>> (t & 7)) & 1) === 1);
  if (partial) {
    if ((T & 7) !== 0 && bytes[FIXED + C + B - 1]! >>> (T & 7) !== 0) return fail('bad_header', 'held-tensor bitmap has pad bits set');
    if (!held.some(Boolean)) return fail('bad_count', 'a partial payload that holds no tensor');
  }
  const Th = held.filter(Boolean).length, head = FIXED + C + B + E * Th;
  if (u32(8) !== head) return fail('bad_header', `header length ${u32(8)}, expected ${head}`);
  if (bytes.length < head + TRAILER) return fail('truncated', `${bytes.length} bytes, the header and table need ${head + TRAILER}`);
  const at: number[] = [], xlen: number[] = [], clen: number[] = [];
  let S = head, e = FIXED + C + B;
  for (let t = 0; t < T; t++) {
    if (!held[t]) { at.push(S); xlen.push(0); clen.push(0); continue; }
    const n = g.kept[t]!, m = g.sentKept[t]!;
    const xl = entropy ? u32(e + 8) : packed12Bytes(m), cl = entropy ? u32(e + 12) : packed2Bytes(n);
    const xmax = entropy ? g.maxIdx[t]! : packed12Bytes(m), cmax = entropy ? maxCodeBytes(n) : packed2Bytes(n);
    if (xl > xmax) return fail('bad_indices', `tensor ${t}: index section ${xl} bytes, at most ${xmax}`);
    if (cl > cmax) return fail('bad_codes', `tensor ${t}: code section ${cl} bytes, at most ${cmax}`);
    at.push(S); xlen.push(xl); clen.push(cl); S += xl + cl; e += E;
  }
  if (u32(76) !== S - head) return fail('bad_header', `section bytes ${u32(76)}, the tensor entries and geometry give ${S - head}`);
  if (S + TRAILER > bytes.length) return fail('truncated', `sections end at ${S}, past the ${bytes.length}-byte payload`);
  const sigLen = dv.getUint16(S + 32, true);
  if (sigLen !== 0 && sigLen !== SIGNATURE_BYTES) return fail('bad_signature_slot', `signature length ${sigLen}, expected 0 or ${SIGNATURE_BYTES}`);
  const end = S + TRAILER + sigLen;
  if (end > bytes.length) return fail('truncated', `signature slot ends at ${end}, past the ${bytes.length}-byte payload`);
  if (end < bytes.length) return fail('trailing_bytes', `${bytes.length - end} bytes after the signature slot`);
  const hash = createHash('sha256').update(bytes.subarray(0, S)).digest();
  if (!hash.equals(bytes.subarray(S, S + 32))) return fail('hash_mismatch', 'content hash does not match the bytes');
  const tensors: SparseTensor[] = [];
  e = FIXED + C + B;
  for (let t = 0; t < T; t++) {
    if (!held[t]) { tensors.push({ idx: new Uint16Array(0), codes: new Uint8Array(0), table: new Float32Array(4) }); continue; }
    const n = g.kept[t]!, m = g.sentKept[t]!, ch = g.chunks[t]!, xs = at[t]!, cs = xs + xlen[t]!;
    const table = new Float32Array(4);
    for (let b = 0; b < 4; b++) table[b] = halfValue(dv.getUint16(e + 2 * b, true));
    e += E;
    const terr = tableError(table);
    if (terr !== null) return fail('bad_table', `tensor ${t}: ${terr}`);
    const xb = bytes.subarray(xs, cs), cb = bytes.subarray(cs, cs + clen[t]!);
    const written = entropy ? decodeIndices(xb, g.sent[t]!, m) : unpack12(xb, m) ?? `12-bit section is not ${packed12Bytes(m)} bytes with zero padding`;
    const idx = typeof written === 'string' ? written : withImpliedPositions(written, ch, n);
    const ierr = typeof idx === 'string' ? idx : entropy ? null : indexError(idx, ch);
    if (ierr !== null) return fail('bad_indices', `tensor ${t}: ${ierr}`);
    const codes = entropy ? decodeCodes(cb, n) : unpack2(cb, n) ?? `2-bit section is not ${packed2Bytes(n)} bytes with zero padding`;
    if (typeof codes === 'string') return fail('bad_codes', `tensor ${t}: ${codes}`);
    tensors.push({ idx: idx as Uint16Array, codes, table });
  }
  const signature = sigLen === 0 ? null : new Uint8Array(bytes.subarray(S + TRAILER, end)); // a copy, also for Buffers
  return { ok: true, payload: { window, uid: u32(52), indexMode: entropy ? 'entropy' : '12bit', modelHash, steps: u32(72), stateCommitment: C ? Buffer.from(bytes.subarray(FIXED, FIXED + C)).toString('hex') : null, update: partial ? { tensors, held } : { tensors }, signature, contentHash: hash.toString('hex') } };
}

export interface PayloadMeasure {
  bytes: number;
  parameters: number;
  keptValues: number;
  bitsPerValue: number;
  bitsPerParameter: number;
  /** Dense fp32 size (32 bits × parameters) over the payload size. */
  ratioVsFp32: number;
}

/** Size figures of an encoded payload for a layout, for benchmarks. */
export function measurePayload(bytes: Uint8Array, shapes: readonly TensorShape[], cfg: CodecConfig): PayloadMeasure {
  const g = geometry(shapes, cfg);
  const parameters = shapes.reduce((a, s) => a + s.reduce((x, d) => x * d, 1), 0);
  const keptValues = g.kept.reduce((a, n) => a + n, 0), bits = 8 * bytes.length;
  return { bytes: bytes.length, parameters, keptValues, bitsPerValue: bits / keptValues, bitsPerParameter: bits / parameters, ratioVsFp32: (32 * parameters) / bits };
}
