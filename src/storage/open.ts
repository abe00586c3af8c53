// Opens a store from a descriptor. 'read' returns a view exposing only get/getRange/head/list/close,
// so a reader cannot write even with a write descriptor in hand; the server (S3) or the fs store
// (readOnly descriptors) refuses writes made with read credentials as well. openPeerStore is for
// ANOTHER node's bucket, opened from the descriptor string it committed on chain: the PeerPolicy
// decides what that untrusted descriptor may make this node connect to (policy.ts).
import { parseDescriptor } from './descriptor.js';
import { FsStore } from './fs.js';
import { checkPeerDescriptor, type PeerPolicy, type Resolver } from './policy.js';
import { S3Store } from './s3.js';
import type { ListOptions, ObjectStore, ReadOnlyStore, ReadOptions, StoreDescriptor, StoreTuning } from './types.js';

export function openStore(d: StoreDescriptor, mode: 'write', tuning?: StoreTuning): ObjectStore;
export function openStore(d: StoreDescriptor, mode: 'read', tuning?: StoreTuning): ReadOnlyStore;
export function openStore(d: StoreDescriptor, mode: 'read' | 'write', tuning: StoreTuning = {}): ObjectStore | ReadOnlyStore {
  const store: ObjectStore = d.kind === 'fs'
    ? new FsStore(d.path, { readOnly: mode === 'read' || d.readOnly === true, ...fsLimits(tuning) })
    : new S3Store(d, tuning);
  return mode === 'write' ? store : readOnlyView(store);
}

export interface PeerStoreOptions {
  tuning?: StoreTuning;
  /** DNS resolver for S3 endpoint hosts (tests); default dns.lookup. */
  resolve?: Resolver;
}

/**
 * A read-only store for another node's bucket from its on-chain descriptor text (or a parsed one):
 * fs descriptors only when policy.allowFs; S3 endpoints checked against the policy (https, public
 * addresses; the resolved address checked again at connect time and pinned) and rate limited per
 * endpoint. Throws TesseraError (malformed descriptor) or StorageError 'denied' (refused by the policy).
 */
export function openPeerStore(descriptor: string | StoreDescriptor, policy: PeerPolicy, opts: PeerStoreOptions = {}): ReadOnlyStore {
  const d = typeof descriptor === 'string' ? parseDescriptor(descriptor, { allowFs: policy.allowFs }) : descriptor;
  checkPeerDescriptor(d, policy);
  const tuning = opts.tuning ?? {};
  const store: ReadOnlyStore = d.kind === 'fs'
    ? new FsStore(d.path, { readOnly: true, ...fsLimits(tuning) })
    : new S3Store(d, tuning, { policy, ...(opts.resolve ? { resolve: opts.resolve } : {}) });
  return readOnlyView(store);
}

function fsLimits(t: StoreTuning): { maxObjectBytes?: number; maxListKeys?: number } {
  return { ...(t.maxObjectBytes !== undefined ? { maxObjectBytes: t.maxObjectBytes } : {}), ...(t.maxListKeys !== undefined ? { maxListKeys: t.maxListKeys } : {}) };
}

export function readOnlyView(store: ReadOnlyStore): ReadOnlyStore {
  return Object.freeze({
    get: (key: string, opts?: ReadOptions) => store.get(key, opts),
    getRange: (key: string, start: number, end: number, opts?: ReadOptions) => store.getRange(key, start, end, opts),
    head: (key: string, opts?: ReadOptions) => store.head(key, opts),
    list: (prefix?: string, opts?: ListOptions) => store.list(prefix, opts),
    close: () => store.close(),
  });
}
