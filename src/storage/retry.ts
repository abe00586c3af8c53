// Retry with exponential backoff for transient storage errors (network trouble, 5xx, throttling).
// Delays are deterministic (no Math.random jitter); pass your own `sleep` to add jitter.
import { isTransient } from './types.js';

export interface RetryOptions {
  /** Total tries, including the first (default 4). */
  attempts?: number;
  /** Delay before the 2nd try; doubles each time (default 200 ms). */
  baseMs?: number;
  /** Cap on one delay (default 10 s). */
  maxMs?: number;
  /** Which errors to retry (default: StorageErrors with code 'transient'). */
  retryIf?: (e: unknown) => boolean;
  /** Called before each wait, e.g. to log. */
  onRetry?: (e: unknown, attempt: number, delayMs: number) => void;
  /** Injected for tests. */
  sleep?: (ms: number) => Promise<void>;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function backoffDelay(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** (attempt - 1));
}

/** Runs fn(attempt = 1, 2, ...) until it succeeds, a non-retryable error occurs, or attempts run out. */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const attempts = opts.attempts ?? 4;
  const baseMs = opts.baseMs ?? 200;
  const maxMs = opts.maxMs ?? 10_000;
  const retryIf = opts.retryIf ?? isTransient;
  const sleep = opts.sleep ?? defaultSleep;
  if (!Number.isInteger(attempts) || attempts < 1) throw new RangeError(`withRetry: attempts must be >= 1, got ${attempts}`);
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (e) {
      if (attempt >= attempts || !retryIf(e)) throw e;
      const delay = backoffDelay(attempt, baseMs, maxMs);
      opts.onRetry?.(e, attempt, delay);
      await sleep(delay);
    }
  }
}
