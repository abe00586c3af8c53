// The run manifest (keys.runManifest): everything a node needs to join a run knowing only the chain —
// every RunConfig hyperparameter, the dataset's index (tokenizer hash and size, shards with sizes,
// token counts, sha256 and chunk-table hashes, the validation split, the sampler) and the mirrors the
// dataset can be read from. RunConfig.dataHash is the index's content hash, so the run hash (the
// payloads' model hash) covers the data: a node with other data computes another run hash. Mirrors
// are locations, not identity: they are outside the hash. Parsing treats the bytes as untrusted.
import { checkIndex, datasetHash, MAX_INDEX_BYTES, type DatasetIndex } from '../data/dataset-index.js';
import { canonicalJson, sha256Hex } from './hash.js';
import type { RunConfig } from './run.js';

export interface RunManifest {
  format: 'tessera-run';
  version: 1;
  run: RunConfig;
  dataset: DatasetIndex;
  /** Read-only store descriptors (the JSON a node would commit on chain) of buckets holding keys.dataset(dataHash, …). */
  mirrors: string[];
}

const MAX_MANIFEST_BYTES = MAX_INDEX_BYTES + (64 << 10);
const MAX_MIRRORS = 16;

/** Canonical bytes of a manifest (the same manifest gives the same sha256 on every node). */
export function encodeManifest(m: RunManifest): Uint8Array {
  const why = checkManifest(m);
  if (why) throw new RangeError(`encodeManifest: ${why}`);
  return new TextEncoder().encode(canonicalJson(m));
}

export const manifestSha256 = (bytes: Uint8Array): string => sha256Hex(bytes);

function checkManifest(m: RunManifest): string | null {
  if (typeof m !== 'object' || m === null) return 'not an object';
  if (m.format !== 'tessera-run' || m.version !== 1) return `format ${String(m.format)} v${String(m.version)}, expected tessera-run v1`;
  for (const k of Object.keys(m)) if (!['format', 'version', 'run', 'dataset', 'mirrors'].includes(k)) return `unknown field '${k}'`;
  if (typeof m.run !== 'object' || m.run === null) return 'run missing';
  const bad = checkIndex(m.dataset);
  if (bad) return `dataset: ${bad}`;
  if (m.run.dataHash !== datasetHash(m.dataset)) return `run.dataHash ${String(m.run.dataHash)} is not the dataset's content hash ${datasetHash(m.dataset)}`;
  if (!Array.isArray(m.mirrors) || m.mirrors.length > MAX_MIRRORS || !m.mirrors.every((x) => typeof x === 'string' && x.length <= 2048)) return `mirrors must be at most ${MAX_MIRRORS} descriptor strings`;
  return null;
}

/** Parses manifest bytes; never throws. The RunConfig's fields are type-checked by whoever builds a NodeConfig from it. */
export function parseManifest(bytes: Uint8Array): { ok: true; value: RunManifest } | { ok: false; detail: string } {
  if (bytes.length > MAX_MANIFEST_BYTES) return { ok: false, detail: `${bytes.length} bytes, limit ${MAX_MANIFEST_BYTES}` };
  let m: RunManifest;
  try {
    m = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) as RunManifest;
  } catch (e) {
    return { ok: false, detail: `not JSON: ${(e as Error).message}` };
  }
  const why = checkManifest(m);
  return why ? { ok: false, detail: why } : { ok: true, value: m };
}
