// Public surface of the data layer: corpus readers, the byte-level BPE tokenizer, token shards,
// dataset preparation/loading and the deterministic batch sampler.
export { readCorpus, defaultCorpus, listCorpusFiles, splitLargeText, SUPPORTED_EXTENSIONS, DEFAULT_CORPUS_SOURCES, type CorpusOptions } from './corpus.js';
export { Tokenizer, EOT, type SpecialToken, type TokenizerSpec } from './tokenizer.js';
export { trainTokenizer, loadTokenizer, saveTokenizer, toTokenizerJson, parseTokenizerJson, type TrainTokenizerOptions } from './tokenizer-json.js';
export { GPT2_PATTERN, BYTE_TO_CHAR, CHAR_TO_BYTE } from './bytelevel.js';
export { writeShard, readShard, crc32, dtypeFor, SHARD_MAGIC, SHARD_VERSION, SHARD_HEADER_BYTES, type Shard, type TokenArray } from './shard.js';
export { prepareData, loadDataset, splitValidation, type PrepareOptions, type Dataset } from './prepare.js';
export { MANIFEST_FILE, type DataManifest, type ShardInfo, type SplitInfo } from './manifest.js';
export { unigramCounts, unigramEntropy, unigramCrossEntropy, unigramCrossEntropyCounts } from './entropy.js';
export { sampleWindows, makeBatch, SAMPLER_VERSION, type Batch } from './sampler.js';
export {
  indexDataset, datasetHash, checkIndex, chunkTable, chunkRange, chunkCount, chunkTableFile, DEFAULT_CHUNK_TOKENS, CHUNK_HASH_BYTES,
  type DatasetIndex, type ShardEntry, type IndexedDataset,
} from './dataset-index.js';
export { ChunkCache, type CacheStats } from './chunk-cache.js';
export { RemoteDataset, fetchIndex, INDEX_OBJECT, DEFAULT_CACHE_BYTES, type DataMirror, type RemoteStats, type RemoteDatasetOptions } from './remote.js';
export { publishDataset, mirrorId, LARGE_OBJECT, type PublishTarget, type PublishResult } from './publish.js';
