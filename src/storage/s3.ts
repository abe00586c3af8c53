// S3 object store (@aws-sdk/client-s3; path-style, any endpoint: Ceph RGW, Cloudflare R2, AWS).
// ifNoneMatch sends `If-None-Match: *`, which Ceph RGW 16 (Debian bookworm) honours atomically (one
// winner among concurrent writers; the rest get 412). putLarge is a multipart upload, aborted on failure.
// Reads are bounded (docs/storage.md "Limits"): every request has one deadline (StoreTuning
// requestTimeoutMs, body included) and honours the caller's AbortSignal; bodies are streamed and cut
// at the cap (getRange: the range; get: maxBytes + 1), and the bodies the SDK itself buffers (list
// pages, error replies) are capped in the request handler. A store opened for a PEER (S3PeerOptions)
// also applies the PeerPolicy: endpoint address checked at connect time and pinned, per-endpoint rate limit.
import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateBucketCommand, CreateMultipartUploadCommand,
  DeleteObjectCommand, GetObjectCommand, HeadBucketCommand, HeadObjectCommand, ListObjectsV2Command,
  PutObjectCommand, S3Client, UploadPartCommand, type GetObjectCommandOutput,
} from '@aws-sdk/client-s3';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { LookupFunction } from 'node:net';
import { Transform, type Readable } from 'node:stream';
import { checkKey, checkPrefix, checkRange, compareKeys } from './keys.js';
import { CallScope, getCap, limitsOf, listCap, readBody, tooLarge, type Limits } from './limits.js';
import { checkPeerDescriptor, endpointLimiter, guardedLookup, type PeerPolicy, type Resolver, type TokenBucket } from './policy.js';
import type { ListOptions, ObjectInfo, ObjectStore, PutOptions, ReadOptions, S3Descriptor, StoreTuning } from './types.js';
import { StorageError } from './types.js';
import { failpoint } from '../util/failpoint.js';

export const MIN_PART_SIZE = 5 << 20;
const MAX_PARTS = 10_000;
/** Cap on a response body the SDK buffers itself: a ListObjectsV2 page (1000 keys of <= 1 KiB, XML-escaped) or any other 2xx reply. */
export const MAX_SDK_BODY_BYTES = 16 << 20;
/** Cap on an error reply body (S3 error XML is a few hundred bytes). */
export const MAX_ERROR_BODY_BYTES = 1 << 20;

/** How a store for ANOTHER node's bucket is opened (open.ts openPeerStore). */
export interface S3PeerOptions {
  policy: PeerPolicy;
  /** DNS resolver for the endpoint host (tests); default dns.lookup. */
  resolve?: Resolver;
}

export class S3Store implements ObjectStore {
  readonly bucket: string;
  readonly endpoint: string;
  private readonly client: S3Client;
  private readonly pageSize: number;
  private readonly partSize: number;
  private readonly concurrency: number;
  private readonly limits: Limits;

  constructor(d: S3Descriptor, tuning: StoreTuning = {}, peer?: S3PeerOptions) {
    this.bucket = d.bucket;
    this.endpoint = d.endpoint;
    this.pageSize = tuning.listPageSize ?? 1000;
    this.partSize = tuning.partSize ?? 8 << 20;
    this.concurrency = tuning.uploadConcurrency ?? 4;
    this.limits = limitsOf(tuning);
    if (!(this.pageSize >= 1 && this.pageSize <= 1000)) throw new RangeError(`listPageSize must be 1..1000, got ${this.pageSize}`);
    if (!(this.partSize >= MIN_PART_SIZE)) throw new RangeError(`partSize must be >= 5 MiB (S3 minimum), got ${this.partSize}`);
    if (peer) checkPeerDescriptor(d, peer.policy); // before any socket exists
    // The pinned SDK warns once per process that later releases will need Node 22; this project runs
    // on Node 20 with a pinned SDK, so that warning is noise (its documented opt-out).
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    // A peer store that may not reach private addresses connects only where guardedLookup allows.
    const lookup: LookupFunction | undefined = peer && !peer.policy.allowPrivate ? guardedLookup(peer.resolve) : undefined;
    const agentOpts = { keepAlive: true, maxSockets: 50, ...(lookup ? { lookup } : {}) };
    this.client = new S3Client({
      endpoint: d.endpoint,
      region: d.region,
      forcePathStyle: true,
      credentials: { accessKeyId: d.accessKeyId, secretAccessKey: d.secretAccessKey },
      maxAttempts: tuning.sdkAttempts ?? 3,
      // Plain SigV4 bodies: older S3 servers (Ceph RGW 16) reject the SDK's default aws-chunked CRC trailers.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: {
        connectionTimeout: 5_000, requestTimeout: 60_000,
        httpAgent: new HttpAgent(agentOpts), httpsAgent: new HttpsAgent(agentOpts),
      },
    });
    boundHandler(this.client, peer ? endpointLimiter(d.endpoint, peer.policy.maxRequestsPerSecond) : null);
  }

  async get(key: string, opts: ReadOptions = {}): Promise<Uint8Array | null> {
    checkKey(key);
    const cap = getCap(opts, this.limits);
    return this.call('get', key, opts, async (scope) => {
      const res = await this.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }), scope);
      if (res === null) return null;
      const body = res.Body as Readable | undefined;
      if (!body) return new Uint8Array(0);
      if (res.ContentLength !== undefined && res.ContentLength > cap) {
        body.destroy();
        throw tooLarge(`get ${key} on ${this.where()}: the object (Content-Length ${res.ContentLength})`, cap);
      }
      const bytes = await readBody(body, cap + 1, scope, res.ContentLength);
      if (bytes.length > cap) throw tooLarge(`get ${key} on ${this.where()}`, cap);
      return bytes;
    });
  }

  async getRange(key: string, start: number, endExclusive: number, opts: ReadOptions = {}): Promise<Uint8Array | null> {
    checkKey(key);
    checkRange(start, endExclusive);
    if (start === endExclusive) return (await this.head(key, opts)) ? new Uint8Array(0) : null; // HTTP cannot ask for 0 bytes
    const want = endExclusive - start;
    return this.call('getRange', key, opts, async (scope) => {
      let res;
      try {
        res = await this.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: `bytes=${start}-${endExclusive - 1}` }), scope);
      } catch (e) {
        if (!scope.errorFor() && (errName(e) === 'InvalidRange' || status(e) === 416)) return new Uint8Array(0); // start >= size
        throw e;
      }
      if (res === null) return null;
      const body = res.Body as Readable | undefined;
      if (!body) return new Uint8Array(0);
      if (res.ContentRange === undefined && start > 0) {
        // A server that ignores Range answers 200 with the whole object; skipping to `start` would mean
        // downloading bytes nobody asked for, so such a reply is refused instead.
        body.destroy();
        throw new StorageError('failed', `getRange ${key} on ${this.where()}: the server ignored the Range header (200 with the whole object)`,
          'every S3 implementation this project supports honours Range; the endpoint is broken or hostile');
      }
      if (res.ContentRange !== undefined && !new RegExp(`^bytes ${start}-\\d+/(\\d+|\\*)$`).test(res.ContentRange)) {
        body.destroy();
        throw new StorageError('failed', `getRange ${key} on ${this.where()}: asked for bytes ${start}-${endExclusive - 1}, got Content-Range ${res.ContentRange}`,
          'the endpoint is broken or hostile');
      }
      // Never more than the range, whatever the server sends (Content-Length, Content-Range or none).
      const expected = res.ContentLength !== undefined && res.ContentLength <= want ? res.ContentLength : undefined;
      return readBody(body, want, scope, expected);
    });
  }

  async head(key: string, opts: ReadOptions = {}): Promise<ObjectInfo | null> {
    checkKey(key);
    return this.call('head', key, opts, async (scope) => {
      try {
        const res = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }), { abortSignal: scope.signal });
        return { size: res.ContentLength ?? 0, ...(res.ETag ? { etag: res.ETag } : {}) };
      } catch (e) {
        // HEAD has no error body: a 404 is either "no key" or "no bucket"; ask which (only on misses).
        if (!scope.errorFor() && (status(e) === 404 || errName(e) === 'NotFound' || errName(e) === 'NoSuchKey')) {
          await this.requireBucket(scope);
          return null;
        }
        throw e;
      }
    });
  }

  async list(prefix = '', opts: ListOptions = {}): Promise<string[]> {
    checkPrefix(prefix);
    const cap = listCap(opts, this.limits);
    const maxPages = 10 + 2 * Math.ceil(cap / this.pageSize); // a server answering "truncated" forever is cut here
    const keys: string[] = [];
    let token: string | undefined;
    for (let page = 1; ; page++) {
      if (page > maxPages) throw new StorageError('failed', `list ${prefix} on ${this.where()}: more than ${maxPages} pages for at most ${cap} keys`, 'the endpoint is broken or hostile');
      const res = await this.call('list', prefix, opts, (scope) => this.client.send(new ListObjectsV2Command({
        Bucket: this.bucket, Prefix: prefix || undefined, MaxKeys: this.pageSize, ContinuationToken: token,
      }), { abortSignal: scope.signal }));
      for (const o of res.Contents ?? []) if (o.Key !== undefined) keys.push(o.Key);
      if (keys.length > cap) throw tooLarge(`list ${prefix} on ${this.where()}`, cap, 'keys');
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
      if (res.IsTruncated && !token) throw new StorageError('failed', `list ${this.where()}: truncated page without a continuation token`);
      if (!token) break;
    }
    return keys.sort(compareKeys);
  }

  async put(key: string, bytes: Uint8Array, opts: PutOptions = {}): Promise<void> {
    checkKey(key);
    await this.call('put', key, {}, async (scope) => {
      try {
        await this.client.send(new PutObjectCommand({
          Bucket: this.bucket, Key: key, Body: bytes, ContentLength: bytes.length,
          ...(opts.ifNoneMatch ? { IfNoneMatch: '*' } : {}),
        }), { abortSignal: scope.signal });
      } catch (e) {
        if (!scope.errorFor() && opts.ifNoneMatch && (errName(e) === 'PreconditionFailed' || status(e) === 412)) {
          throw new StorageError('exists', `object ${key} already exists in ${this.where()} (ifNoneMatch)`,
            'immutable keys are written once; use a new key or drop ifNoneMatch to overwrite', e);
        }
        throw e;
      }
    }, bytes.length);
  }

  async putLarge(key: string, bytes: Uint8Array): Promise<void> {
    checkKey(key);
    const partSize = Math.max(this.partSize, Math.ceil(bytes.length / MAX_PARTS));
    if (bytes.length <= partSize) return this.put(key, bytes);
    let uploadId: string | undefined;
    try {
      const created = await this.call('putLarge', key, {}, (scope) =>
        this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key }), { abortSignal: scope.signal }));
      uploadId = created.UploadId;
      if (!uploadId) throw new StorageError('failed', `putLarge ${key}: server returned no UploadId`);
      const count = Math.ceil(bytes.length / partSize);
      const etags: string[] = new Array(count);
      let next = 0;
      const worker = async () => {
        for (let i = next++; i < count; i = next++) {
          const body = bytes.subarray(i * partSize, Math.min(bytes.length, (i + 1) * partSize));
          const res = await this.call('putLarge', `${key} part ${i + 1}`, {}, (scope) => this.client.send(new UploadPartCommand({
            Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumber: i + 1, Body: body, ContentLength: body.length,
          }), { abortSignal: scope.signal }), body.length);
          if (!res.ETag) throw new StorageError('failed', `putLarge ${key}: part ${i + 1} returned no ETag`);
          etags[i] = res.ETag;
        }
      };
      await Promise.all(Array.from({ length: Math.min(this.concurrency, count) }, worker));
      failpoint('s3.multipart');
      await this.call('putLarge', key, {}, (scope) => this.client.send(new CompleteMultipartUploadCommand({
        Bucket: this.bucket, Key: key, UploadId: uploadId,
        MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
      }), { abortSignal: scope.signal }));
    } catch (e) {
      if (uploadId) {
        const id = uploadId;
        await this.call('abort upload', key, {}, (scope) => this.client.send(
          new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: id }), { abortSignal: scope.signal }))
          .catch(() => undefined); // best effort; a lifecycle rule can clean up what is left
      }
      throw this.wrap(e, 'putLarge', key);
    }
  }

  async delete(key: string): Promise<void> {
    checkKey(key);
    await this.call('delete', key, {}, (scope) =>
      this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }), { abortSignal: scope.signal }));
  }

  /**
   * Checks first (HeadBucket), creates only when the bucket is missing. RGW checks a user's bucket quota
   * (max-buckets) before it notices that a CreateBucket names a bucket the user already owns, so a
   * node limited to its one bucket would get TooManyBuckets from a blind CreateBucket on every start.
   */
  async ensureBucket(): Promise<void> {
    const exists = await this.call('head bucket', this.bucket, {}, async (scope) => {
      try {
        await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }), { abortSignal: scope.signal });
        return true; // exists and these credentials may use it
      } catch (e) {
        // 404: missing, create it below. 403: another owner's bucket or bad credentials; CreateBucket says which.
        // HEAD has no error body, so anything else (network, 5xx) is reported from here.
        if (!scope.errorFor() && (status(e) === 404 || status(e) === 403 || errName(e) === 'NotFound' || errName(e) === 'NoSuchBucket')) return false;
        throw e;
      }
    });
    if (exists) return;
    await this.call('create bucket', this.bucket, {}, async (scope) => {
      try {
        await this.client.send(new CreateBucketCommand({ Bucket: this.bucket }), { abortSignal: scope.signal });
      } catch (e) {
        if (scope.errorFor()) throw e;
        if (errName(e) === 'BucketAlreadyOwnedByYou') return; // created meanwhile by a concurrent ensureBucket
        if (errName(e) === 'BucketAlreadyExists') {
          throw new StorageError('denied', `bucket ${this.where()} already exists and belongs to someone else`,
            'choose another bucket name', e);
        }
        if (errName(e) === 'TooManyBuckets') {
          throw new StorageError('denied', `create bucket ${this.bucket} at ${this.endpoint}: these credentials may not own another bucket (TooManyBuckets)`,
            'each node user may own only its own bucket: check the bucket name in the descriptor, or raise the user\'s max-buckets', e);
        }
        throw e;
      }
    });
  }

  close(): void {
    this.client.destroy();
  }

  // --- internals ---

  private where(): string {
    return `s3 bucket ${this.bucket} at ${this.endpoint}`;
  }

  /**
   * One request under one deadline (and the caller's signal): `fn` sends it and reads its body.
   * `sendBytes` (an upload's size) extends the deadline like received body bytes do.
   */
  private async call<T>(op: string, key: string, opts: ReadOptions, fn: (scope: CallScope) => Promise<T>, sendBytes = 0): Promise<T> {
    const scope = new CallScope(`${op} ${key} on ${this.where()}`, opts.signal, this.limits);
    scope.bytes(sendBytes);
    try {
      return await fn(scope);
    } catch (e) {
      throw scope.errorFor() ?? this.wrap(e, op, key);
    } finally {
      scope.done();
    }
  }

  /** GetObject under the scope's signal; null for NoSuchKey. The body is still to be read (readBody). */
  private async send(cmd: GetObjectCommand, scope: CallScope): Promise<GetObjectCommandOutput | null> {
    try {
      return await this.client.send(cmd, { abortSignal: scope.signal });
    } catch (e) {
      if (!scope.errorFor() && errName(e) === 'NoSuchKey') return null;
      throw e;
    }
  }

  private async requireBucket(scope: CallScope): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }), { abortSignal: scope.signal });
    } catch (e) {
      if (scope.errorFor()) throw e;
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

interface RawRequest { method: string; query?: Record<string, unknown> }
interface RawResponse { statusCode: number; body?: unknown }
type Handle = (req: RawRequest, opts?: { abortSignal?: AbortSignal }) => Promise<{ response: RawResponse }>;

/**
 * Wraps the SDK's HTTP handler (the NodeHttpHandler the client built from our options) once per HTTP
 * attempt, SDK retries included: waits for the endpoint's rate-limit token, and caps every body the SDK
 * buffers itself (list pages and other 2xx replies at MAX_SDK_BODY_BYTES, error replies at
 * MAX_ERROR_BODY_BYTES). Successful object GETs are left to readBody, which stops at the caller's cap.
 */
function boundHandler(client: S3Client, limiter: TokenBucket | null): void {
  const h = client.config.requestHandler as unknown as { handle: Handle };
  const inner = h.handle.bind(h);
  h.handle = async (req, opts = {}) => {
    if (limiter) await limiter.take(opts.abortSignal);
    const out = await inner(req, opts);
    const res = out.response;
    const ok = res.statusCode >= 200 && res.statusCode < 300;
    const objectGet = ok && req.method === 'GET' && !(req.query && 'list-type' in req.query);
    if (!objectGet && isNodeReadable(res.body)) {
      res.body = capBody(res.body, ok ? MAX_SDK_BODY_BYTES : MAX_ERROR_BODY_BYTES, opts.abortSignal);
    }
    return out;
  };
}

function isNodeReadable(x: unknown): x is Readable {
  return typeof (x as Readable)?.pipe === 'function' && typeof (x as Readable)?.destroy === 'function';
}

/** A pass-through that errors with 'too-large' past `cap` bytes (and ends the source, freeing its socket). */
function capBody(body: Readable, cap: number, signal?: AbortSignal): Readable {
  let n = 0;
  const out = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      n += chunk.length;
      if (n > cap) cb(tooLarge('S3 reply body', cap));
      else cb(null, chunk);
    },
  });
  const onAbort = (): void => void body.destroy(signal?.reason as Error);
  signal?.addEventListener('abort', onAbort, { once: true });
  body.on('error', (e) => out.destroy(e));
  out.on('error', () => body.destroy());
  out.on('close', () => signal?.removeEventListener('abort', onAbort));
  body.on('close', () => signal?.removeEventListener('abort', onAbort));
  body.pipe(out);
  return out;
}
