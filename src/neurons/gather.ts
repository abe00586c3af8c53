// Validator: gather every miner's upload of window W once the chain is past W's deadline. What counts
// is the chain's anchors (window-aggregate.ts windowAnchors): anchored in time → fetched from the
// miner's bucket and verified against the anchored digest; anchored after the deadline → late; not
// anchored → missing. Rejections carry a reason and detail (the Gauntlet penalizes them); nothing
// here throws on peer data, and the result does not depend on when this validator was running.
import type { SparseUpdate } from '../compress/index.js';
import type { VerifyReason } from '../protocol/index.js';
import type { Directory } from './directory.js';
import type { Stopwatch } from './status.js';
import { fetchVerified, type Fetched, type WindowAnchors } from './window-aggregate.js';
import { blockTimestamp } from './chaintime.js';
import type { Node } from './node.js';
import { mapPool } from './peer-read.js';

/** Uploads fetched at once while gathering. */
export const GATHER_CONCURRENCY = 4;

export interface Verified {
  uid: number;
  update: SparseUpdate;
  sha256: string;
  bytes: number;
  /** Inner steps the payload states. */
  steps: number;
  /** The payload's state commitment (neurons/audit.ts), null when it carries none. */
  stateCommitment: string | null;
  /** Timestamp of the block that included the anchor, and the chain's order of observation of it (observationOrder; copies.ts). */
  landedAt: number;
  seen: number;
}

export type Rejection = VerifyReason | 'missing' | 'late';

export interface Gathered {
  valid: Verified[];
  rejected: Map<number, { reason: Rejection; detail: string }>;
  /** Every fetch result by uid (reused for the window's aggregate). */
  fetched: Map<number, Fetched>;
}

/** Downloads and verifies the in-time uploads of `uids`; classifies the others. */
export async function gatherUploads(node: Node, dir: Directory, anchors: WindowAnchors, uids: readonly number[], sw: Stopwatch): Promise<Gathered> {
  node.status.set('gather', { window: anchors.window });
  const out: Gathered = { valid: [], rejected: new Map(), fetched: new Map() };
  // Several at a time: a bucket that does not answer costs its own time budget (peer-read.ts), not the others'.
  const results = await mapPool(uids, GATHER_CONCURRENCY, (uid) => fetchVerified(node, dir, anchors, uid, undefined, sw));
  for (const f of results) {
    const uid = f.uid;
    out.fetched.set(uid, f);
    if (f.ok) {
      const block = anchors.block.get(uid)!;
      out.valid.push({ uid, update: f.update, sha256: f.sha256, bytes: f.bytes, steps: f.steps, stateCommitment: f.stateCommitment, landedAt: await blockTimestamp(node, block), seen: anchors.order.get(uid) ?? block });
    } else {
      const reason: Rejection = anchors.late.has(uid) ? 'late' : f.reason;
      out.rejected.set(uid, { reason, detail: f.detail });
      if (reason !== 'missing' || f.detail.includes('bucket')) node.log(`window ${anchors.window}: rejected uid ${uid}: ${reason} (${f.detail})`);
    }
  }
  const missing = [...out.rejected].filter(([, r]) => r.reason === 'missing').map(([u]) => u);
  node.log(`window ${anchors.window}: ${out.valid.length} valid upload(s)${missing.length ? `, missing: ${missing.join(' ')}` : ''}`);
  return out;
}
