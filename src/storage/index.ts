// Object storage: one bucket per node, written only by its owner, read by peers through the
// read-only descriptor the owner commits on chain. Filesystem and S3 implementations.
export type {
  FsDescriptor, ListOptions, ObjectInfo, ObjectStore, PutOptions, ReadOnlyStore, ReadOptions, S3Descriptor, StoreDescriptor,
  StorageErrorCode, StoreTuning,
} from './types.js';
export {
  DEFAULT_MAX_LIST_KEYS, DEFAULT_MAX_OBJECT_BYTES, DEFAULT_MIN_BYTES_PER_SECOND, DEFAULT_REQUEST_TIMEOUT_MS, isStorageError,
  isTransient, StorageError,
} from './types.js';
export { checkKey, checkPrefix, compareKeys } from './keys.js';
export { parseDescriptor, serializeDescriptor, type ParseOptions } from './descriptor.js';
export { openPeerStore, openStore, readOnlyView, type PeerStoreOptions } from './open.js';
export {
  checkPeerDescriptor, DEVNET_PEER_POLICY, guardedLookup, isPublicAddress, PUBLIC_PEER_POLICY, TokenBucket, type PeerPolicy, type Resolver,
} from './policy.js';
export { FsStore, fsNodeDescriptors, type FsStoreOptions } from './fs.js';
export { MAX_ERROR_BODY_BYTES, MAX_SDK_BODY_BYTES, MIN_PART_SIZE, S3Store, type S3PeerOptions } from './s3.js';
export { backoffDelay, withRetry, type RetryOptions } from './retry.js';
export {
  CEPH_INSTALL_HINT, CEPH_PACKAGES, cephInstalled, cephScript, createNodeCredentials, missingCephBinaries, readRgw,
  startGateway, startRgw, stopGateway, stopRgw, type NodeCredentials, type RgwCluster, type RgwPlace,
} from './rgw.js';
