// Joining a run knowing only the chain (docs/data.md "Joining"): find the validators by stake, read
// the run pointer (keys.currentRun) and the run manifest from the first that serves one, check them
// against each other and the start record; then open the node's data — the dataset the manifest
// names, fetched on demand from its mirrors, or a local prepared folder that must hash the same.
import { DevnetChainClient, type Chain } from '../chain/index.js';
import { DEFAULT_CACHE_BYTES, indexDataset, RemoteDataset, type DataMirror, type DatasetIndex } from '../data/index.js';
import {
  keys, manifestSha256, parseManifest, parseRecord, runHash, validatorOrder, MAX_RECORD_BYTES, type RunManifest, type RunPointer,
} from '../protocol/index.js';
import { DEVNET_PEER_POLICY, openPeerStore, PUBLIC_PEER_POLICY, type PeerPolicy, type ReadOnlyStore } from '../storage/index.js';
import { openTrainData, type TrainData } from '../train/batches.js';
import { TesseraError } from '../util/errors.js';
import { sleep } from './retry.js';
import type { NodeConfig, RunConfig } from './types.js';

/** Largest manifest read from a validator's bucket. */
const MAX_MANIFEST_READ = 5 << 20;

export interface DiscoveredRun {
  manifest: RunManifest;
  manifestSha256: string;
  pointer: RunPointer;
  /** The validator whose bucket served it (the highest by stake that serves one). */
  leader: number;
}

export const peerPolicyFor = (chain: Chain): PeerPolicy => (chain instanceof DevnetChainClient ? DEVNET_PEER_POLICY : PUBLIC_PEER_POLICY);

/** The run manifest in one validator's bucket, checked against its pointer and start record; null (with why) when unusable. */
export async function readRunFrom(store: ReadOnlyStore): Promise<{ ok: true; run: Omit<DiscoveredRun, 'leader'> } | { ok: false; why: string }> {
  const pb = await store.getRange(keys.currentRun(), 0, MAX_RECORD_BYTES);
  if (!pb) return { ok: false, why: 'no run pointer' };
  const p = parseRecord(pb, 'run');
  if (!p.ok) return { ok: false, why: `run pointer: ${p.detail}` };
  const mb = await store.getRange(keys.runManifest(p.value.runId), 0, MAX_MANIFEST_READ);
  if (!mb) return { ok: false, why: `no manifest for run ${p.value.runId}` };
  const sha = manifestSha256(mb);
  if (sha !== p.value.manifest) return { ok: false, why: `manifest sha256 ${sha.slice(0, 16)}… is not the pointer's ${p.value.manifest.slice(0, 16)}…` };
  const m = parseManifest(mb);
  if (!m.ok) return { ok: false, why: `manifest: ${m.detail}` };
  if (m.value.run.runId !== p.value.runId || runHash(m.value.run) !== p.value.runHash) return { ok: false, why: 'manifest run differs from the pointer' };
  const sb = await store.getRange(keys.startWindow(p.value.runId), 0, MAX_RECORD_BYTES);
  const s = sb ? parseRecord(sb, 'start') : null;
  if (s?.ok && (s.value.runHash !== p.value.runHash || (s.value.manifest !== undefined && s.value.manifest !== sha))) {
    return { ok: false, why: 'the start record names another run hash or manifest' };
  }
  return { ok: true, run: { manifest: m.value, manifestSha256: sha, pointer: p.value } };
}

/**
 * Discovers the run on a chain: validators by stake, the first whose bucket serves a consistent run
 * pointer + manifest. Waits (polling every second, up to waitMs) for a validator to publish one.
 */
export async function discoverRun(chain: Chain, o: { waitMs?: number; log?: (l: string) => void; signal?: AbortSignal } = {}): Promise<DiscoveredRun> {
  const policy = peerPolicyFor(chain), until = Date.now() + (o.waitMs ?? 600_000);
  let said = '';
  for (;;) {
    const seen: string[] = [];
    const graph = await Promise.all([chain.metagraph(), chain.commitments()]).catch((e: Error) => { seen.push(`chain: ${e.message}`); return null; });
    const [m, c] = graph ?? [{ uids: [], stake: [], validatorPermit: [] }, {} as Record<number, string>];
    for (const uid of validatorOrder(m)) {
      const text = c[uid];
      if (typeof text !== 'string') { seen.push(`uid ${uid}: no bucket committed`); continue; }
      let store: ReadOnlyStore;
      try {
        store = openPeerStore(text, policy);
      } catch (e) {
        seen.push(`uid ${uid}: ${(e as Error).message}`);
        continue;
      }
      try {
        const r = await readRunFrom(store);
        if (r.ok) return { ...r.run, leader: uid };
        seen.push(`uid ${uid}: ${r.why}`);
      } catch (e) {
        seen.push(`uid ${uid}: ${(e as Error).message}`);
      } finally {
        store.close();
      }
    }
    const line = seen.length ? seen.join('; ') : 'no validator (stake and a validator permit) on the chain yet';
    if (Date.now() > until) throw new TesseraError(`no validator publishes a run manifest: ${line}`, 'start a validator first (it publishes the run), or pass --run/--dataset to run a network by hand');
    if (line !== said) { o.log?.(`waiting for a validator to publish a run manifest (${line})`); said = line; }
    await sleep(1000, o.signal ?? new AbortController().signal);
  }
}

/** The dataset mirrors a manifest lists, opened read-only through the peer policy (unusable ones logged and skipped). */
export function openMirrors(m: RunManifest, policy: PeerPolicy, log: (l: string) => void): DataMirror[] {
  const out: DataMirror[] = [];
  m.mirrors.forEach((text, i) => {
    try {
      const store = openPeerStore(text, policy);
      const d = JSON.parse(text) as { kind: string; path?: string; endpoint?: string; bucket?: string };
      out.push({ name: `#${i} ${d.kind === 'fs' ? d.path : `${d.endpoint}/${d.bucket}`}`, store });
    } catch (e) {
      log(`dataset mirror #${i} is unusable: ${(e as Error).message}`);
    }
  });
  return out;
}

/** A node's dataset read through a run manifest: where it caches, how much. */
export interface RemoteDataConfig {
  manifest: RunManifest;
  /** Chunk cache folder (default <dataDir>/data-cache). */
  cacheDir: string;
  cacheBytes: number;
}

/** What differs between a local dataset and the run's, for the refusal message. */
export function describeDataMismatch(dir: string, localHash: string, local: DatasetIndex | null, run: Pick<RunConfig, 'runId' | 'dataHash'>, want?: DatasetIndex): string {
  const tok = local && want && local.tokenizer.hash !== want.tokenizer.hash ? `; its tokenizer hash ${local.tokenizer.hash.slice(0, 16)}… differs from the run's ${want.tokenizer.hash.slice(0, 16)}…` : '';
  return `dataset ${dir} has content hash ${localHash}, but run ${run.runId} trains on dataset ${String(run.dataHash)}${tok}`;
}

/** The node's data: the manifest's dataset through the mirrors (remoteData), or the local folder; refused when it is not the run's. */
export async function openNodeData(cfg: NodeConfig, chain: Chain, log: (l: string) => void): Promise<TrainData> {
  if (cfg.dataset) {
    const data = openTrainData(cfg.dataset);
    if (cfg.run.dataHash !== undefined) {
      const ix = indexDataset(cfg.dataset);
      if (ix.hash !== cfg.run.dataHash) {
        throw new TesseraError(describeDataMismatch(cfg.dataset, ix.hash, ix.index, cfg.run, cfg.remoteData?.manifest.dataset),
          'train on the run\'s data: drop --dataset to fetch it from the mirrors the run manifest lists, or prepare the same corpus with the same tokenizer');
      }
      data.dataHash = ix.hash;
      data.index = ix.index;
    }
    return data;
  }
  if (!cfg.remoteData) throw new TesseraError('config: dataset is missing', 'pass --dataset DIR (a folder prepared by tessera data prepare), or join a run through the chain (no --run)');
  const m = cfg.remoteData.manifest;
  if (m.run.dataHash !== cfg.run.dataHash) throw new TesseraError(`the run manifest's dataset ${String(m.run.dataHash)} is not the run's ${String(cfg.run.dataHash)}`, 'rejoin the run (the manifest and the run config come from the same validator)');
  const mirrors = openMirrors(m, peerPolicyFor(chain), log);
  const ds = await RemoteDataset.open({
    index: m.dataset, hash: m.run.dataHash!, mirrors, cacheDir: cfg.remoteData.cacheDir, cacheBytes: cfg.remoteData.cacheBytes,
    withVal: cfg.role === 'validator', log,
  });
  log(`dataset ${ds.hash.slice(0, 16)}: ${m.dataset.train.tokens} train tokens in ${m.dataset.train.shards.length} shard(s), ${mirrors.length} mirror(s), ` +
    `cache ${ds.cache.dir} (${ds.cache.stats.entries} chunks, ${(ds.cache.stats.bytes / 1e6).toFixed(1)} of ${(cfg.remoteData.cacheBytes / 1e6).toFixed(0)} MB)`);
  return {
    train: ds.train, val: ds.val, vocabSize: m.dataset.tokenizer.vocabSize, tokenizerHash: m.dataset.tokenizer.hash, tokenizerPath: ds.tokenizerPath,
    unigramEntropy: m.dataset.stats.unigramEntropyNats, remote: ds, dataHash: ds.hash, index: m.dataset,
  };
}

export { DEFAULT_CACHE_BYTES };
