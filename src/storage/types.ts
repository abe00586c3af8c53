// The object-store interface every node talks through (docs/protocol.md "Object storage"): one bucket per
// node, written only by its owner and read by everyone through a published read-only descriptor.
// Implementations: fs.ts (a folder is a bucket) and s3.ts (any S3 API: Ceph RGW, R2, AWS).
import { TesseraError } from '../util/errors.js';

export interface ObjectInfo {
  size: number;
  /** Changes whenever the content changes (S3: the ETag; fs: inode, size and mtime). */
  etag?: string;
}

export interface PutOptions {
  /** Immutable write: fail with StorageError 'exists' when the key already exists (S3 If-None-Match: *). */
  ifNoneMatch?: boolean;
}

/** What every node may do with any other node's bucket. */
export interface ReadOnlyStore {
  /** Whole object, or null when the key does not exist. */
  get(key: string): Promise<Uint8Array | null>;
  /** Bytes [start, endExclusive) clipped to the object's size (empty when start >= size); null if missing. */
  getRange(key: string, start: number, endExclusive: number): Promise<Uint8Array | null>;
  head(key: string): Promise<ObjectInfo | null>;
  /** Every key that starts with `prefix` (a plain string prefix, not a folder), all pages, in UTF-8 byte order. */
  list(prefix?: string): Promise<string[]>;
  /** Releases connections; the store must not be used afterwards. */
  close(): void;
}

/** What a node may do with its own bucket. */
export interface ObjectStore extends ReadOnlyStore {
  /** Atomic: readers see the old object or the new one, never a part. */
  put(key: string, bytes: Uint8Array, opts?: PutOptions): Promise<void>;
  /** For large objects: S3 multipart upload (parts >= 5 MiB, aborted on failure); fs: written in chunks. */
  putLarge(key: string, bytes: Uint8Array): Promise<void>;
  /** Deleting a missing key is not an error (S3 semantics). */
  delete(key: string): Promise<void>;
  /** Creates the bucket if it does not exist yet (idempotent for its owner). */
  ensureBucket(): Promise<void>;
}

/**
 * Where a bucket is and how to reach it; serialized (descriptor.ts) into the string a node commits on
 * chain. A node publishes a descriptor with READ-only credentials and keeps the write one private.
 */
export type StoreDescriptor = FsDescriptor | S3Descriptor;
export interface FsDescriptor {
  kind: 'fs';
  /** The bucket's folder. */
  path: string;
  /** A published fs descriptor is marked read-only: stores opened from it refuse writes. */
  readOnly?: boolean;
}
export interface S3Descriptor {
  kind: 's3';
  /** e.g. http://127.0.0.1:7480 or https://<account>.r2.cloudflarestorage.com */
  endpoint: string;
  region: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
}

/** Tuning that is not part of a published descriptor. */
export interface StoreTuning {
  /** S3 ListObjectsV2 page size (MaxKeys, 1..1000). */
  listPageSize?: number;
  /** S3 multipart part size in bytes (>= 5 MiB, the S3 minimum). */
  partSize?: number;
  /** Parallel part uploads for putLarge. */
  uploadConcurrency?: number;
  /** Attempts the S3 SDK makes itself before an error reaches the caller (default 3). */
  sdkAttempts?: number;
}

/**
 * no-bucket: the bucket does not exist; denied: credentials missing/wrong or not allowed to do this
 * (e.g. a read-only credential writing); exists: ifNoneMatch put of an existing key; invalid-key: a key
 * this project refuses; conflict: the key cannot coexist with another (fs: 'a' and 'a/b');
 * transient: network or server trouble, worth retrying (see withRetry); failed: anything else.
 */
export type StorageErrorCode = 'no-bucket' | 'denied' | 'exists' | 'invalid-key' | 'conflict' | 'transient' | 'failed';

export class StorageError extends TesseraError {
  constructor(readonly code: StorageErrorCode, message: string, hint?: string, cause?: unknown) {
    super(message, hint);
    this.name = 'StorageError';
    if (cause !== undefined) this.cause = cause;
  }
  /** True for errors a caller should retry with backoff. */
  get retryable(): boolean {
    return this.code === 'transient';
  }
}

export function isStorageError(e: unknown, code?: StorageErrorCode): e is StorageError {
  return e instanceof StorageError && (code === undefined || e.code === code);
}

export function isTransient(e: unknown): boolean {
  return e instanceof StorageError && e.retryable;
}

export function readOnlyError(where: string): StorageError {
  return new StorageError('denied', `${where} is read-only: writes and deletes are refused`,
    'a node writes only its own bucket (opened from its private write descriptor); others read it through the published read descriptor');
}
