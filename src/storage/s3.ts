// S3 object store (@aws-sdk/client-s3; path-style, any endpoint: Ceph RGW, Cloudflare R2, AWS).
// ifNoneMatch sends `If-None-Match: *`, which Ceph RGW 16 (Debian bookworm) honours atomically (one
// winner among concurrent writers; the rest get 412). putLarge is a multipart upload, aborted on failure.
import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateBucketCommand, CreateMultipartUploadCommand,
  DeleteObjectCommand, GetObjectCommand, HeadBucketCommand, HeadObjectCommand, ListObjectsV2Command,
  PutObjectCommand, S3Client, UploadPartCommand,
} from '@aws-sdk/client-s3';
import { checkKey, checkPrefix, checkRange, compareKeys } from './keys.js';
import type { ObjectInfo, ObjectStore, PutOptions, S3Descriptor, StoreTuning } from './types.js';
import { StorageError } from './types.js';

export const MIN_PART_SIZE = 5 << 20;
const MAX_PARTS = 10_000;

export class S3Store implements ObjectStore {
  readonly bucket: string;
  readonly endpoint: string;
  private readonly client: S3Client;
  private readonly pageSize: number;
  private readonly partSize: number;
  private readonly concurrency: number;

  constructor(d: S3Descriptor, tuning: StoreTuning = {}) {
    this.bucket = d.bucket;
    this.endpoint = d.endpoint;
    this.pageSize = tuning.listPageSize ?? 1000;
    this.partSize = tuning.partSize ?? 8 << 20;
    this.concurrency = tuning.uploadConcurrency ?? 4;
    if (!(this.pageSize >= 1 && this.pageSize <= 1000)) throw new RangeError(`listPageSize must be 1..1000, got ${this.pageSize}`);
    if (!(this.partSize >= MIN_PART_SIZE)) throw new RangeError(`partSize must be >= 5 MiB (S3 minimum), got ${this.partSize}`);
    // The pinned SDK warns once per process that later releases will need Node 22; this project runs
    // on Node 20 with a pinned SDK, so that warning is noise (its documented opt-out).
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    this.client = new S3Client({
      endpoint: d.endpoint,
      region: d.region,
      forcePathStyle: true,
      credentials: { accessKeyId: d.accessKeyId, secretAccessKey: d.secretAccessKey },
      maxAttempts: tuning.sdkAttempts ?? 3,
      // Plain SigV4 bodies: older S3 servers (Ceph RGW 16) reject the SDK's default aws-chunked CRC trailers.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: { connectionTimeout: 5_000, requestTimeout: 60_000 },
    });
  }

  async get(key: string): Promise<Uint8Array | null> {
    checkKey(key);
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return res.Body ? await res.Body.transformToByteArray() : new Uint8Array(0);
    } catch (e) {
      if (errName(e) === 'NoSuchKey') return null;
      throw this.wrap(e, 'get', key);
    }
  }

  async getRange(key: string, start: number, endExclusive: number): Promise<Uint8Array | null> {
    checkKey(key);
    checkRange(start, endExclusive);
    if (start === endExclusive) return (await this.head(key)) ? new Uint8Array(0) : null; // HTTP cannot ask for 0 bytes
    try {
      const res = await this.client.send(new GetObjectCommand({
        Bucket: this.bucket, Key: key, Range: `bytes=${start}-${endExclusive - 1}`,
      }));
      const bytes = res.Body ? await res.Body.transformToByteArray() : new Uint8Array(0);
      // A server that ignores Range answers 200 with the whole object: cut it ourselves.
      if (res.ContentRange === undefined && bytes.length > endExclusive - start) {
        return bytes.slice(start, Math.min(bytes.length, endExclusive));
      }
      return bytes;
    } catch (e) {
      if (errName(e) === 'NoSuchKey') return null;
      if (errName(e) === 'InvalidRange' || status(e) === 416) return new Uint8Array(0); // start >= size
      throw this.wrap(e, 'getRange', key);
    }
  }

  async head(key: string): Promise<ObjectInfo | null> {
    checkKey(key);
    try {
      const res = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { size: res.ContentLength ?? 0, ...(res.ETag ? { etag: res.ETag } : {}) };
    } catch (e) {
      // HEAD has no error body: a 404 is either "no key" or "no bucket"; ask which (only on misses).
      if (status(e) === 404 || errName(e) === 'NotFound' || errName(e) === 'NoSuchKey') {
        await this.requireBucket();
        return null;
      }
      throw this.wrap(e, 'head', key);
    }
  }

  async list(prefix = ''): Promise<string[]> {
    checkPrefix(prefix);
    const keys: string[] = [];
    let token: string | undefined;
    try {
      do {
        const res = await this.client.send(new ListObjectsV2Command({
          Bucket: this.bucket, Prefix: prefix || undefined, MaxKeys: this.pageSize, ContinuationToken: token,
        }));
        for (const o of res.Contents ?? []) if (o.Key !== undefined) keys.push(o.Key);
        token = res.IsTruncated ? res.NextContinuationToken : undefined;
        if (res.IsTruncated && !token) throw new StorageError('failed', `list ${this.where()}: truncated page without a continuation token`);
      } while (token);
    } catch (e) {
      throw this.wrap(e, 'list', prefix);
    }
    return keys.sort(compareKeys);
  }

  async put(key: string, bytes: Uint8Array, opts: PutOptions = {}): Promise<void> {
    checkKey(key);
    try {
      await this.client.send(new PutObjectCommand({
        Bucket: this.bucket, Key: key, Body: bytes, ContentLength: bytes.length,
        ...(opts.ifNoneMatch ? { IfNoneMatch: '*' } : {}),
      }));
    } catch (e) {
      if (opts.ifNoneMatch && (errName(e) === 'PreconditionFailed' || status(e) === 412)) {
        throw new StorageError('exists', `object ${key} already exists in ${this.where()} (ifNoneMatch)`,
          'immutable keys are written once; use a new key or drop ifNoneMatch to overwrite', e);
      }
      throw this.wrap(e, 'put', key);
    }
  }

  async putLarge(key: string, bytes: Uint8Array): Promise<void> {
    checkKey(key);
    const partSize = Math.max(this.partSize, Math.ceil(bytes.length / MAX_PARTS));
    if (bytes.length <= partSize) return this.put(key, bytes);
    let uploadId: string | undefined;
    try {
      const created = await this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key }));
      uploadId = created.UploadId;
      if (!uploadId) throw new StorageError('failed', `putLarge ${key}: server returned no UploadId`);
      const count = Math.ceil(bytes.length / partSize);
      const etags: string[] = new Array(count);
      let next = 0;
      const worker = async () => {
        for (let i = next++; i < count; i = next++) {
          const body = bytes.subarray(i * partSize, Math.min(bytes.length, (i + 1) * partSize));
          const res = await this.client.send(new UploadPartCommand({
            Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumber: i + 1, Body: body, ContentLength: body.length,
          }));
          if (!res.ETag) throw new StorageError('failed', `putLarge ${key}: part ${i + 1} returned no ETag`);
          etags[i] = res.ETag;
        }
      };
      await Promise.all(Array.from({ length: Math.min(this.concurrency, count) }, worker));
      await this.client.send(new CompleteMultipartUploadCommand({
        Bucket: this.bucket, Key: key, UploadId: uploadId,
        MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
      }));
    } catch (e) {
      if (uploadId) {
        await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }))
          .catch(() => undefined); // best effort; a lifecycle rule can clean up what is left
      }
      throw this.wrap(e, 'putLarge', key);
    }
  }

  async delete(key: string): Promise<void> {
    checkKey(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (e) {
      throw this.wrap(e, 'delete', key);
    }
  }

  /**
   * Checks first (HeadBucket), creates only when the bucket is missing. RGW checks a user's bucket quota
   * (max-buckets) before it notices that a CreateBucket names a bucket the user already owns, so a
   * node limited to its one bucket would get TooManyBuckets from a blind CreateBucket on every start.
   */
  async ensureBucket(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
      return; // exists and these credentials may use it
    } catch (e) {
      // 404: missing, create it below. 403: another owner's bucket or bad credentials; CreateBucket says which.
      // HEAD has no error body, so anything else (network, 5xx) is reported from here.
      if (status(e) !== 404 && status(e) !== 403 && errName(e) !== 'NotFound' && errName(e) !== 'NoSuchBucket') {
        throw this.wrap(e, 'head bucket', this.bucket);
      }
    }
    try {
      await this.client.send(new CreateBucketCommand({ Bucket: this.bucket }));
    } catch (e) {
      if (errName(e) === 'BucketAlreadyOwnedByYou') return; // created meanwhile by a concurrent ensureBucket
      if (errName(e) === 'BucketAlreadyExists') {
        throw new StorageError('denied', `bucket ${this.where()} already exists and belongs to someone else`,
          'choose another bucket name', e);
      }
      if (errName(e) === 'TooManyBuckets') {
        throw new StorageError('denied', `create bucket ${this.bucket} at ${this.endpoint}: these credentials may not own another bucket (TooManyBuckets)`,
          'each node user may own only its own bucket: check the bucket name in the descriptor, or raise the user\'s max-buckets', e);
      }
      throw this.wrap(e, 'create bucket', this.bucket);
    }
  }

  close(): void {
    this.client.destroy();
  }

  // --- internals ---

  private where(): string {
    return `s3 bucket ${this.bucket} at ${this.endpoint}`;
  }

  private async requireBucket(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (e) {
      throw this.wrap(status(e) === 404 ? Object.assign(new Error('NoSuchBucket'), { name: 'NoSuchBucket' }) : e, 'head', this.bucket);
    }
  }

  private wrap(e: unknown, op: string, key: string): StorageError {
    if (e instanceof StorageError) return e;
    const name = errName(e);
    const code = status(e);
    const what = `${op} ${key} on ${this.where()}`;
    const detail = `${name}${code ? ` (HTTP ${code})` : ''}`;
    if (name === 'NoSuchBucket') {
      return new StorageError('no-bucket', `${what}: the bucket does not exist`,
        'the owning node creates its bucket (ensureBucket) before publishing its descriptor; check the bucket name', e);
    }
    if (['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AuthorizationHeaderMalformed'].includes(name)) {
      return new StorageError('denied', `${what}: credentials rejected (${detail})`,
        'check the access key id and secret in the descriptor', e);
    }
    if (name === 'RequestTimeTooSkewed') {
      return new StorageError('denied', `${what}: clock skew rejected by the server`, 'sync this machine\'s clock (NTP)', e);
    }
    if (['AccessDenied', 'Forbidden', 'AllAccessDisabled', 'TooManyBuckets'].includes(name) || code === 403) {
      return new StorageError('denied', `${what}: access denied (${detail})`,
        'a node may write only its own bucket with its write credentials; published read credentials can only get/head/list', e);
    }
    const busy = code !== undefined && (code >= 500 || code === 429 || code === 408);
    if (isNetworkError(e) || busy || ['SlowDown', 'RequestTimeout', 'InternalError', 'ServiceUnavailable',
      'ConditionalRequestConflict' /* concurrent conditional writes (AWS 409): retry to learn who won */].includes(name)) {
      return new StorageError('transient', `${what}: transient failure (${detail}: ${(e as Error)?.message ?? ''})`,
        'network or server trouble: retry with backoff (withRetry); if it persists, check that the endpoint is up', e);
    }
    return new StorageError('failed', `${what} failed: ${detail}: ${(e as Error)?.message ?? e}`, undefined, e);
  }
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN',
  'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED', 'UND_ERR_SOCKET']);

function isNetworkError(e: unknown): boolean {
  const code = (e as { code?: string })?.code;
  return (code !== undefined && NETWORK_CODES.has(code)) || errName(e) === 'TimeoutError' || errName(e) === 'AbortError';
}

function errName(e: unknown): string {
  return (e as { name?: string; Code?: string })?.Code ?? (e as { name?: string })?.name ?? 'Error';
}

function status(e: unknown): number | undefined {
  return (e as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}
