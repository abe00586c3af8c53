// Adversarial miners for tests and demos (NodeConfig.behavior; 'honest' by default). The miner asks
// its Behavior for the window's payload and for the upload; everything else (sync, probes, local
// state) stays honest, so these attack only what the Gauntlet scores:
//   copy       re-uploads another miner's payload of the window (fetched from that miner's bucket, the
//              leader's best-ranked first), re-encoded for its own uid and re-signed with its own key
//   noise      a random update of plausible norm (the norm its honest update would have)
//   scaled     the honest update × SCALE_FACTOR          signflip  the honest update × −1
//   lazy       trains on data that is not its assignment (the assignment of a uid nobody holds)
//   late       uploads the honest payload a block after the deadline has passed
//   malformed  corrupts bytes of the signed payload      stale     re-sends its upload of STALE_AGE windows ago
import { compress, decodePayload, maxPayloadBytes, type SparseUpdate } from '../compress/index.js';
import { deadlineBlockOf, keys, trainingOffsets } from '../protocol/index.js';
import { isStorageError } from '../storage/index.js';
import { TesseraError } from '../util/errors.js';
import { makeRng } from '../util/rng.js';
import { updateNorm } from '../gauntlet/index.js';
import { chainHead, deadlineOf, nextBlock } from './chaintime.js';
import type { Directory } from './directory.js';
import { encodeSigned, makePayload, trainWindow, type MinerLocal } from './inner.js';
import { fetchObject, fetchRecord } from './model-state.js';
import { retrying } from './retry.js';
import type { Stopwatch } from './status.js';
import { uploadGradient, type UploadOutcome } from './upload.js';
import type { Node } from './node.js';

export const BEHAVIORS = ['honest', 'copy', 'noise', 'scaled', 'signflip', 'lazy', 'late', 'malformed', 'stale'] as const;
export type BehaviorName = (typeof BEHAVIORS)[number];
export const SCALE_FACTOR = 50;
export const STALE_AGE = 2;
/** The lazy miner trains on the assignment of uid + this (a uid nobody holds: random data). */
const LAZY_UID_SHIFT = 1_000_000;

export function parseBehavior(name: string | undefined): BehaviorName {
  if (name === undefined || name === '') return 'honest';
  if ((BEHAVIORS as readonly string[]).includes(name)) return name as BehaviorName;
  throw new TesseraError(`unknown miner behavior '${name}'`, `use one of: ${BEHAVIORS.join(', ')}`);
}

/** What a miner sends for a window; efNext null leaves the error feedback as it was. */
export interface Work { bytes: Uint8Array; update: SparseUpdate; efNext: Float32Array | null; loss: number }

export class Behavior {
  /** stale: the updates it uploaded, by window. */
  private readonly sent = new Map<number, SparseUpdate>();

  constructor(readonly name: BehaviorName) {}

  /** The window's payload (null: nothing to send). */
  async produce(node: Node, dir: Directory, local: MinerLocal, W: number, sw: Stopwatch): Promise<Work | null> {
    if (this.name === 'copy') return sw.time('encode', () => copyPayload(node, dir, W));
    const old = this.name === 'stale' ? this.sent.get(W - STALE_AGE) : undefined;
    if (old) return { bytes: await encodeSigned(node, old, W), update: old, efNext: null, loss: NaN };
    const batches = this.name === 'lazy' ? trainingOffsets(node.run, node.uid + LAZY_UID_SHIFT, W, node.data.train.length) : undefined;
    node.status.set('train', { window: W });
    const { delta, loss } = await sw.time('train', () => trainWindow(node, local, W, batches));
    if (!delta) return null;
    node.status.set('encode', { loss });
    return sw.time('encode', async () => {
      const honest = await makePayload(node, local, delta, W);
      const update = this.transform(node, honest.update, W);
      const bytes = update === honest.update ? honest.bytes : await encodeSigned(node, update, W);
      return { bytes: this.name === 'malformed' ? corrupt(bytes) : bytes, update, efNext: honest.efNext, loss };
    });
  }

  upload(node: Node, W: number, bytes: Uint8Array): Promise<UploadOutcome> {
    return this.name === 'late' ? uploadLate(node, W, bytes) : uploadGradient(node, W, bytes);
  }

  /** Notes a landed upload (stale re-sends it later). */
  uploaded(W: number, work: Work): void {
    if (this.name !== 'stale') return;
    this.sent.set(W, work.update);
    for (const w of this.sent.keys()) if (w < W - 2 * STALE_AGE) this.sent.delete(w);
  }

  private transform(node: Node, u: SparseUpdate, W: number): SparseUpdate {
    const scaleBy = (k: number, src: SparseUpdate = u): SparseUpdate => ({ tensors: src.tensors.map((t) => ({ idx: t.idx, codes: t.codes, table: t.table.map((x) => x * k) })) });
    if (this.name === 'scaled') return scaleBy(SCALE_FACTOR);
    if (this.name === 'signflip') return scaleBy(-1);
    if (this.name !== 'noise') return u;
    const n = node.model.params.length, rng = makeRng(`tessera/behavior/noise:${node.uid}:${W}`);
    const noise = compress(Float32Array.from({ length: n }, () => rng.normal()), new Float32Array(n), node.model.layout.specs, node.run.codec);
    const a = updateNorm(u), b = updateNorm(noise);
    return scaleBy(b > 0 ? a / b : 0, noise);
  }
}

/** Flips 16 bytes in the middle of a signed payload (its content hash no longer matches). */
function corrupt(bytes: Uint8Array): Uint8Array {
  const out = Uint8Array.from(bytes), mid = out.length >> 1;
  for (let i = mid; i < Math.min(out.length, mid + 16); i++) out[i] ^= 0xa5;
  return out;
}

/** Polls (one round per block, until W's deadline block) for another miner's payload of W to copy. */
async function copyPayload(node: Node, dir: Directory, W: number): Promise<Work | null> {
  const shapes = node.model.layout.specs.map((s) => s.shape), cap = maxPayloadBytes(shapes, node.run.codec);
  const stop = deadlineBlockOf(W, node.run.blocksPerWindow);
  node.status.set('encode', { window: W });
  while ((await chainHead(node)).height < stop) {
    for (const uid of await copyTargets(node, dir, W)) {
      const store = dir.bucket(uid);
      const bytes = store ? await fetchObject(node, store, keys.gradient(node.run.runId, W, uid), cap) : null;
      const d = bytes ? decodePayload(bytes, { shapes, cfg: node.run.codec, modelHash: node.runHash }) : null;
      if (!d?.ok || d.payload.window !== W) continue;
      node.log(`window ${W}: copying uid ${uid}'s upload`);
      return { bytes: await encodeSigned(node, d.payload.update, W), update: d.payload.update, efNext: null, loss: NaN };
    }
    await nextBlock(node);
  }
  node.log(`window ${W}: nothing to copy before the deadline`);
  return null;
}

/** The leader's peers of W, then its reserves, then every other miner (ascending uid). */
async function copyTargets(node: Node, dir: Directory, W: number): Promise<number[]> {
  const miners = await (await dir.refresh()).miners(), leader = await dir.leader();
  const store = leader === null ? null : dir.bucket(leader);
  const rec = store ? await fetchRecord(node, store, keys.peers(node.run.runId, W), 'peers') : null;
  return [...new Set([...(rec?.peers ?? []), ...(rec?.reserves ?? []), ...miners])].filter((u) => u !== node.uid && miners.includes(u));
}

/** Uploads once the chain is a block past W's deadline (past the validators' final scan). */
async function uploadLate(node: Node, W: number, bytes: Uint8Array): Promise<UploadOutcome> {
  const deadline = await deadlineOf(node, W);
  let head = await chainHead(node);
  while (head.timestamp <= deadline) head = await nextBlock(node);
  await nextBlock(node);
  const key = keys.gradient(node.run.runId, W, node.uid);
  try {
    await retrying(node, `upload ${key}`, () => node.store.put(key, bytes, { ifNoneMatch: true }));
  } catch (e) {
    if (!isStorageError(e, 'exists')) throw e;
    return 'already_uploaded';
  }
  node.status.addBytes(bytes.length, 0);
  return 'uploaded';
}
