// The miner's side of a replay audit (audit.ts): once window W's evaluation beacon exists (the first
// block after the upload deadline), a miner whose upload it picked puts the state its payload commits
// to in its own bucket (keys.auditState), where validators read it while they score W. Runs in the
// background after the upload; a failure is logged (the validators then find no reveal: an 'unrevealed' audit).
// Reveals are 12 bytes per parameter (30 MB for the small preset), so each reveal drops this miner's
// reveals older than REVEAL_KEEP windows (validators read one by the next window's deadline).
import { keys } from '../protocol/index.js';
import { auditChosen, encodeReveal, type Reveal } from './audit.js';
import { evalBeacon } from './chaintime.js';
import type { Node } from './node.js';
import { retrying } from './retry.js';

/** Windows a reveal stays in the miner's bucket. */
export const REVEAL_KEEP = 4;
/**
 * Uploads of a process revealed unasked: validators audit a miner that never passed an audit whenever
 * they can (weights wait for its first pass), picked by the beacon or not.
 */
export const REVEAL_FIRST = 3;
/** Per node (a devnet or bench process holds several): uploads revealed unasked so far. */
const unasked = new WeakMap<Node, number>();

/** Starts the reveal of W's state if W's beacon picks this upload (not awaited: the miner goes on). */
export function revealIfPicked(node: Node, W: number, reveal: Reveal, payload: Uint8Array): void {
  void (async () => {
    const beacon = await evalBeacon(node, W), picked = auditChosen(node.run, W, node.uid, beacon.hash);
    const n = unasked.get(node) ?? 0;
    if (!picked && n >= REVEAL_FIRST) return;
    if (!picked) unasked.set(node, n + 1);
    const bytes = encodeReveal(reveal), t0 = performance.now();
    await retrying(node, `reveal the state of window ${W}`, () => node.store.put(keys.auditState(node.run.runId, W, node.uid), bytes));
    node.log(`window ${W}: ${picked ? `picked for a replay audit by beacon block ${beacon.height}` : `one of this miner's first ${REVEAL_FIRST} uploads`}: revealed the state this upload (${payload.length} bytes) was trained from (${bytes.length} bytes in ${Math.round(performance.now() - t0)} ms)`);
    const mine = `/${keys.auditState(node.run.runId, 0, node.uid).split('/').pop()}`;
    for (const key of await node.store.list(keys.auditStates(node.run.runId))) {
      const w = Number(/\/audit\/0*(\d+)\//.exec(key)?.[1] ?? NaN);
      if (key.endsWith(mine) && w < W - REVEAL_KEEP) await node.store.delete(key);
    }
  })().catch((e: unknown) => {
    if (!node.signal?.aborted) node.log(`window ${W}: cannot reveal the state for a replay audit (${(e as Error).message}); the validators will count it unrevealed if they picked it`);
  });
}
