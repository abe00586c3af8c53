// The shared model θ every node holds bit-identically: where it stands (the window it is the start
// of, its fingerprint), how it is created (seed or checkpoint), and the ONE way an aggregate is
// applied to it (every node runs the same code on the same payloads in the same order).
import { applyAggregate, fingerprint, type SparseUpdate } from '../compress/index.js';
import { initParams } from '../model/index.js';
import { decodeCheckpoint, keys, MAX_RECORD_BYTES, parseRecord, sha256Hex, type CheckpointPointer, type ProtocolRecord } from '../protocol/index.js';
import type { ReadOnlyStore } from '../storage/index.js';
import { describeFailure, readPeer } from './peer-read.js';
import { retrying } from './retry.js';
import type { Node } from './node.js';

/** A checkpoint, aggregate or payload that does not reproduce the leader's state: re-sync from a checkpoint. */
export class SyncError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SyncError';
  }
}

/** Default cap of a peer object read without its own (records and small objects). */
export const PEER_OBJECT_CAP = 4 * 1024 * 1024;
/** A checkpoint object: the parameters as F32 plus safetensors header and metadata. */
export const checkpointCap = (totalParams: number): number => totalParams * 4 + 1024 * 1024;
/** Time budget of a checkpoint download (bootstrap is outside any window's schedule). */
export const CHECKPOINT_READ_MS = 120_000;

/**
 * Object from a store, or null if missing. The node's own bucket is retried through outages; any other
 * bucket is a peer's, read under a time budget and at most `cap` bytes (peer-read.ts) — a failure is
 * logged and read as missing. Counted in bytesDown.
 */
export async function fetchObject(node: Node, store: ReadOnlyStore, key: string, cap?: number, budgetMs?: number): Promise<Uint8Array | null> {
  if (store === node.store) {
    const bytes = await retrying(node, `get ${key}`, () => (cap === undefined ? store.get(key) : store.getRange(key, 0, cap + 1)));
    if (bytes) node.status.addBytes(0, bytes.length);
    return bytes;
  }
  const r = await readPeer(node, store, key, { cap: cap ?? PEER_OBJECT_CAP, budgetMs });
  if (r.ok) return r.bytes;
  if (r.why !== 'absent') node.log(`cannot read ${key}: ${describeFailure(r)}`);
  return null;
}

/** A protocol record, null when missing; a malformed one is logged and read as missing. */
export async function fetchRecord<K extends ProtocolRecord['kind']>(node: Node, store: ReadOnlyStore, key: string, kind: K): Promise<Extract<ProtocolRecord, { kind: K }> | null> {
  const bytes = await fetchObject(node, store, key, MAX_RECORD_BYTES);
  if (!bytes) return null;
  const r = parseRecord(bytes, kind);
  if (r.ok) return r.value;
  node.log(`ignoring malformed ${kind} record ${key}: ${r.reason} (${r.detail})`);
  return null;
}

/**
 * The shared model θ and where it stands: THE one owner of node.model.params between windows, of the
 * window θ is the start of, and of its fingerprint. θ changes only through seed(), load() and apply();
 * a miner's inner loop borrows the parameters and restores them bit-exactly (inner.ts trainWindow).
 */
export class SharedModel {
  /** node.model.params is θ at the start of this window (after the aggregates of all windows before it). */
  window = 0;
  fingerprint = '';
  /** Whether θ is set (seeded or loaded) at all. */
  ready = false;

  constructor(private readonly node: Node) {}

  get params(): Float32Array { return this.node.model.params; }

  /** θ from RunConfig.seed: the model at the start of the run's first window. */
  seed(startWindow: number): void {
    initParams(this.node.run.model, this.node.model.layout, this.node.model.params, this.node.run.seed);
    this.set(startWindow, fingerprint(this.node.model.params));
  }

  /** θ from a checkpoint object a pointer names (in `store`); throws SyncError if it does not check out. */
  async load(store: ReadOnlyStore, ptr: CheckpointPointer): Promise<void> {
    const { node } = this;
    if (ptr.key !== keys.checkpoint(node.run.runId, ptr.window)) throw new SyncError(`checkpoint pointer names ${ptr.key}, not the key of window ${ptr.window}`);
    const bytes = await fetchObject(node, store, ptr.key, checkpointCap(node.model.params.length), CHECKPOINT_READ_MS);
    if (!bytes) throw new SyncError(`checkpoint ${ptr.key} is missing`);
    if (sha256Hex(bytes) !== ptr.sha256) throw new SyncError(`checkpoint ${ptr.key}: sha256 differs from the pointer`);
    const d = decodeCheckpoint(bytes, node.model.layout, node.runHash);
    if (!d.ok) throw new SyncError(`checkpoint ${ptr.key}: ${d.reason}`);
    if (d.meta.window !== ptr.window || d.meta.fingerprint !== ptr.fingerprint) throw new SyncError(`checkpoint ${ptr.key}: window or fingerprint differs from the pointer`);
    node.model.params.set(d.params);
    this.set(d.meta.window, d.meta.fingerprint);
    node.log(`loaded checkpoint of window ${ptr.window} (${bytes.length} bytes, fingerprint ${ptr.fingerprint.slice(0, 12)})`);
  }

  /** θ ← θ − α·aggregate(updates sorted by uid) for window W (θ must be at W); returns the new fingerprint. */
  apply(W: number, updates: readonly { uid: number; update: SparseUpdate }[]): string {
    if (!this.ready || W !== this.window) throw new SyncError(`applying window ${W} while the model is at window ${this.ready ? this.window : '(unset)'}`);
    const sorted = [...updates].sort((a, b) => a.uid - b.uid), { node } = this;
    if (sorted.length > 0) applyAggregate(node.model.params, sorted.map((u) => u.update), node.model.layout.specs, node.run.codec, node.run.alpha);
    this.set(W + 1, fingerprint(node.model.params));
    node.status.fingerprint(W, this.fingerprint);
    return this.fingerprint;
  }

  /** θ can no longer be trusted (a sync mismatch): the next bootstrap reloads it. */
  invalidate(): void { this.ready = false; }

  private set(window: number, fp: string): void {
    this.window = window;
    this.fingerprint = fp;
    this.ready = true;
  }
}
