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

/** Per-call limits for reads (docs/storage.md "Limits"). Every field is optional; omitting it keeps the store's defaults. */
export interface ReadOptions {
  /** Cancels the request and its body; the call rejects with StorageError code 'aborted'. */
  signal?: AbortSignal;
  /**
   * get(): a body longer than this is refused with StorageError 'too-large' after reading at most
   * maxBytes + 1 bytes. list(): more keys than this → 'too-large'. Default: StoreTuning.maxObjectBytes
   * (get) / maxListKeys (list).
   */
  maxBytes?: number;
}

/** list() options: ReadOptions plus maxKeys, the same cap as maxBytes for list (the smaller of the two applies). */
export type ListOptions = ReadOptions & { maxKeys?: number };

/** What every node may do with any other node's bucket. */
export interface ReadOnlyStore {
  /** Whole object, or null when the key does not exist. */
  get(key: string, opts?: ReadOptions): Promise<Uint8Array | null>;
  /**
   * Bytes [start, endExclusive) clipped to the object's size (empty when start >= size); null if missing.
   * Never reads more than endExclusive - start bytes of body (opts.maxBytes does not apply).
   */
  getRange(key: string, start: number, endExclusive: number, opts?: ReadOptions): Promise<Uint8Array | null>;
  head(key: string, opts?: ReadOptions): Promise<ObjectInfo | null>;
  /**
   * Every key that starts with `prefix` (a plain string prefix, not a folder), all pages, in UTF-8 byte
   * order; more than opts.maxKeys / opts.maxBytes keys (default StoreTuning.maxListKeys) → 'too-large'.
   */
  list(prefix?: string, opts?: ListOptions): Promise<string[]>;
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
  /** Attempts the S3 SDK makes itself before an error reaches the caller (default 3), all within one deadline. */
  sdkAttempts?: number;
  /**
   * Overall deadline of one request in ms (S3: from sending it, SDK retries included, to the last body
   * byte), default 30 000 (DEFAULT_REQUEST_TIMEOUT_MS). Past it the call rejects with 'timeout'.
   */
  requestTimeoutMs?: number;
  /**
   * Body bytes that buy one more second past requestTimeoutMs (default 1 MiB, DEFAULT_MIN_BYTES_PER_SECOND):
   * a body arriving at least this fast may take as long as it needs; a drip fails at the deadline.
   */
  minBytesPerSecond?: number;
  /** get() without maxBytes refuses bodies over this ('too-large'); default 1 GiB (DEFAULT_MAX_OBJECT_BYTES). */
  maxObjectBytes?: number;
  /** list() without maxKeys/maxBytes refuses more keys than this ('too-large'); default 1 000 000 (DEFAULT_MAX_LIST_KEYS). */
  maxListKeys?: number;
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
export const DEFAULT_MIN_BYTES_PER_SECOND = 1 << 20;
export const DEFAULT_MAX_OBJECT_BYTES = 1 << 30;
export const DEFAULT_MAX_LIST_KEYS = 1_000_000;

/**
 * no-bucket: the bucket does not exist; denied: credentials missing/wrong or not allowed to do this
 * (e.g. a read-only credential writing, or a peer endpoint the PeerPolicy refuses); exists: ifNoneMatch
 * put of an existing key; invalid-key: a key this project refuses; conflict: the key cannot coexist with
 * another (fs: 'a' and 'a/b'); transient: network or server trouble, worth retrying (see withRetry);
 * timeout: the store's own per-request deadline fired (retryable, like transient); aborted: the caller's
 * AbortSignal fired (not retried); too-large: the body or listing is over the cap (maxBytes, maxKeys or
 * the store's default; not retried); failed: anything else.
 */
export type StorageErrorCode = 'no-bucket' | 'denied' | 'exists' | 'invalid-key' | 'conflict' | 'transient' | 'timeout'
  | 'aborted' | 'too-large' | 'failed';

export class StorageError extends TesseraError {
  constructor(readonly code: StorageErrorCode, message: string, hint?: string, cause?: unknown) {
    super(message, hint);
    this.name = 'StorageError';
    if (cause !== undefined) this.cause = cause;
  }
  /** True for errors a caller should retry with backoff. */
  get retryable(): boolean {
    return this.code === 'transient' || this.code === 'timeout';
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
