// Opens a store from a descriptor. 'read' returns a view exposing only get/getRange/head/list/close,
// so a reader cannot write even with a write descriptor in hand; the server (S3) or the fs store
// (readOnly descriptors) refuses writes made with read credentials as well.
import { FsStore } from './fs.js';
import { S3Store } from './s3.js';
import type { ObjectStore, ReadOnlyStore, StoreDescriptor, StoreTuning } from './types.js';

export function openStore(d: StoreDescriptor, mode: 'write', tuning?: StoreTuning): ObjectStore;
export function openStore(d: StoreDescriptor, mode: 'read', tuning?: StoreTuning): ReadOnlyStore;
export function openStore(d: StoreDescriptor, mode: 'read' | 'write', tuning: StoreTuning = {}): ObjectStore | ReadOnlyStore {
  const store: ObjectStore = d.kind === 'fs'
    ? new FsStore(d.path, { readOnly: mode === 'read' || d.readOnly === true })
    : new S3Store(d, tuning);
  return mode === 'write' ? store : readOnlyView(store);
}

export function readOnlyView(store: ReadOnlyStore): ReadOnlyStore {
  return Object.freeze({
    get: (key: string) => store.get(key),
    getRange: (key: string, start: number, end: number) => store.getRange(key, start, end),
    head: (key: string) => store.head(key),
    list: (prefix?: string) => store.list(prefix),
    close: () => store.close(),
  });
}
