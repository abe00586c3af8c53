// The dataset manifest (outDir/manifest.json): what was prepared, from what, with which
// tokenizer, and the unigram baselines validation loss should be compared against.

export const MANIFEST_FILE = 'manifest.json';
export const MANIFEST_FORMAT = 'tessera-data';
export const MANIFEST_VERSION = 1;

export interface ShardInfo {
  file: string;
  tokens: number;
  /** CRC32 of the shard payload, as in its header. */
  crc32: number;
}

export interface SplitInfo {
  documents: number;
  tokens: number;
  shards: ShardInfo[];
}

export interface DataManifest {
  format: typeof MANIFEST_FORMAT;
  version: typeof MANIFEST_VERSION;
  tokenizer: {
    file: string;
    /** Tokenizer.hash(): checkpoints record it to refuse mismatched data/tokenizers. */
    hash: string;
    vocabSize: number;
    eotId: number;
    /** True when trained by this run, false when loaded from tokenizerPath. */
    trained: boolean;
  };
  dtype: 'uint16' | 'uint32';
  seed: number;
  valFraction: number;
  shardTokens: number;
  source: {
    kind: 'default' | 'files';
    description: string;
    inputs: string[];
    files: number;
    documents: number;
    /** UTF-8 bytes of all document text (separators excluded). */
    textBytes: number;
  };
  /** Every document is preceded by <|endoftext|>, so each split starts with eotId. */
  train: SplitInfo;
  val: SplitInfo;
  stats: {
    /** Entropy (nats/token) of the empirical unigram distribution of the TRAIN tokens. */
    unigramEntropyNats: number;
    /** Mean cross-entropy (nats/token) of the VAL tokens under the add-one-smoothed train unigram. */
    valUnigramCrossEntropyNats: number;
    /** Text bytes per non-separator token over both splits (compression of the tokenizer). */
    bytesPerToken: number;
  };
}
