// Where a model for eval / export comes from: a tessera checkpoint (`tessera train`, a run folder,
// its checkpoints/ or one step-N), a devnet folder (the newest checkpoint a validator published, the
// leader's first: running network or stopped), or a Hugging Face folder (config.json). Every source
// is checked against its tokenizer: a tokenizer that is not the one the model was trained with is
// refused by name.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fingerprint } from '../compress/index.js';
import { loadTokenizer, type Tokenizer } from '../data/index.js';
import { readRecord, RECORD_FILE } from '../devnet/config.js';
import type { ModelConfig } from '../model/config.js';
import { paramLayout } from '../model/params.js';
import { decodeCheckpoint, keys, parseRecord, runHash, sha256Hex, validatorOrder } from '../protocol/index.js';
import { DEVNET_PEER_POLICY, openPeerStore } from '../storage/index.js';
import { findCheckpoint, loadCheckpoint, readCheckpointMeta } from '../train/checkpoint.js';
import { TesseraError } from '../util/errors.js';
import { openChain } from '../cli/score.js';
import { checkTokenizerFits, HF_FILES, readHf } from './hf.js';

export interface ModelSource {
  kind: 'checkpoint' | 'network' | 'hf';
  /** Human-readable origin (path, window, validator). */
  description: string;
  config: ModelConfig;
  params: Float32Array;
  tokenizer: Tokenizer;
  tokenizerPath: string;
  /** sha256 of the float32 parameter bytes (compress/aggregate.ts fingerprint). */
  fingerprint: string;
  /** Training step (checkpoint) or window (network) the weights are from. */
  step: number | null;
  /** The dataset the model was trained on, when the source knows it (a devnet does). */
  dataDir: string | null;
  /** Extra provenance for a re-import (tessera checkpoint meta). */
  tokensSeen: number;
}

/** Opens `path` as a model (see the file comment for what it may be). */
export async function openModel(path: string): Promise<ModelSource> {
  if (!existsSync(path)) throw new TesseraError(`no model at ${path} (it does not exist)`, 'pass a checkpoint folder (tessera train --out DIR), a devnet folder, or a Hugging Face export');
  if (existsSync(join(path, RECORD_FILE))) return openNetwork(path);
  if (existsSync(join(path, HF_FILES.config)) && !existsSync(join(path, 'checkpoint.json'))) {
    const m = readHf(path);
    return { kind: 'hf', description: `Hugging Face model ${path}`, config: m.config, params: m.params, tokenizer: m.tokenizer, tokenizerPath: m.tokenizerPath,
      fingerprint: fingerprint(m.params), step: null, dataDir: null, tokensSeen: 0 };
  }
  const dir = findCheckpoint(path);
  if (!dir) throw new TesseraError(`no checkpoint found at ${path}`, 'train first (tessera train --out DIR) and pass that DIR, or pass a devnet folder or a Hugging Face export');
  const meta = readCheckpointMeta(dir);
  const ck = loadCheckpoint(dir, paramLayout(meta.model), false);
  const tokenizer = loadTokenizer(ck.tokenizerPath);
  if (tokenizer.hash() !== meta.tokenizer.hash) {
    throw new TesseraError(`${ck.tokenizerPath} is not the tokenizer checkpoint ${dir} was trained with (hash ${tokenizer.hash().slice(0, 12)}…, checkpoint.json says ${meta.tokenizer.hash.slice(0, 12)}…)`,
      'restore the checkpoint\'s own tokenizer.json (the checkpoint\'s file hashes in checkpoint.json name it)');
  }
  checkTokenizerFits(tokenizer, meta.model.vocabSize, ck.tokenizerPath, `checkpoint ${dir}`);
  return { kind: 'checkpoint', description: `checkpoint ${dir} (step ${meta.step})`, config: meta.model, params: ck.params, tokenizer, tokenizerPath: ck.tokenizerPath,
    fingerprint: fingerprint(ck.params), step: meta.step, dataDir: null, tokensSeen: meta.tokensSeen };
}

/** The newest checkpoint any validator of a devnet published (the leader's when it is newest). */
async function openNetwork(dir: string): Promise<ModelSource> {
  const record = readRecord(dir)!;
  const chain = await openChain({ dir });
  const order = validatorOrder(chain.metagraph);
  if (order.length === 0) throw new TesseraError(`the devnet in ${dir} has no validator (no uid holds stake and a validator permit)`, 'start the devnet (tessera devnet) so a validator publishes checkpoints');
  const layout = paramLayout(record.run.model);
  const hash = runHash(record.run);
  const tried: string[] = [];
  let best: { params: Float32Array; window: number; uid: number; fingerprint: string } | null = null;
  for (const uid of order) {
    const text = chain.commitments[uid];
    if (typeof text !== 'string') { tried.push(`uid ${uid}: no bucket committed`); continue; }
    const store = openPeerStore(text, DEVNET_PEER_POLICY);
    try {
      const ptrBytes = await store.get(keys.latestCheckpoint(record.run.runId), { maxBytes: 1 << 16 });
      if (!ptrBytes) { tried.push(`uid ${uid}: no checkpoint yet`); continue; }
      const ptr = parseRecord(ptrBytes, 'checkpoint');
      if (!ptr.ok) { tried.push(`uid ${uid}: unreadable checkpoint pointer (${ptr.detail})`); continue; }
      if (best && ptr.value.window <= best.window) continue;
      const bytes = await store.get(ptr.value.key, { maxBytes: layout.total * 4 + (1 << 20) });
      if (!bytes || sha256Hex(bytes) !== ptr.value.sha256) { tried.push(`uid ${uid}: checkpoint ${ptr.value.key} missing or not the one its pointer names`); continue; }
      const d = decodeCheckpoint(bytes, layout, hash);
      if (!d.ok) { tried.push(`uid ${uid}: ${d.reason}`); continue; }
      best = { params: d.params, window: d.meta.window, uid, fingerprint: d.meta.fingerprint };
    } catch (e) {
      tried.push(`uid ${uid}: ${(e as Error).message}`);
    } finally {
      store.close();
    }
  }
  if (!best) throw new TesseraError(`no validator of the devnet in ${dir} has a readable checkpoint (${tried.join('; ')})`, `validators publish one every ${record.run.checkpointEvery} windows; run the devnet longer (a stopped --ceph devnet loses its objects)`);
  const dataDir = record.data;
  const tokPath = join(dataDir, 'tokenizer.json');
  if (!existsSync(tokPath)) throw new TesseraError(`the devnet's dataset ${dataDir} has no tokenizer.json`, 'the devnet record names its dataset; restore it (tessera data prepare --out DIR)');
  const tokenizer = loadTokenizer(tokPath);
  const manifest = join(dataDir, 'manifest.json');
  if (existsSync(manifest)) {
    const m = JSON.parse(readFileSync(manifest, 'utf8')) as { tokenizer?: { hash?: string } };
    if (m.tokenizer?.hash && m.tokenizer.hash !== tokenizer.hash()) throw new TesseraError(`${tokPath} is not the tokenizer ${manifest} names`, `re-prepare the dataset in ${dataDir}`);
  }
  checkTokenizerFits(tokenizer, record.run.model.vocabSize, tokPath, `the devnet's model`);
  return {
    kind: 'network', description: `devnet ${dir}: run ${record.run.runId}, checkpoint of window ${best.window} from validator uid ${best.uid}${order[0] === best.uid ? ' (the leader)' : ''}`,
    config: record.run.model, params: best.params, tokenizer, tokenizerPath: tokPath, fingerprint: best.fingerprint, step: best.window, dataDir, tokensSeen: 0,
  };
}
