// A published dataset read through object storage (docs/data.md): only the chunks a node's assignment
// touches are fetched, with ranged reads, each verified against the shard's chunk table (itself
// verified against the index) before a single token of it is used; a chunk that is missing or whose
// bytes do not match on one mirror is fetched from the next, and the event is logged. Verified chunks
// go into a bounded on-disk cache (chunk-cache.ts) that survives restarts, and into `train`: a
// full-length token array the OS backs only where chunks were written (zero pages elsewhere; `ready`
// says which tokens are real — nothing reads the rest).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { keys } from '../protocol/keys.js';
import type { ReadOnlyStore } from '../storage/types.js';
import { TesseraError } from '../util/errors.js';
import { ChunkCache } from './chunk-cache.js';
import {
  bytesPerToken, checkIndex, chunkCount, chunkRange, chunkTableFile, CHUNK_HASH_BYTES, datasetHash, MAX_INDEX_BYTES, sha256,
  type DatasetIndex, type ShardEntry,
} from './dataset-index.js';
import { atomicWrite } from './fsutil.js';
import type { TokenArray } from './shard.js';

/** Where a published dataset can be read: a name for logs and a read-only store holding keys.dataset(hash, …). */
export interface DataMirror { name: string; store: ReadOnlyStore }

export interface RemoteStats {
  /** Bytes of shard ranges read from mirrors (verified or not). */
  fetchedBytes: number;
  fetchedChunks: number;
  /** Chunks served from the on-disk cache. */
  cacheHits: number;
  /** Chunks already in memory when asked for. */
  memoryHits: number;
  /** Ranged reads that were missing, failed or did not verify (each one retried on the next mirror). */
  badReads: number;
}

export interface RemoteDatasetOptions {
  index: DatasetIndex;
  /** The content hash the index must have (RunConfig.dataHash / the run manifest). */
  hash: string;
  mirrors: DataMirror[];
  cacheDir: string;
  /** Bound of the on-disk chunk cache. */
  cacheBytes: number;
  /** Also fetch the validation split whole (validators). */
  withVal?: boolean;
  log?: (line: string) => void;
  /** Parallel ranged reads. */
  concurrency?: number;
}

/** Default on-disk cache bound: 1 GB. */
export const DEFAULT_CACHE_BYTES = 1_000_000_000;

interface Placed { shard: ShardEntry; start: number; chunks: number; table: Uint8Array | null; base: number }

export class RemoteDataset {
  readonly stats: RemoteStats = { fetchedBytes: 0, fetchedChunks: 0, cacheHits: 0, memoryHits: 0, badReads: 0 };
  /** Human-readable record of every bad read (mirror, shard, chunk, why). */
  readonly events: string[] = [];
  readonly train: TokenArray;
  val: TokenArray;
  readonly cache: ChunkCache;
  /** Tokenizer bytes (verified against the index). */
  tokenizerPath = '';
  private readonly placed: Placed[] = [];
  private readonly ready: Uint8Array;
  private readonly inflight = new Map<number, Promise<void>>();
  private readonly log: (line: string) => void;
  private readonly concurrency: number;

  private constructor(readonly index: DatasetIndex, readonly hash: string, readonly mirrors: DataMirror[], private readonly dir: string, cacheBytes: number, o: RemoteDatasetOptions) {
    this.log = o.log ?? (() => {});
    this.concurrency = o.concurrency ?? 8;
    const T = index.dtype === 'uint16' ? Uint16Array : Uint32Array;
    if (index.train.tokens * bytesPerToken(index) > 2 ** 32) {
      throw new TesseraError(`the train split (${index.train.tokens} tokens) is over the 4 GiB one resident array holds on Node 20`, 'publish a smaller dataset (or split it into several runs); a chunk-mapped view is not built yet');
    }
    this.train = new T(index.train.tokens);
    this.val = new T(0);
    let start = 0, base = 0;
    for (const shard of index.train.shards) {
      const chunks = chunkCount(shard.tokens, index.chunkTokens);
      this.placed.push({ shard, start, chunks, table: null, base });
      start += shard.tokens;
      base += chunks;
    }
    this.ready = new Uint8Array(base);
    this.cache = new ChunkCache(join(dir, 'chunks'), cacheBytes);
  }

  /** Opens a published dataset: checks the index against its hash, fetches (or reuses) the chunk tables and the tokenizer. */
  static async open(o: RemoteDatasetOptions): Promise<RemoteDataset> {
    const why = checkIndex(o.index);
    if (why) throw new TesseraError(`the dataset index is unusable: ${why}`, 'the run manifest names a dataset this build cannot read');
    const got = datasetHash(o.index);
    if (got !== o.hash) throw new TesseraError(`the dataset index hashes to ${got}, not ${o.hash}`, 'the run manifest is inconsistent; ask the network operator');
    if (o.mirrors.length === 0) throw new TesseraError('no dataset mirror to fetch from', 'the run manifest lists the mirrors; pass --data-mirror or publish the dataset (tessera data publish)');
    const dir = join(o.cacheDir, o.hash.slice(0, 16));
    mkdirSync(join(dir, 'tables'), { recursive: true });
    const ds = new RemoteDataset(o.index, o.hash, o.mirrors, dir, o.cacheBytes, o);
    for (const p of ds.placed) p.table = await ds.whole(chunkTableFile(p.shard.file), p.shard.chunksSha256, p.chunks * CHUNK_HASH_BYTES, join(dir, 'tables', chunkTableFile(p.shard.file)));
    const t = o.index.tokenizer;
    ds.tokenizerPath = join(dir, t.file);
    await ds.whole(t.file, t.sha256, t.bytes, ds.tokenizerPath);
    if (o.withVal) await ds.loadVal();
    return ds;
  }

  /** Fetches the whole validation split (verified per shard) into `val`. */
  async loadVal(): Promise<void> {
    const { index } = this, T = index.dtype === 'uint16' ? Uint16Array : Uint32Array, bpt = bytesPerToken(index);
    const val = new T(index.val.tokens);
    let at = 0;
    for (const s of index.val.shards) {
      const bytes = await this.whole(s.file, s.sha256, s.bytes, join(this.dir, s.file));
      new Uint8Array(val.buffer, at * bpt, s.tokens * bpt).set(bytes.subarray(bytes.length - s.tokens * bpt));
      at += s.tokens;
    }
    this.val = val;
  }

  get datasetBytes(): number { return [...this.index.train.shards, ...this.index.val.shards].reduce((n, s) => n + s.bytes, 0); }

  /** True when every token of the sequences at `offsets` (seq + 1 tokens each) is fetched and verified. */
  hasSequences(offsets: readonly number[], seq: number): boolean {
    return offsets.every((o) => this.chunksOf(o, o + seq + 1).every((c) => this.ready[c] === 1));
  }

  /** Fetches (or takes from the cache) every chunk the sequences at `offsets` touch; throws if one cannot be verified from any mirror. */
  async ensureSequences(offsets: readonly number[], seq: number): Promise<void> {
    const need = new Set<number>();
    for (const o of offsets) for (const c of this.chunksOf(o, o + seq + 1)) need.add(c);
    const list = [...need].sort((a, b) => a - b);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < list.length) await this.ensureChunk(list[next++]!);
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, list.length) }, worker));
  }

  /** ensureSequences in the background (the next window's data while this one trains); failures are logged, not thrown. */
  prefetch(offsets: readonly number[], seq: number, what: string): void {
    this.ensureSequences(offsets, seq).catch((e: Error) => this.log(`prefetch of ${what} failed (it is fetched again when needed): ${e.message}`));
  }

  /** Global chunk ids covering train tokens [a, b). */
  private chunksOf(a: number, b: number): number[] {
    if (!(Number.isSafeInteger(a) && Number.isSafeInteger(b) && a >= 0 && b <= this.train.length && a < b)) {
      throw new RangeError(`tokens [${a}, ${b}) are outside the train split of ${this.train.length}`);
    }
    const out: number[] = [], C = this.index.chunkTokens;
    for (const p of this.placed) {
      const lo = Math.max(a, p.start), hi = Math.min(b, p.start + p.shard.tokens);
      if (lo >= hi) continue;
      for (let c = Math.floor((lo - p.start) / C); c <= Math.floor((hi - 1 - p.start) / C); c++) out.push(p.base + c);
    }
    return out;
  }

  private ensureChunk(id: number): Promise<void> {
    if (this.ready[id] === 1) { this.stats.memoryHits++; return Promise.resolve(); }
    let p = this.inflight.get(id);
    if (!p) {
      p = this.loadChunk(id).finally(() => this.inflight.delete(id));
      this.inflight.set(id, p);
    }
    return p;
  }

  private async loadChunk(id: number): Promise<void> {
    const p = this.placed.find((x) => id >= x.base && id < x.base + x.chunks)!;
    const c = id - p.base, want = p.table!.subarray(c * CHUNK_HASH_BYTES, (c + 1) * CHUNK_HASH_BYTES);
    const name = `${p.shard.file}.${c}`;
    let bytes = this.cache.get(name, want);
    if (bytes) this.stats.cacheHits++;
    else {
      const [s, e] = chunkRange(this.index, p.shard, c);
      bytes = await this.fromMirrors(p.shard.file, `chunk ${c}`, want, (store) => store.getRange(keys.dataset(this.hash, p.shard.file), s, e), e - s);
      this.stats.fetchedChunks++;
      this.cache.put(name, bytes);
    }
    const bpt = bytesPerToken(this.index), first = p.start + c * this.index.chunkTokens;
    new Uint8Array(this.train.buffer, first * bpt, bytes.length).set(bytes);
    this.ready[id] = 1;
  }

  /**
   * One verified object part from the first mirror that serves it: every mirror is tried in order until
   * one returns exactly `len` bytes hashing to `want` (raw sha256); each failure is logged and counted.
   */
  private async fromMirrors(file: string, part: string, want: Uint8Array, read: (s: ReadOnlyStore) => Promise<Uint8Array | null>, len: number): Promise<Uint8Array> {
    const tried: string[] = [];
    for (const m of this.mirrors) {
      let why: string;
      try {
        const got = await read(m.store);
        if (got) this.stats.fetchedBytes += got.length;
        if (!got) why = 'missing';
        else if (got.length !== len) why = `${got.length} bytes, expected ${len}`;
        else {
          const h = createHash('sha256').update(got).digest();
          if (h.equals(want)) return got;
          why = `sha256 ${h.toString('hex').slice(0, 16)}… does not match the manifest's ${Buffer.from(want).toString('hex').slice(0, 16)}…`;
        }
      } catch (e) {
        why = `read failed: ${(e as Error).message}`;
      }
      this.stats.badReads++;
      const line = `DATA: mirror ${m.name}: ${file} ${part}: ${why}; not used${m === this.mirrors[this.mirrors.length - 1] ? '' : ', trying the next mirror'}`;
      this.events.push(line);
      this.log(line);
      tried.push(`${m.name} (${why})`);
    }
    throw new TesseraError(`cannot fetch a verified copy of ${file} ${part} of dataset ${this.hash.slice(0, 16)}: ${tried.join('; ')}`,
      'every mirror the run manifest lists failed or served other bytes; check the mirrors (tessera data publish re-uploads a dataset)');
  }

  /** A small whole object (chunk table, tokenizer, val shard): from `path` when it verifies, else from the mirrors (then saved there). */
  private async whole(file: string, hex: string, len: number, path: string): Promise<Uint8Array> {
    if (existsSync(path)) {
      const b = readFileSync(path);
      if (b.length === len && sha256(b) === hex) return b;
    }
    const want = Buffer.from(hex, 'hex');
    const bytes = await this.fromMirrors(file, 'whole object', want, (store) => store.getRange(keys.dataset(this.hash, file), 0, len + 1), len);
    atomicWrite(path, bytes);
    return bytes;
  }
}

/** The dataset index as published (keys.dataset(hash, 'index.json')), verified against the hash, from the first mirror that has it. */
export async function fetchIndex(hash: string, mirrors: DataMirror[]): Promise<DatasetIndex> {
  const why: string[] = [];
  for (const m of mirrors) {
    try {
      const b = await m.store.getRange(keys.dataset(hash, INDEX_OBJECT), 0, MAX_INDEX_BYTES);
      if (!b) { why.push(`${m.name}: missing`); continue; }
      const index = JSON.parse(new TextDecoder().decode(b)) as DatasetIndex;
      const bad = checkIndex(index);
      if (bad) { why.push(`${m.name}: ${bad}`); continue; }
      if (datasetHash(index) !== hash) { why.push(`${m.name}: index hashes to ${datasetHash(index).slice(0, 16)}…`); continue; }
      return index;
    } catch (e) {
      why.push(`${m.name}: ${(e as Error).message}`);
    }
  }
  throw new TesseraError(`no mirror serves the index of dataset ${hash}: ${why.join('; ')}`, 'publish it with tessera data publish DIR --store …');
}

/** Name of the index object inside a published dataset. */
export const INDEX_OBJECT = 'index.json';
