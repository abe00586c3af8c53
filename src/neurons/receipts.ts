// Reading a validator's score receipts from its bucket (tessera score explain, the dashboard, the
// adversarial scenario). Kept apart from scoring.ts, which loads the training code: a reader starts fast.
import { parseReceipt, type ScoreReceipt } from '../gauntlet/receipt.js';
import { PROTOCOL_VERSION, runPrefix } from '../protocol/keys.js';
import type { ReadOnlyStore } from '../storage/types.js';
import { mapPool } from '../util/pool.js';


/** Prefix under which a validator's bucket holds the score receipts of a run (keys.receipt). */
export const receiptsPrefix = (runId: string): string => `${runPrefix(runId)}/receipts/`;

/**
 * Every score receipt of `runId` in a validator's bucket, ascending by window (the reader's side of
 * keys.receipt: `tessera score explain`, the adversarial scenario). Receipts are untrusted bytes: the
 * ones that do not parse come back in `rejected` with the reason; verifyReceipt checks the numbers.
 */
export async function readReceipts(store: ReadOnlyStore, runId: string, opts: ReadReceiptsOptions = {}): Promise<{ receipts: ScoreReceipt[]; rejected: { key: string; reason: string }[] }> {
  const receipts: ScoreReceipt[] = [], rejected: { key: string; reason: string }[] = [];
  const keys = (await store.list(receiptsPrefix(runId))).filter((k) => k.endsWith('.json'));
  let done = 0;
  opts.onProgress?.(0, keys.length);
  // Several gets at a time (a remote bucket answers each in a round trip); a cached key is not read again.
  const got = await mapPool(keys, opts.concurrency ?? 8, async (key) => {
    const cached = opts.cache?.get(key);
    const r = cached ? { ok: true as const, receipt: cached } : await store.get(key).then((b) => (b ? parseReceipt(b) : null));
    opts.onProgress?.(++done, keys.length);
    return { key, r };
  });
  for (const { key, r } of got) {
    if (!r) continue; // gone between list and get
    if (r.ok) { receipts.push(r.receipt); opts.cache?.set(key, r.receipt); }
    else rejected.push({ key, reason: r.reason });
  }
  receipts.sort((a, b) => a.window - b.window);
  return { receipts, rejected };
}

export interface ReadReceiptsOptions {
  /** Receipts already read, by key (a reader that polls reads only new keys; receipts are written once per window). */
  cache?: Map<string, ScoreReceipt>;
  /** Called after each key (done, total), and once with 0 before the first. */
  onProgress?: (done: number, total: number) => void;
  /** Gets in flight at once (default 8). */
  concurrency?: number;
}

/** The run ids with receipts in the bucket (keys tessera/v<version>/<runId>/receipts/...), sorted. */
export async function runIdsIn(store: ReadOnlyStore): Promise<string[]> {
  const re = new RegExp(`^tessera/v${PROTOCOL_VERSION}/([^/]+)/receipts/`);
  return [...new Set((await store.list(`tessera/v${PROTOCOL_VERSION}/`)).map((k) => re.exec(k)?.[1]).filter((x): x is string => x !== undefined))].sort();
}
