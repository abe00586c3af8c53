// What training reads: token streams plus tokenizer identity, and the batches cut from them.
// Training batches come from the deterministic sampler keyed by (seed, uid 0, step), so a resumed
// run sees exactly the batches an uninterrupted one would have.
import { join } from 'node:path';
import { loadDataset, makeBatch, sampleWindows, type RemoteDataset, type DatasetIndex } from '../data/index.js';

export type Tokens = Uint16Array | Uint32Array;

export interface TrainData {
  train: Tokens;
  val: Tokens;
  vocabSize: number;
  tokenizerHash: string;
  tokenizerPath: string;
  /** Entropy (nats) of the train split's unigram distribution: the loss of a model that knows only token frequencies. */
  unigramEntropy: number;
  /**
   * Set when the data is a published dataset read on demand: `train` holds only the chunks fetched so
   * far, so every reader awaits remote.ensureSequences(offsets, seq) first (data/remote.ts).
   */
  remote?: RemoteDataset;
  /** The dataset's content hash and index, when computed (RunConfig.dataHash; what a validator's run manifest lists). */
  dataHash?: string;
  index?: DatasetIndex;
}

export interface Batch {
  inputs: Int32Array;
  targets: Int32Array;
}

/** Loads a prepared dataset directory (tessera data prepare) for training. */
export function openTrainData(dir: string): TrainData {
  const d = loadDataset(dir);
  return {
    train: d.train, val: d.val, vocabSize: d.manifest.tokenizer.vocabSize, tokenizerHash: d.manifest.tokenizer.hash,
    tokenizerPath: join(dir, d.manifest.tokenizer.file), unigramEntropy: d.manifest.stats.unigramEntropyNats,
  };
}

export function batchAt(d: TrainData, seed: number, step: number, B: number, T: number): Batch {
  return makeBatch(d.train, sampleWindows(seed, 0, step, B, d.train.length, T), T);
}

/** Fixed validation batches: evenly spaced windows over the validation split (same every call). */
export function validationBatches(d: TrainData, B: number, T: number, count: number): Batch[] {
  const windows = Math.floor((d.val.length - 1) / T);
  if (windows < 1) throw new Error(`validation split has only ${d.val.length} tokens, fewer than one sequence of ${T + 1}`);
  const n = Math.min(count * B, windows);
  const stride = windows / n;
  const offsets = Array.from({ length: n }, (_, i) => Math.floor(i * stride) * T);
  const out: Batch[] = [];
  for (let i = 0; i + B <= offsets.length; i += B) out.push(makeBatch(d.val, offsets.slice(i, i + B), T));
  if (out.length === 0) throw new Error(`validation split too small for one batch of ${B}×${T}`);
  return out;
}
