// The miner's side of a replay audit (audit.ts): once window W's evaluation beacon exists (the first
// block after the upload deadline), a miner whose upload it picked puts the state its payload commits
// to in its own bucket (keys.auditState), where validators read it while they score W. Runs in the
// background after the upload; a failure is logged (the validators then find no reveal: a failed audit).
import { keys } from '../protocol/index.js';
import { auditChosen, encodeReveal, type Reveal } from './audit.js';
import { evalBeacon } from './chaintime.js';
import type { Node } from './node.js';
import { retrying } from './retry.js';

/** Starts the reveal of W's state if W's beacon picks this upload (not awaited: the miner goes on). */
export function revealIfPicked(node: Node, W: number, reveal: Reveal, payload: Uint8Array): void {
  void (async () => {
    const beacon = await evalBeacon(node, W);
    if (!auditChosen(node.run, W, node.uid, beacon.hash)) return;
    const bytes = encodeReveal(reveal), t0 = performance.now();
    await retrying(node, `reveal the state of window ${W}`, () => node.store.put(keys.auditState(node.run.runId, W, node.uid), bytes));
    node.log(`window ${W}: picked for a replay audit by beacon block ${beacon.height}: revealed the state this upload (${payload.length} bytes) was trained from (${bytes.length} bytes in ${Math.round(performance.now() - t0)} ms)`);
  })().catch((e: unknown) => {
    if (!node.signal?.aborted) node.log(`window ${W}: cannot reveal the state for a replay audit (${(e as Error).message}); the validators will count the audit as failed`);
  });
}
