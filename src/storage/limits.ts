// Per-call limits shared by the stores (docs/storage.md "Limits"): one deadline per request that also
// covers reading the body, the caller's AbortSignal, and body reading that stops at a cap instead of
// buffering whatever a server sends.
import type { Readable } from 'node:stream';
import {
  DEFAULT_MAX_LIST_KEYS, DEFAULT_MAX_OBJECT_BYTES, DEFAULT_MIN_BYTES_PER_SECOND, DEFAULT_REQUEST_TIMEOUT_MS, StorageError,
  type ListOptions, type ReadOptions, type StoreTuning,
} from './types.js';

export interface Limits {
  requestTimeoutMs: number;
  minBytesPerSecond: number;
  maxObjectBytes: number;
  maxListKeys: number;
}

export function limitsOf(t: StoreTuning): Limits {
  const l: Limits = {
    requestTimeoutMs: t.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
    minBytesPerSecond: t.minBytesPerSecond ?? DEFAULT_MIN_BYTES_PER_SECOND,
    maxObjectBytes: t.maxObjectBytes ?? DEFAULT_MAX_OBJECT_BYTES,
    maxListKeys: t.maxListKeys ?? DEFAULT_MAX_LIST_KEYS,
  };
  if (!(l.requestTimeoutMs > 0)) throw new RangeError(`requestTimeoutMs must be > 0, got ${l.requestTimeoutMs}`);
  if (!(l.minBytesPerSecond > 0)) throw new RangeError(`minBytesPerSecond must be > 0, got ${l.minBytesPerSecond}`);
  checkCount('maxObjectBytes', l.maxObjectBytes);
  checkCount('maxListKeys', l.maxListKeys);
  return l;
}

function checkCount(name: string, v: number): void {
  if (!(Number.isSafeInteger(v) && v >= 0)) throw new RangeError(`${name} must be an integer >= 0, got ${v}`);
}

/** The byte cap of a get(): opts.maxBytes, else the store's maxObjectBytes. */
export function getCap(opts: ReadOptions, l: Limits): number {
  if (opts.maxBytes === undefined) return l.maxObjectBytes;
  checkCount('maxBytes', opts.maxBytes);
  return opts.maxBytes;
}

/** The key cap of a list(): the smaller of opts.maxKeys and opts.maxBytes, else the store's maxListKeys. */
export function listCap(opts: ListOptions, l: Limits): number {
  if (opts.maxKeys !== undefined) checkCount('maxKeys', opts.maxKeys);
  if (opts.maxBytes !== undefined) checkCount('maxBytes', opts.maxBytes);
  if (opts.maxKeys === undefined && opts.maxBytes === undefined) return l.maxListKeys;
  return Math.min(opts.maxKeys ?? Infinity, opts.maxBytes ?? Infinity);
}

export function tooLarge(what: string, cap: number, unit = 'bytes'): StorageError {
  return new StorageError('too-large', `${what}: more than ${cap} ${unit}; refused`,
    `the caller's cap (maxBytes/maxKeys) or the store's default (StoreTuning.maxObjectBytes/maxListKeys) was exceeded; the object is bigger than expected or the server is hostile`);
}

/**
 * One request's lifetime: a deadline of requestTimeoutMs, extended by one second per minBytesPerSecond
 * body bytes received (a body arriving at least that fast may take as long as it needs; a drip is cut at
 * the deadline), and the caller's signal. `signal` fires on either; errorFor() names which.
 */
export class CallScope {
  private readonly ctl = new AbortController();
  private readonly start = performance.now();
  private credit = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private ended: 'timeout' | 'aborted' | undefined;
  private readonly onCaller = (): void => this.end('aborted');

  constructor(private readonly what: string, private readonly caller: AbortSignal | undefined, private readonly l: Limits) {
    if (caller?.aborted) this.end('aborted');
    else {
      caller?.addEventListener('abort', this.onCaller, { once: true });
      this.arm(l.requestTimeoutMs);
    }
  }

  get signal(): AbortSignal {
    return this.ctl.signal;
  }

  /** Credit n body bytes (received, or about to be sent) against the deadline. */
  bytes(n: number): void {
    this.credit += n;
  }

  /** The StorageError this call ends with when its deadline or the caller's signal ended it, else undefined. */
  errorFor(): StorageError | undefined {
    if (this.ended === 'aborted') {
      return new StorageError('aborted', `${this.what}: aborted by the caller`, 'the caller\'s AbortSignal fired; nothing to fix here', this.caller?.reason);
    }
    if (this.ended === 'timeout') {
      const ms = Math.round(performance.now() - this.start);
      return new StorageError('timeout', `${this.what}: no complete answer within ${ms} ms (the store's request deadline)`,
        'the server is down, slow or dripping bytes; retried with backoff; raise StoreTuning.requestTimeoutMs for slow links');
    }
    return undefined;
  }

  /** Clears the timer and the caller listener; call once the request (body included) is done. */
  done(): void {
    clearTimeout(this.timer);
    this.caller?.removeEventListener('abort', this.onCaller);
  }

  private deadline(): number {
    return this.start + this.l.requestTimeoutMs + (this.credit / this.l.minBytesPerSecond) * 1000;
  }

  private arm(ms: number): void {
    this.timer = setTimeout(() => {
      const left = this.deadline() - performance.now();
      if (left > 1) this.arm(left);
      else this.end('timeout');
    }, ms);
  }

  private end(kind: 'timeout' | 'aborted'): void {
    if (this.ended) return;
    this.ended = kind;
    clearTimeout(this.timer);
    const e = new Error(kind === 'timeout' ? 'storage request deadline' : 'aborted by the caller');
    e.name = 'AbortError';
    this.ctl.abort(e);
  }
}

/**
 * Reads at most `take` bytes of a body, then destroys the stream (an endless body costs at most `take`
 * bytes of memory plus one socket chunk). `expected` (Content-Length) lets it allocate once.
 */
export async function readBody(stream: Readable, take: number, scope: CallScope, expected?: number): Promise<Uint8Array> {
  const onAbort = (): void => void stream.destroy(scope.signal.reason as Error);
  scope.signal.addEventListener('abort', onAbort, { once: true });
  let out = new Uint8Array(expected !== undefined && expected <= take ? expected : Math.min(take, 64 << 10));
  let n = 0;
  try {
    if (scope.signal.aborted) throw scope.signal.reason;
    if (take === 0) return new Uint8Array(0);
    for await (const chunk of stream) {
      const c = chunk as Uint8Array;
      scope.bytes(c.length);
      const use = Math.min(c.length, take - n);
      if (n + use > out.length) {
        const grown = new Uint8Array(Math.min(take, Math.max(n + use, out.length * 2)));
        grown.set(out.subarray(0, n));
        out = grown;
      }
      out.set(use === c.length ? c : c.subarray(0, use), n);
      n += use;
      if (n >= take) break; // leaving the loop destroys the stream: nothing past `take` is read
    }
  } finally {
    scope.signal.removeEventListener('abort', onAbort);
    if (!stream.destroyed) stream.destroy();
  }
  return n === out.length ? out : out.slice(0, n);
}
