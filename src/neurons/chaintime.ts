// The node's only sense of time: chain heights and block timestamps (docs/protocol.md "Time").
// Waiting is done by long-polling the chain for the next block, so every loop is paced by blocks.
// For planning (how many inner steps fit before a deadline) a node also estimates the chain's clock
// between blocks: the newest block seen fresh from a long poll gives chain time ≈ its timestamp at
// the local moment it arrived; the block interval comes from recent timestamps.
import { ChainError, type BlockHead } from '../chain/index.js';
import { deadlineBlockOf, uploadDeadlineMs, windowOf } from '../protocol/index.js';
import { orStop, retrying } from './retry.js';
import type { Node } from './node.js';

interface Clock {
  /** Deadlines of windows whose deadline block exists (chain ms). */
  deadlines: Map<number, number>;
  timestamps: Map<number, number>;
  /** max over fresh blocks of (block timestamp − local time of arrival): chain ms = local ms + offset. */
  offset: number | null;
  /** Recent (height, timestamp) pairs for the block interval. */
  recent: BlockHead[];
}
const clocks = new WeakMap<Node, Clock>();
function clockOf(node: Node): Clock {
  let c = clocks.get(node);
  if (!c) clocks.set(node, (c = { deadlines: new Map(), timestamps: new Map(), offset: null, recent: [] }));
  return c;
}

function observe(node: Node, h: BlockHead, fresh: boolean): void {
  const c = clockOf(node);
  node.status.note({ block: h.height });
  if (fresh) {
    const off = h.timestamp - Date.now();
    c.offset = c.offset === null ? off : Math.max(c.offset, off);
  }
  const last = c.recent[c.recent.length - 1];
  if (!last || h.height > last.height) { c.recent.push(h); if (c.recent.length > 32) c.recent.shift(); }
}

export async function chainHead(node: Node): Promise<BlockHead> {
  const h = await retrying(node, 'read chain head', () => node.chain.head());
  observe(node, h, false);
  return h;
}

export async function currentWindow(node: Node): Promise<number> {
  return windowOf((await chainHead(node)).height, node.run.blocksPerWindow);
}

/** Resolves once the chain has block `height` (long polls; a stop request ends the wait). */
export async function waitForBlock(node: Node, height: number): Promise<BlockHead> {
  for (;;) {
    // A long poll that times out (a slow window) is not an outage: poll again without a retry or a log line.
    const poll = (): Promise<BlockHead | null> => node.chain.waitForBlock(height, 20_000).catch((e: unknown) => {
      if (e instanceof ChainError && e.code === 'timeout') return null;
      throw e;
    });
    const h = await retrying(node, `wait for block ${height}`, () => orStop(poll(), node.signal));
    if (h === null) continue;
    observe(node, h, true); // an old block only lowers (ts − now): the max ignores it
    return h;
  }
}

/** Waits for the next block after the head: the unit of polling. */
export async function nextBlock(node: Node): Promise<BlockHead> {
  return waitForBlock(node, (await chainHead(node)).height + 1);
}

/**
 * Timestamp of a block (cached; 0 for a block older than the chain's timestamp history: long past).
 * A block that does not exist yet is waited for: a chain may list an anchor in the block it is about to
 * seal (the devnet serves calls journaled for the next block), and that anchor's time is the block's,
 * which comes after the head's; reading it as "long past" would count a late anchor in time on the
 * nodes that happen to read it before the block is sealed, and not on the others.
 */
export async function blockTimestamp(node: Node, height: number): Promise<number> {
  const c = clockOf(node), hit = c.timestamps.get(height);
  if (hit !== undefined) return hit;
  let ts: number;
  try {
    ts = await retrying(node, `read timestamp of block ${height}`, () => node.chain.blockTimestamp(height));
  } catch (e) {
    if (!(e instanceof ChainError && e.code === 'not_found')) throw e;
    if (height > (await chainHead(node)).height) {
      await waitForBlock(node, height);
      return blockTimestamp(node, height);
    }
    ts = 0;
  }
  c.timestamps.set(height, ts);
  if (c.timestamps.size > 4096) for (const k of [...c.timestamps.keys()].slice(0, 1024)) c.timestamps.delete(k);
  return ts;
}

/** Upload deadline of window W (chain ms); waits until the first block of W+1 exists. Cached. */
export async function deadlineOf(node: Node, window: number): Promise<number> {
  const m = clockOf(node).deadlines, hit = m.get(window);
  if (hit !== undefined) return hit;
  const b = deadlineBlockOf(window, node.run.blocksPerWindow);
  await waitForBlock(node, b);
  const ts = await blockTimestamp(node, b);
  const d = ts === 0 ? 0 : uploadDeadlineMs(ts, node.run.deadlineS); // pruned history: long past
  m.set(window, d);
  for (const k of m.keys()) if (k < window - 64) m.delete(k);
  return d;
}

/** The deadline of W if it is already known from the chain (the first block of W+1 exists), else null. */
export async function knownDeadline(node: Node, window: number, head: BlockHead): Promise<number | null> {
  return head.height >= deadlineBlockOf(window, node.run.blocksPerWindow) ? deadlineOf(node, window) : null;
}

/** Resolves with W's deadline once the chain holds a block stamped after it (W's in-time anchors are then final). */
export async function deadlinePassed(node: Node, window: number): Promise<number> {
  const deadline = await deadlineOf(node, window);
  let head = await chainHead(node);
  while (head.timestamp <= deadline) head = await nextBlock(node);
  return deadline;
}

/**
 * The evaluation beacon of window W (gauntlet/loss-score.ts evalSeed): the height and hash of the first
 * block stamped after W's upload deadline. The Gauntlet's evaluation batches derive from it, so they
 * exist only once every in-time upload has landed. Waits for that block when it is not sealed yet.
 */
export async function evalBeacon(node: Node, window: number): Promise<{ height: number; hash: string }> {
  const deadline = await deadlineOf(node, window);
  let h = deadlineBlockOf(window, node.run.blocksPerWindow);
  // The deadline block's own timestamp starts the deadline; a block older than the chain's history reads 0 (long past): skip on.
  while (await blockTimestamp(node, h) <= deadline) h++;
  const hash = await retrying(node, `read the hash of block ${h} (window ${window}'s evaluation beacon)`, () => node.chain.blockHash(h));
  return { height: h, hash };
}

/**
 * Block interval (ms): the median over consecutive recent blocks seen (a chain that paused, e.g. a
 * restart, does not stretch it); `fallback` until two are known.
 */
export function blockIntervalMs(node: Node, fallback = 1000): number {
  const r = clockOf(node).recent, per: number[] = [];
  for (let i = 1; i < r.length; i++) if (r[i]!.height > r[i - 1]!.height) per.push((r[i]!.timestamp - r[i - 1]!.timestamp) / (r[i]!.height - r[i - 1]!.height));
  if (per.length === 0) return fallback;
  per.sort((a, b) => a - b);
  return per[per.length >> 1]! > 0 ? per[per.length >> 1]! : fallback;
}

/** Chain time now (ms), estimated from the freshest block seen; null before any block was seen fresh. */
export function chainNow(node: Node): number | null {
  const off = clockOf(node).offset;
  return off === null ? null : Date.now() + off;
}

/**
 * W's deadline in chain ms: exact once W+1's first block exists, else projected from the head and the
 * block interval. The projection errs late by at most the chain's jitter; planners keep a margin.
 */
export async function expectedDeadline(node: Node, window: number): Promise<number> {
  const head = await chainHead(node);
  const known = await knownDeadline(node, window, head);
  if (known !== null) return known;
  const blocks = deadlineBlockOf(window, node.run.blocksPerWindow) - head.height;
  return head.timestamp + blocks * blockIntervalMs(node) + Math.round(node.run.deadlineS * 1000);
}
