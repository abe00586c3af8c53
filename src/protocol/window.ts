// Window arithmetic on the chain's clock (docs/protocol.md "Time"): window = floor(block / blocksPerWindow);
// a gradient for window W is due by the chain timestamp of the first block of W+1 plus deadlineS.
// Pure: heights and timestamps come from the chain, never from a local clock.

const checkInt = (name: string, v: number, min: number): void => {
  if (!Number.isSafeInteger(v) || v < min) throw new RangeError(`${name} must be an integer ≥ ${min}, got ${v}`);
};

/** The window a block belongs to. */
export function windowOf(block: number, blocksPerWindow: number): number {
  checkInt('block', block, 0);
  checkInt('blocksPerWindow', blocksPerWindow, 1);
  return Math.floor(block / blocksPerWindow);
}

/** First block of window W. */
export function firstBlockOf(window: number, blocksPerWindow: number): number {
  checkInt('window', window, 0);
  checkInt('blocksPerWindow', blocksPerWindow, 1);
  return window * blocksPerWindow;
}

/** The block whose timestamp starts window W's upload deadline: the first block of W+1. */
export function deadlineBlockOf(window: number, blocksPerWindow: number): number {
  return firstBlockOf(window + 1, blocksPerWindow);
}

/**
 * Upload deadline of window W in ms since the epoch (chain time): the timestamp of the first block
 * of W+1 (read from the chain by the caller) plus deadlineS seconds.
 */
export function uploadDeadlineMs(firstBlockOfNextTimestampMs: number, deadlineS: number): number {
  if (!Number.isFinite(firstBlockOfNextTimestampMs)) throw new RangeError(`block timestamp must be finite, got ${firstBlockOfNextTimestampMs}`);
  if (!Number.isFinite(deadlineS) || deadlineS < 0) throw new RangeError(`deadlineS must be ≥ 0, got ${deadlineS}`);
  return firstBlockOfNextTimestampMs + Math.round(deadlineS * 1000);
}

/**
 * Whether an object observed to have landed at `landedAtMs` (chain time; see gather's watch: the
 * earliest chain time at which it could have landed) missed the deadline.
 */
export function isLate(landedAtMs: number, deadlineMs: number): boolean {
  return landedAtMs > deadlineMs;
}
