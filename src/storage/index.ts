// Object storage: one bucket per node, written only by its owner, read by peers through the
// read-only descriptor the owner commits on chain. Filesystem and S3 implementations.
export type {
  FsDescriptor, ObjectInfo, ObjectStore, PutOptions, ReadOnlyStore, S3Descriptor, StoreDescriptor, StorageErrorCode,
  StoreTuning,
} from './types.js';
export { isStorageError, isTransient, StorageError } from './types.js';
export { checkKey, checkPrefix, compareKeys } from './keys.js';
export { parseDescriptor, serializeDescriptor, type ParseOptions } from './descriptor.js';
export { openStore, readOnlyView } from './open.js';
export { FsStore, fsNodeDescriptors, type FsStoreOptions } from './fs.js';
export { MIN_PART_SIZE, S3Store } from './s3.js';
export { backoffDelay, withRetry, type RetryOptions } from './retry.js';
export {
  CEPH_INSTALL_HINT, CEPH_PACKAGES, cephInstalled, cephScript, createNodeCredentials, missingCephBinaries, readRgw,
  startGateway, startRgw, stopGateway, stopRgw, type NodeCredentials, type RgwCluster,
} from './rgw.js';
