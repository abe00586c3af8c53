// Outages never crash a node: chain and storage calls are retried with capped exponential backoff
// (status phase 'retry', lastError set) until they succeed or the node is stopped. A stop request
// surfaces as a Stopped error that unwinds the loop to its clean exit.
import { ChainError } from '../chain/index.js';
import { isTransient } from '../storage/index.js';
import type { StatusBoard } from './status.js';

export class Stopped extends Error {
  constructor() {
    super('node stopped');
    this.name = 'Stopped';
  }
}

export function throwIfStopped(signal: AbortSignal): void {
  if (signal.aborted) throw new Stopped();
}

/** Resolves after ms; rejects with Stopped as soon as the signal aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(new Stopped());
  return new Promise((resolve, reject) => {
    const done = (): void => { signal.removeEventListener('abort', onAbort); resolve(); };
    const onAbort = (): void => { clearTimeout(t); reject(new Stopped()); };
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Races a promise with the stop signal (the promise itself keeps running; its result is dropped). */
export function orStop<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new Stopped());
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new Stopped());
    signal.addEventListener('abort', onAbort, { once: true });
    p.then((v) => { signal.removeEventListener('abort', onAbort); resolve(v); },
      (e: unknown) => { signal.removeEventListener('abort', onAbort); reject(e); });
  });
}

/** Network trouble worth waiting out: storage 'transient', chain unavailable/timeout/rate limit, socket errors. */
export function isOutage(e: unknown): boolean {
  if (isTransient(e)) return true;
  if (e instanceof ChainError) return e.code === 'unavailable' || e.code === 'timeout' || e.code === 'rate_limited';
  const code = (e as { code?: unknown; cause?: { code?: unknown } })?.cause?.code ?? (e as { code?: unknown })?.code;
  return (e instanceof TypeError && /fetch failed/i.test(e.message)) || ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN'].includes(String(code));
}

export interface RetryContext {
  signal: AbortSignal;
  status: StatusBoard;
  log: (s: string) => void;
}

export const BACKOFF_BASE_MS = 250;
export const BACKOFF_MAX_MS = 10_000;
export const backoffMs = (attempt: number): number => Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.min(attempt, 20));

/**
 * Runs fn until it succeeds. Outages (isOutage, or any error when `retryAll`) are retried with capped
 * exponential backoff while status shows 'retry'; other errors propagate.
 */
export async function retrying<T>(ctx: RetryContext, what: string, fn: () => Promise<T>, opts: { retryAll?: boolean } = {}): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    throwIfStopped(ctx.signal);
    try {
      const v = await fn();
      if (attempt > 0) ctx.log(`${what}: recovered after ${attempt} retr${attempt === 1 ? 'y' : 'ies'}`);
      return v;
    } catch (e) {
      if (e instanceof Stopped || ctx.signal.aborted) throw new Stopped();
      if (!opts.retryAll && !isOutage(e)) throw e;
      const delay = backoffMs(attempt);
      const msg = `${what} failed (${(e as Error).message}); retrying in ${delay} ms`;
      const prev = ctx.status.phase;
      ctx.status.set('retry', { lastError: msg });
      if (attempt === 0 || attempt % 5 === 0) ctx.log(msg);
      await sleep(delay, ctx.signal);
      ctx.status.set(prev === 'retry' ? 'idle' : prev);
    }
  }
}
