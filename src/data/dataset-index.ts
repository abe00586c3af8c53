// The published form of a prepared dataset (docs/data.md): what a node needs to fetch and verify any
// part of it from object storage. Every shard is listed with its size, token count and sha256, plus the
// sha256 of its CHUNK TABLE (one sha256 per run of `chunkTokens` tokens of the payload), so a ranged read
// of one chunk can be checked on its own. The dataset's content hash is the sha256 of the index's
// canonical JSON: it names the dataset everywhere (storage keys, RunConfig.dataHash, refusals).
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalJson } from '../protocol/hash.js';
import { TesseraError } from '../util/errors.js';
import { MANIFEST_FILE, type DataManifest, type ShardInfo } from './manifest.js';
import { SHARD_HEADER_BYTES } from './shard.js';
import { SAMPLER_VERSION } from './sampler.js';

export const INDEX_FORMAT = 'tessera-dataset';
export const INDEX_VERSION = 1;
/**
 * Tokens per verifiable chunk (8 KiB of uint16 tokens): the unit of ranged reads and of the cache. A
 * sequence of 129 tokens pulls in one or two chunks, so a window's fetch is ~32–64× its tokens; the
 * chunk table costs 32 bytes per chunk (0.4% of the data).
 */
export const DEFAULT_CHUNK_TOKENS = 1 << 12;
/** Bytes of one chunk-table entry (a raw sha256). */
export const CHUNK_HASH_BYTES = 32;
/** Largest index we parse (thousands of shards fit). */
export const MAX_INDEX_BYTES = 4 << 20;

export interface ShardEntry {
  /** File name in the prepared folder and the last part of its storage key. */
  file: string;
  tokens: number;
  /** Size of the whole shard file (header + payload). */
  bytes: number;
  /** sha256 (hex) of the whole shard file. */
  sha256: string;
  /** sha256 (hex) of the chunk table: ceil(tokens / chunkTokens) raw sha256s of the payload chunks. */
  chunksSha256: string;
}

export interface DatasetIndex {
  format: typeof INDEX_FORMAT;
  version: typeof INDEX_VERSION;
  tokenizer: { file: string; hash: string; sha256: string; bytes: number; vocabSize: number; eotId: number };
  dtype: 'uint16' | 'uint32';
  chunkTokens: number;
  /** The sampler's identity: what (seed, uid, window) → offsets means (data/sampler.ts). */
  sampler: string;
  train: { tokens: number; shards: ShardEntry[] };
  val: { tokens: number; shards: ShardEntry[] };
  stats: DataManifest['stats'];
}

export const sha256 = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex');
/** The dataset's content hash: sha256 of the canonical JSON of its index. */
export const datasetHash = (index: DatasetIndex): string => sha256(`tessera/dataset/v${INDEX_VERSION}\n${canonicalJson(index)}`);
export const bytesPerToken = (index: Pick<DatasetIndex, 'dtype'>): 2 | 4 => (index.dtype === 'uint16' ? 2 : 4);
/** Chunks of a shard of `tokens` tokens. */
export const chunkCount = (tokens: number, chunkTokens: number): number => Math.ceil(tokens / chunkTokens);
/** Chunk table name next to a shard (file + '.chunks'). */
export const chunkTableFile = (shard: string): string => `${shard}.chunks`;

/** Byte range [start, end) of chunk c inside the shard FILE (the header is not part of any chunk). */
export function chunkRange(index: Pick<DatasetIndex, 'dtype' | 'chunkTokens'>, shard: Pick<ShardEntry, 'tokens'>, c: number): [number, number] {
  const bpt = bytesPerToken(index), first = c * index.chunkTokens, last = Math.min(shard.tokens, first + index.chunkTokens);
  if (!Number.isSafeInteger(c) || c < 0 || first >= shard.tokens) throw new RangeError(`chunk ${c} is outside a shard of ${shard.tokens} tokens`);
  return [SHARD_HEADER_BYTES + first * bpt, SHARD_HEADER_BYTES + last * bpt];
}

/** The chunk table of one shard file's bytes: a sha256 of every chunkTokens-token run of its payload. */
export function chunkTable(file: Uint8Array, tokens: number, bpt: number, chunkTokens: number): Uint8Array {
  const n = chunkCount(tokens, chunkTokens), out = new Uint8Array(n * CHUNK_HASH_BYTES);
  for (let c = 0; c < n; c++) {
    const a = SHARD_HEADER_BYTES + c * chunkTokens * bpt, b = SHARD_HEADER_BYTES + Math.min(tokens, (c + 1) * chunkTokens) * bpt;
    out.set(createHash('sha256').update(file.subarray(a, b)).digest(), c * CHUNK_HASH_BYTES);
  }
  return out;
}

export interface IndexedDataset {
  dir: string;
  index: DatasetIndex;
  hash: string;
  /** Chunk table bytes by shard file. */
  tables: Map<string, Uint8Array>;
}

/**
 * Indexes a prepared folder (tessera data prepare): reads every shard once, hashing the file and its
 * chunks. The shards' headers and CRCs are checked by loadDataset, not here.
 */
export function indexDataset(dir: string, chunkTokens = DEFAULT_CHUNK_TOKENS): IndexedDataset {
  const mpath = join(dir, MANIFEST_FILE);
  if (!existsSync(mpath)) throw new TesseraError(`no prepared dataset in ${dir} (missing ${MANIFEST_FILE})`, `run \`tessera data prepare --out ${dir}\` first`);
  if (!Number.isSafeInteger(chunkTokens) || chunkTokens < 1) throw new RangeError(`chunkTokens must be an integer ≥ 1, got ${chunkTokens}`);
  const m = JSON.parse(readFileSync(mpath, 'utf8')) as DataManifest;
  const bpt = m.dtype === 'uint16' ? 2 : 4;
  const tables = new Map<string, Uint8Array>();
  const entry = (s: ShardInfo): ShardEntry => {
    const path = join(dir, s.file), bytes = readFileSync(path);
    if (bytes.length !== SHARD_HEADER_BYTES + s.tokens * bpt) throw new TesseraError(`token shard ${path} has ${bytes.length} bytes, the manifest implies ${SHARD_HEADER_BYTES + s.tokens * bpt}`, 're-run `tessera data prepare`');
    const table = chunkTable(bytes, s.tokens, bpt, chunkTokens);
    tables.set(s.file, table);
    return { file: s.file, tokens: s.tokens, bytes: bytes.length, sha256: sha256(bytes), chunksSha256: sha256(table) };
  };
  const tokFile = join(dir, m.tokenizer.file), tok = readFileSync(tokFile);
  const index: DatasetIndex = {
    format: INDEX_FORMAT, version: INDEX_VERSION,
    tokenizer: { file: m.tokenizer.file, hash: m.tokenizer.hash, sha256: sha256(tok), bytes: tok.length, vocabSize: m.tokenizer.vocabSize, eotId: m.tokenizer.eotId },
    dtype: m.dtype, chunkTokens, sampler: SAMPLER_VERSION,
    train: { tokens: m.train.tokens, shards: m.train.shards.map(entry) },
    val: { tokens: m.val.tokens, shards: m.val.shards.map(entry) },
    stats: m.stats,
  };
  return { dir, index, hash: datasetHash(index), tables };
}

/** Reads `len` bytes at `pos` of a local file (no whole-file read). */
export function readFileRange(path: string, pos: number, len: number): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const out = new Uint8Array(len);
    let got = 0;
    while (got < len) {
      const n = readSync(fd, out, got, len - got, pos + got);
      if (n === 0) break;
      got += n;
    }
    return got === len ? out : out.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

export const fileSize = (path: string): number => (existsSync(path) ? statSync(path).size : -1);

const HEX64 = /^[0-9a-f]{64}$/;
const FILE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const nat = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/** Checks an index that came over the network (untrusted); returns the reason it is unusable, or null. */
export function checkIndex(x: unknown): string | null {
  if (typeof x !== 'object' || x === null) return 'not an object';
  const i = x as DatasetIndex;
  if (i.format !== INDEX_FORMAT || i.version !== INDEX_VERSION) return `format ${String(i.format)} v${String(i.version)}, expected ${INDEX_FORMAT} v${INDEX_VERSION}`;
  if (i.dtype !== 'uint16' && i.dtype !== 'uint32') return 'dtype must be uint16 or uint32';
  if (!nat(i.chunkTokens) || i.chunkTokens < 1) return 'chunkTokens must be an integer ≥ 1';
  if (typeof i.sampler !== 'string') return 'sampler missing';
  const t = i.tokenizer;
  if (!t || typeof t.file !== 'string' || !FILE.test(t.file) || !HEX64.test(t.sha256) || typeof t.hash !== 'string' || !nat(t.bytes) || !nat(t.vocabSize) || !nat(t.eotId)) return 'tokenizer entry malformed';
  const seen = new Set<string>([t.file]);
  for (const split of [i.train, i.val]) {
    if (!split || !nat(split.tokens) || !Array.isArray(split.shards) || split.shards.length === 0) return 'train/val must list shards';
    let sum = 0;
    for (const s of split.shards) {
      if (!s || typeof s.file !== 'string' || !FILE.test(s.file) || seen.has(s.file)) return `shard file name ${JSON.stringify(s?.file)} malformed or repeated`;
      seen.add(s.file);
      if (!nat(s.tokens) || s.tokens < 1 || s.bytes !== SHARD_HEADER_BYTES + s.tokens * bytesPerToken(i)) return `shard ${s.file}: tokens/bytes inconsistent`;
      if (!HEX64.test(s.sha256) || !HEX64.test(s.chunksSha256)) return `shard ${s.file}: sha256 malformed`;
      sum += s.tokens;
    }
    if (sum !== split.tokens) return 'split token count differs from the sum of its shards';
  }
  if (i.tokenizer.vocabSize > (i.dtype === 'uint16' ? 65536 : 2 ** 32)) return 'vocab does not fit the dtype';
  return null;
}
