// `tessera data prepare`: documents → tokenizer (trained or loaded) → token shards with a
// held-out validation split → manifest.json. Plus loadDataset, the reader the trainer uses.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { TesseraError } from '../util/errors.js';
import { DEFAULT_CORPUS_SOURCES, defaultCorpus, listCorpusFiles, readCorpus } from './corpus.js';
import { unigramCounts, unigramCrossEntropyCounts, unigramEntropy } from './entropy.js';
import { atomicWrite } from './fsutil.js';
import { MANIFEST_FILE, MANIFEST_FORMAT, MANIFEST_VERSION, type DataManifest, type ShardInfo } from './manifest.js';
import { dtypeFor, readShard, writeShard, type TokenArray } from './shard.js';
import type { Tokenizer } from './tokenizer.js';
import { loadTokenizer, saveTokenizer, trainTokenizer } from './tokenizer-json.js';

export interface PrepareOptions {
  /** Files/folders (.txt/.jsonl/.parquet); omitted or empty ⇒ the bundled default corpus. */
  inputs?: string[];
  outDir: string;
  /** Vocab size when training (default 8192). Ignored with tokenizerPath. */
  vocabSize?: number;
  /** Use this existing tokenizer.json instead of training one. */
  tokenizerPath?: string;
  /** Fraction of documents held out for validation (default 0.02). */
  valFraction?: number;
  /** Tokens per shard file (default 2^24). */
  shardTokens?: number;
  seed?: number;
  /** jsonl field / parquet column with the text (default "text"). */
  textField?: string;
  onProgress?: (msg: string) => void;
}

const TOKENIZER_FILE = 'tokenizer.json';
const SHARD_RE = /^(train|val)_\d{3,}\.bin$/;

/** Sort key for the validation split: depends only on the seed and the document's text. */
const docRank = (seed: number, doc: string): string => createHash('sha256').update(`tessera/val/v1\x1f${seed}\x1f`).update(doc).digest('hex');

/** Indices of validation documents: the round(f·n) lowest-ranked, at least 1, at most n−1. */
export function splitValidation(docs: string[], valFraction: number, seed: number): Set<number> {
  const k = Math.min(docs.length - 1, Math.max(1, Math.round(valFraction * docs.length)));
  const ranked = docs.map((d, i) => ({ i, r: docRank(seed, d) })).sort((a, b) => (a.r < b.r ? -1 : a.r > b.r ? 1 : a.i - b.i));
  return new Set(ranked.slice(0, k).map((x) => x.i));
}

/** Streams one split's tokens into fixed-size shard files, counting unigrams as it goes. */
class SplitWriter {
  readonly shards: ShardInfo[] = [];
  readonly counts: Float64Array;
  private buf: number[] = [];
  tokens = 0;
  constructor(private dir: string, private prefix: string, private vocabSize: number, private shardTokens: number) {
    this.counts = new Float64Array(vocabSize);
  }
  push(ids: number[]): void {
    for (const id of ids) {
      this.buf.push(id);
      if (this.buf.length === this.shardTokens) this.flush();
    }
  }
  flush(): void {
    if (this.buf.length === 0 && this.shards.length > 0) return;
    const file = `${this.prefix}_${String(this.shards.length).padStart(3, '0')}.bin`;
    const crc = writeShard(join(this.dir, file), this.buf, this.vocabSize);
    unigramCounts(this.buf, this.vocabSize, this.counts);
    this.shards.push({ file, tokens: this.buf.length, crc32: crc });
    this.tokens += this.buf.length;
    this.buf = [];
  }
}

export async function prepareData(opts: PrepareOptions): Promise<DataManifest> {
  const t0 = Date.now();
  const log = (m: string): void => opts.onProgress?.(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${m}`);
  const valFraction = opts.valFraction ?? 0.02;
  const shardTokens = opts.shardTokens ?? 1 << 24;
  const seed = opts.seed ?? 0;
  if (!(valFraction > 0 && valFraction < 1)) throw new TesseraError(`valFraction ${valFraction} must be in (0, 1)`, 'use e.g. 0.02');
  if (!Number.isSafeInteger(shardTokens) || shardTokens < 1) throw new TesseraError(`shardTokens ${shardTokens} must be a positive integer`);
  if (!Number.isSafeInteger(seed)) throw new TesseraError(`seed ${seed} must be an integer`);

  const inputs = opts.inputs ?? [];
  const useDefault = inputs.length === 0;
  const docs = useDefault ? defaultCorpus() : await readCorpus(inputs, { textField: opts.textField });
  const files = useDefault ? 0 : listCorpusFiles(inputs).length;
  if (docs.length < 2) throw new TesseraError(`corpus has ${docs.length} document; at least 2 are needed to hold one out for validation`, 'add more files or jsonl lines (a .txt over 1 MiB is split automatically)');
  let textBytes = 0;
  for (const d of docs) textBytes += Buffer.byteLength(d);
  log(`read ${docs.length} documents, ${(textBytes / 1e6).toFixed(1)} MB`);

  const val = splitValidation(docs, valFraction, seed);
  const trainDocs = docs.filter((_, i) => !val.has(i));
  const valDocs = docs.filter((_, i) => val.has(i));
  let tok: Tokenizer;
  if (opts.tokenizerPath) tok = loadTokenizer(opts.tokenizerPath);
  else tok = trainTokenizer(trainDocs, { vocabSize: opts.vocabSize, onProgress: log });
  const eot = tok.eotId;
  if (eot === undefined) throw new TesseraError(`${opts.tokenizerPath ?? 'tokenizer'} has no <|endoftext|> token`, 'use a tokenizer with <|endoftext|> (it separates documents)');
  log(`tokenizer: vocab ${tok.vocabSize}, ${tok.merges.length} merges, hash ${tok.hash().slice(0, 16)}`);

  mkdirSync(opts.outDir, { recursive: true });
  const write = (prefix: string, split: string[]): SplitWriter => {
    const w = new SplitWriter(opts.outDir, prefix, tok.vocabSize, shardTokens);
    for (const d of split) { const ids = [eot]; tok.encodeOrdinary(d, ids); w.push(ids); }
    w.flush();
    log(`${prefix}: ${split.length} documents, ${w.tokens} tokens, ${w.shards.length} shard(s)`);
    return w;
  };
  const train = write('train', trainDocs);
  const valW = write('val', valDocs);
  saveTokenizer(tok, join(opts.outDir, TOKENIZER_FILE));

  const manifest: DataManifest = {
    format: MANIFEST_FORMAT, version: MANIFEST_VERSION,
    tokenizer: { file: TOKENIZER_FILE, hash: tok.hash(), vocabSize: tok.vocabSize, eotId: eot, trained: !opts.tokenizerPath },
    dtype: dtypeFor(tok.vocabSize) === 2 ? 'uint16' : 'uint32',
    seed, valFraction, shardTokens,
    source: {
      kind: useDefault ? 'default' : 'files',
      description: useDefault ? `bundled ${DEFAULT_CORPUS_SOURCES.join(' + ')} (public domain)` : `${files} file(s) from ${inputs.join(', ')}`,
      inputs, files, documents: docs.length, textBytes,
    },
    train: { documents: trainDocs.length, tokens: train.tokens, shards: train.shards },
    val: { documents: valDocs.length, tokens: valW.tokens, shards: valW.shards },
    stats: {
      unigramEntropyNats: unigramEntropy(train.counts),
      valUnigramCrossEntropyNats: unigramCrossEntropyCounts(valW.counts, train.counts),
      bytesPerToken: textBytes / (train.tokens + valW.tokens - docs.length),
    },
  };
  atomicWrite(join(opts.outDir, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + '\n');
  removeStaleShards(opts.outDir, manifest);
  log(`done: unigram entropy ${manifest.stats.unigramEntropyNats.toFixed(3)} nats, val unigram CE ${manifest.stats.valUnigramCrossEntropyNats.toFixed(3)} nats`);
  return manifest;
}

/** Deletes train_/val_ shards left by an earlier, larger run (the manifest no longer lists them). */
function removeStaleShards(dir: string, m: DataManifest): void {
  const keep = new Set([...m.train.shards, ...m.val.shards].map((s) => s.file));
  for (const n of readdirSync(dir)) if (SHARD_RE.test(n) && !keep.has(n)) rmSync(join(dir, n), { force: true });
}

export interface Dataset {
  manifest: DataManifest;
  tokenizer: Tokenizer;
  /** All train shards concatenated, in manifest order. */
  train: TokenArray;
  val: TokenArray;
}

export function loadDataset(dir: string): Dataset {
  const hint = `run \`tessera data prepare --out ${dir}\` first`;
  const mpath = join(dir, MANIFEST_FILE);
  if (!existsSync(dir)) throw new TesseraError(`dataset directory not found: ${dir}`, hint);
  if (!existsSync(mpath)) throw new TesseraError(`no prepared dataset in ${dir} (missing ${MANIFEST_FILE})`, hint);
  let m: DataManifest;
  try { m = JSON.parse(readFileSync(mpath, 'utf8')) as DataManifest; } catch (e) {
    throw new TesseraError(`${mpath} is not valid JSON: ${(e as Error).message}`, hint);
  }
  if (m.format !== MANIFEST_FORMAT || m.version !== MANIFEST_VERSION) {
    throw new TesseraError(`${mpath} is not a version-${MANIFEST_VERSION} tessera dataset manifest`, hint);
  }
  const tokenizer = loadTokenizer(join(dir, m.tokenizer.file));
  if (tokenizer.hash() !== m.tokenizer.hash) throw new TesseraError(`${join(dir, m.tokenizer.file)} does not match the manifest's tokenizer hash`, hint);
  const load = (shards: ShardInfo[]): TokenArray => {
    const parts = shards.map((s) => {
      const path = join(dir, s.file);
      const sh = readShard(path);
      if (sh.vocabSize !== m.tokenizer.vocabSize || sh.tokens.length !== s.tokens || sh.crc32 !== s.crc32) {
        throw new TesseraError(`token shard ${path} does not match ${MANIFEST_FILE}`, hint);
      }
      return sh.tokens;
    });
    const total = parts.reduce((n, p) => n + p.length, 0);
    const out: TokenArray = m.dtype === 'uint16' ? new Uint16Array(total) : new Uint32Array(total);
    let o = 0;
    for (const p of parts) { out.set(p, o); o += p.length; }
    return out;
  };
  return { manifest: m, tokenizer, train: load(m.train.shards), val: load(m.val.shards) };
}
