// The node's only sense of time: chain heights and block timestamps (protocol.md "Time"). Waiting is
// done by long-polling the chain for the next block, so every loop is paced by blocks.
import { ChainError, type BlockHead } from '../chain/index.js';
import { deadlineBlockOf, uploadDeadlineMs, windowOf } from '../protocol/index.js';
import { orStop, retrying } from './retry.js';
import type { Node } from './node.js';

const deadlines = new WeakMap<Node, Map<number, number>>();

export async function chainHead(node: Node): Promise<BlockHead> {
  const h = await retrying(node, 'read chain head', () => node.chain.head());
  node.status.note({ block: h.height });
  return h;
}

export async function currentWindow(node: Node): Promise<number> {
  return windowOf((await chainHead(node)).height, node.run.blocksPerWindow);
}

/** Resolves once the chain has block `height` (long polls; a stop request ends the wait). */
export async function waitForBlock(node: Node, height: number): Promise<BlockHead> {
  for (;;) {
    try {
      const h = await retrying(node, `wait for block ${height}`, () => orStop(node.chain.waitForBlock(height, 20_000), node.signal));
      node.status.note({ block: h.height });
      return h;
    } catch (e) {
      if (!(e instanceof ChainError && e.code === 'timeout')) throw e;
    }
  }
}

/** Waits for the next block after the head: the unit of polling. */
export async function nextBlock(node: Node): Promise<BlockHead> {
  return waitForBlock(node, (await chainHead(node)).height + 1);
}

/** Upload deadline of window W (chain ms); waits until the first block of W+1 exists. Cached. */
export async function deadlineOf(node: Node, window: number): Promise<number> {
  let m = deadlines.get(node);
  if (!m) deadlines.set(node, (m = new Map()));
  const hit = m.get(window);
  if (hit !== undefined) return hit;
  const b = deadlineBlockOf(window, node.run.blocksPerWindow);
  await waitForBlock(node, b);
  let d: number;
  try {
    d = uploadDeadlineMs(await retrying(node, `read timestamp of block ${b}`, () => node.chain.blockTimestamp(b)), node.run.deadlineS);
  } catch (e) {
    // Pruned timestamp history: the window is so old that its deadline is long past.
    if (!(e instanceof ChainError && e.code === 'not_found')) throw e;
    d = 0;
  }
  m.set(window, d);
  for (const k of m.keys()) if (k < window - 64) m.delete(k);
  return d;
}

/** The deadline of W if it is already known from the chain (the first block of W+1 exists), else null. */
export async function knownDeadline(node: Node, window: number, head: BlockHead): Promise<number | null> {
  return head.height >= deadlineBlockOf(window, node.run.blocksPerWindow) ? deadlineOf(node, window) : null;
}
